#!/bin/sh
# PostgreSQL's first start in docker-compose.yml (/docker-entrypoint-initdb.d, run as the postgres
# user after the database and the timescaledb extension exist): the login roles of the admin and
# analytics services, as scripts/stack.sh makes them in local mode (scripts/pg-roles.sql). The
# passwords come from the init service (scripts/pack-stack-init.sh); they are base64url, so SQL
# needs no quoting, and they reach awk through its environment and psql through stdin, never argv.
set -eu

pw() { # role
  f="/run/kon-pg/pg-$1.pw"
  [ -s "$f" ] || {
    echo "kon-pg-init: $f is missing (did the init service run?)" >&2
    exit 1
  }
  cat "$f"
}

KON_ADMIN_PW="$(pw admin)" KON_ANALYTICS_PW="$(pw analytics)" awk '{
  gsub(/\{\{DATABASE\}\}/, ENVIRON["POSTGRES_DB"])
  gsub(/\{\{ADMIN_PW\}\}/, ENVIRON["KON_ADMIN_PW"])
  gsub(/\{\{ANALYTICS_PW\}\}/, ENVIRON["KON_ANALYTICS_PW"])
  print
}' "${KON_PG_ROLES_SQL:-/etc/kon/pg-roles.sql}" |
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" --quiet >/dev/null
echo "kon-pg-init: roles kon_admin and kon_analytics ready in $POSTGRES_DB"
