#!/bin/sh
# The init service of docker-compose.yml (the image's `init` command), run as root before anything
# else starts, every `compose up`:
# - gives each service its own secrets volume, holding only what it needs, owned by the services'
#   user (uid 10001), 0400. Compose's own file secrets are bind mounts that keep the host's owner
#   and mode (0600, the host user), which a non-root container user cannot read;
# - makes the admin's token-signing key once (the monitor and analytics get its public half);
# - makes the database passwords of the admin and analytics roles once (kept in a volume), hands
#   them to PostgreSQL's first start (scripts/pack-pg-init.sh) and writes each service's URL;
# - seeds an empty config folder from examples/config (as `make up` does) and lets the services'
#   group write it (the admin commits into it, the loader keeps its intents there).
# Reads the host's .stack/secrets (made by scripts/stack.sh: `make up` in docker mode) at /host-secrets.
set -eu

# The paths are the mounts of docker-compose.yml; cli/test/pack-compose-init.test.ts points them at
# temporary directories.
HOST="${KON_INIT_HOST_SECRETS:-/host-secrets}"
OUT="${KON_INIT_OUT:-/run/kon-init}"
STATE="${KON_INIT_STATE:-/var/lib/kon-init}"
CONFIG="${KON_INIT_CONFIG:-/config}"
APP="${KON_APP_DIR:-/app}"
UID_GID=10001:10001
DB="${KON_PG_DATABASE:-konorkestra}"
GROUP="${KON_GROUP:-demo}"

die() {
  printf 'kon-init: %s\n' "$*" >&2
  exit 1
}
log() { printf 'kon-init: %s\n' "$*" >&2; }

need() { # file in $HOST
  [ -s "$HOST/$1" ] || die "$HOST/$1 is missing: run 'make up' (scripts/stack.sh makes .stack/secrets), then compose up"
}

random_secret() { # file: made once, 0600
  [ -s "$1" ] || (umask 077 && node -e 'process.stdout.write(require("node:crypto").randomBytes(24).toString("base64url"))' >"$1")
}

# Empties a service's volume and makes it the services' user's, readable by it alone.
reset_dir() { # dir
  mkdir -p "$1"
  find "$1" -mindepth 1 -delete
  chown "$UID_GID" "$1"
  chmod 0500 "$1"
}

put() { # dir name content-file
  cp "$3" "$1/$2"
  chown "$UID_GID" "$1/$2"
  chmod 0400 "$1/$2"
}

put_text() { # dir name text
  (umask 077 && printf '%s' "$3" >"$1/$2")
  chown "$UID_GID" "$1/$2"
  chmod 0400 "$1/$2"
}

for f in nats-admin.nk nats-callout-issuer.nk nats-system.nk nats-config-loader.nk nats-monitor.nk \
  nats-analytics.nk loader-webhook.secret redis.pw; do
  need "$f"
done

mkdir -p "$STATE"
chmod 0700 "$STATE"
random_secret "$STATE/pg-admin.pw"
random_secret "$STATE/pg-analytics.pw"
# The admin's token-signing key, made by the admin's own code; the monitor and analytics get only
# its public half. The admin finds both files and writes nothing into its read-only volume.
node -e 'require(process.argv[1]).loadSigningKey(process.argv[2])' \
  "$APP/admin/dist/secrets/signing-key.js" "$STATE/admin-signing-key.pem"
pg_url() { # role password-file
  echo "postgres://kon_$1:$(cat "$2")@postgres:5432/$DB"
}

reset_dir "$OUT/admin"
put "$OUT/admin" nats.nk "$HOST/nats-admin.nk"
put "$OUT/admin" nats-callout-issuer.nk "$HOST/nats-callout-issuer.nk"
put "$OUT/admin" nats-system.nk "$HOST/nats-system.nk"
put "$OUT/admin" admin-signing-key.pem "$STATE/admin-signing-key.pem"
put "$OUT/admin" admin-signing-key.pem.pub "$STATE/admin-signing-key.pem.pub"
put_text "$OUT/admin" pg.url "$(pg_url admin "$STATE/pg-admin.pw")"

reset_dir "$OUT/config-loader"
put "$OUT/config-loader" nats.nk "$HOST/nats-config-loader.nk"
put "$OUT/config-loader" webhook.secret "$HOST/loader-webhook.secret"

reset_dir "$OUT/monitor"
put "$OUT/monitor" nats.nk "$HOST/nats-monitor.nk"
put "$OUT/monitor" admin-signing-key.pem.pub "$STATE/admin-signing-key.pem.pub"
put_text "$OUT/monitor" redis.url "redis://:$(cat "$HOST/redis.pw")@redis:6379"

reset_dir "$OUT/analytics"
put "$OUT/analytics" nats.nk "$HOST/nats-analytics.nk"
put "$OUT/analytics" admin-signing-key.pem.pub "$STATE/admin-signing-key.pem.pub"
put_text "$OUT/analytics" pg.url "$(pg_url analytics "$STATE/pg-analytics.pw")"

reset_dir "$OUT/examples"
if [ -s "$HOST/group-$GROUP.joinkey" ]; then
  put "$OUT/examples" joinkey "$HOST/group-$GROUP.joinkey"
else
  log "no join key for group $GROUP yet (make demo makes one): the examples profile cannot start"
fi

# PostgreSQL reads these at its first start only, as its own user: 0444 in a volume no other
# service mounts.
mkdir -p "$OUT/postgres"
cp "$STATE/pg-admin.pw" "$STATE/pg-analytics.pw" "$OUT/postgres/"
chmod 0555 "$OUT/postgres"
chmod 0444 "$OUT/postgres/pg-admin.pw" "$OUT/postgres/pg-analytics.pw"

if [ -z "$(ls -A "$CONFIG")" ]; then
  cp -r "$APP/examples/config/." "$CONFIG/"
  log "config folder seeded from examples/config"
fi
# Group write for the services' user, the owner unchanged (the host user keeps editing it).
chgrp -R 10001 "$CONFIG"
chmod -R g+rwX "$CONFIG"
find "$CONFIG" -type d -exec chmod g+s {} +
log "secrets and config folder ready"
