#!/bin/sh
# Entry point of the Konorkestra image (Dockerfile): the first argument names what to run.
#   admin | config-loader | monitor | analytics | service1 | service2 | service3 | demo
#       the service's built entry point (dist/main.js), with the remaining arguments
#   kon [args...]     the command line
#   init              prepare secrets and the config folder for docker-compose.yml (as root)
#   healthz PORT      exit 0 when http://127.0.0.1:PORT/healthz answers 2xx (compose health checks)
#   help              this text
# Secrets stay out of the compose file and `docker inspect`: VAR_FILE names a file whose content
# becomes VAR, for the variables whose values hold a password (KON_PG_URL, KON_DATABASE_URL,
# KON_REDIS_URL) or a key (KON_JOIN_KEY).
# KON_ENTRYPOINT_DRY_RUN=1 prints the entry point and the variables read from files instead of
# running it (cli/test/pack-compose.test.ts);
# KON_APP_DIR is where the workspaces are (default /app).
set -eu

APP="${KON_APP_DIR:-/app}"

die() {
  printf 'kon-entrypoint: %s\n' "$*" >&2
  exit 2
}

usage() {
  sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'
}

entry_of() { # service -> entry point relative to $APP
  case "$1" in
    admin) echo admin/dist/main.js ;;
    config-loader) echo config-loader/dist/main.js ;;
    monitor | heartbeat) echo heartbeat/dist/main.js ;;
    analytics) echo analytics/dist/main.js ;;
    service1 | service2 | service3) echo "servicepool/dist/$1/main.js" ;;
    demo) echo servicepool/dist/demo/main.js ;;
    kon) echo cli/dist/bin.js ;;
    *) return 1 ;;
  esac
}

loaded=""
secrets_from_files() {
  for var in KON_PG_URL KON_DATABASE_URL KON_REDIS_URL KON_JOIN_KEY; do
    eval "file=\${${var}_FILE:-}"
    [ -n "$file" ] || continue
    [ -r "$file" ] || die "${var}_FILE: cannot read $file as uid $(id -u) (did the init service run?)"
    value="$(cat "$file")"
    export "$var=$value"
    unset "${var}_FILE"
    loaded="$loaded $var"
  done
}

cmd="${1:-help}"
[ $# -gt 0 ] && shift
case "$cmd" in
  help | -h | --help)
    usage
    exit 0
    ;;
  init) exec sh "$APP/scripts/pack-stack-init.sh" "$@" ;;
  healthz)
    port="${1:?usage: healthz PORT}"
    exec node -e 'fetch(`http://127.0.0.1:${process.argv[1]}/healthz`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))' "$port"
    ;;
esac
entry="$(entry_of "$cmd")" || die "unknown service '$cmd' (admin, config-loader, monitor, analytics, service1-3, demo, kon, init, healthz, help)"
[ -f "$APP/$entry" ] || die "$APP/$entry is missing: the image was built without it"
secrets_from_files
if [ -n "${KON_ENTRYPOINT_DRY_RUN:-}" ]; then
  echo "$APP/$entry"
  echo "from files:$loaded"
  exit 0
fi
exec node "$APP/$entry" "$@"
