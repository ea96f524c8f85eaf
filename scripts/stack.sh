#!/usr/bin/env bash
# The local stack: NATS (JetStream + monitoring), PostgreSQL + TimescaleDB, Redis on loopback.
#   scripts/stack.sh up|down|restart|status|logs [name]|examples|first-admin
# Data lives under .stack/data and survives restarts; logs under .stack/logs. With a Docker engine
# that answers (or KON_STACK_MODE=docker), the same verbs drive docker-compose.yml instead.
set -euo pipefail

ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STACK="${KON_STACK_DIR:-$ROOT_DIR/.stack}"
DATA="$STACK/data"
LOGS="$STACK/logs"
ENV_FILE="$STACK/stack.env"

NATS_PORT="${KON_NATS_PORT:-4222}"
NATS_MONITOR_PORT="${KON_NATS_MONITOR_PORT:-8222}"
PG_PORT="${KON_PG_PORT:-5432}"
# The superuser's password: KON_PG_PASSWORD, else .stack/secrets/pg-kon.pw (random, made at the
# first `make up`; a data directory from before that keeps its old password "kon").
PG_PASSWORD="${KON_PG_PASSWORD:-}"
PG_DATABASE="${KON_PG_DATABASE:-konorkestra}"
REDIS_PORT="${KON_REDIS_PORT:-6379}"
SERVERS=(nats postgres redis)
GROUP="${KON_GROUP:-demo}"
CONFIG_DIR="${KON_CONFIG_DIR:-$STACK/config}"
# Keys, passwords and tokens (0700; files 0600), and the local CA with its certificates.
SECRETS="$STACK/secrets"
TLS_DIR="$STACK/tls"
# KON_NATS_MTLS=on makes NATS require a client certificate from every client (mutual TLS): the
# system services present theirs; members then need one too (see docs/security.md).
NATS_MTLS="${KON_NATS_MTLS:-off}"
# The project's services: name, built entry point, HTTP port. Started after the servers, from
# dist/ (make build); an entry that is not built yet is skipped with a note.
SERVICES=(
  "admin admin/dist/main.js ${KON_ADMIN_PORT:-7004}"
  "config-loader config-loader/dist/main.js ${KON_LOADER_PORT:-7001}"
  "heartbeat heartbeat/dist/main.js ${KON_MONITOR_PORT:-7002}"
  "analytics analytics/dist/main.js ${KON_ANALYTICS_PORT:-7003}"
)
# The example services join group $GROUP with its join key, which `make demo` obtains from the
# admin service (the seed's walk: bootstrap admin, create group, join key) and keeps in
# $SECRETS/group-$GROUP.joinkey. Without that file they are not started.
EXAMPLES=(
  "service1 servicepool/dist/service1/main.js 7101"
  "service2 servicepool/dist/service2/main.js 7102"
  "service3 servicepool/dist/service3/main.js 7103"
)
JOIN_KEY_FILE="$SECRETS/group-$GROUP.joinkey"

log() { printf 'stack: %s\n' "$*" >&2; }
die() { printf 'stack: error: %s\n' "$*" >&2; exit 1; }

stack_mode() {
  case "${KON_STACK_MODE:-auto}" in
    docker | local) echo "$KON_STACK_MODE" ;;
    auto) if command -v docker >/dev/null && timeout 5 docker info >/dev/null 2>&1; then echo docker; else echo local; fi ;;
    *) die "KON_STACK_MODE must be auto, local or docker" ;;
  esac
}

load_env() {
  [ -f "$ENV_FILE" ] || die "no $ENV_FILE: run 'make deps' first"
  # shellcheck disable=SC1090
  . "$ENV_FILE"
}

# Sets PREFIX to what runs a server-side command the way deps.sh found it: in its chroot as its
# user (numeric ids from the chroot's passwd), or nothing to run it directly.
PREFIX=()
root_prefix() { # root user
  PREFIX=()
  [ -n "$1" ] || return 0
  local ids; ids="$(awk -F: -v u="$2" '$1 == u { print $3 ":" $4 }' "$1/etc/passwd")"
  [ -n "$ids" ] || die "user $2 not found in $1/etc/passwd"
  PREFIX=(chroot --userspec="$ids" "$1")
}
in_root() { # root user cmd...
  root_prefix "$1" "$2"; shift 2
  "${PREFIX[@]}" "$@"
}

# Data of a chrooted server must live inside its root: .stack/data/<name> is then a symlink there.
# Prints the path as the server sees it.
data_dir() { # name root user
  local name="$1" root="$2" user="$3" host inner
  if [ -n "$root" ] && [ "$root" != "/" ]; then
    inner="/var/lib/konorkestra/$name"
    host="$root$inner"
    mkdir -p "$host" "$DATA"
    [ -L "$DATA/$name" ] || { rm -rf "${DATA:?}/$name"; ln -s "$host" "$DATA/$name"; }
  else
    inner="$DATA/$name"
    host="$inner"
    mkdir -p "$host"
  fi
  if [ -n "$user" ]; then
    local ids; ids="$(awk -F: -v u="$user" '$1 == u { print $3 ":" $4 }' "${root:-/}/etc/passwd")"
    chown "$ids" "$host"
    chmod 0700 "$host"
  fi
  echo "$inner"
}

host_path() { # root inner
  if [ -n "$1" ] && [ "$1" != "/" ]; then echo "$1$2"; else echo "$2"; fi
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# pid of a server from the pid file it writes itself; empty when it is not running.
server_pid() {
  local name="$1" file pid expect
  case "$name" in
    nats) file="$STACK/run/nats.pid" expect=nats-server ;;
    postgres) file="$(host_path "$KON_PG_ROOT" "$(data_dir postgres "$KON_PG_ROOT" "$KON_PG_USER")")/pgdata/postmaster.pid" expect=postgres ;;
    redis) file="$(host_path "$KON_REDIS_ROOT" "$(data_dir redis "$KON_REDIS_ROOT" "$KON_REDIS_USER")")/redis.pid" expect=redis-server ;;
  esac
  [ -f "$file" ] || return 0
  pid="$(head -n1 "$file" | tr -dc 0-9)"
  # Only a live process that is still that server counts: pids get reused.
  if [ -n "$pid" ] && [ -r "/proc/$pid/comm" ] && grep -q "^${expect:0:15}" "/proc/$pid/comm"; then echo "$pid"; fi
}

wait_for() { # what seconds cmd...
  local what="$1" secs="$2"; shift 2
  local i
  for ((i = 0; i < secs * 10; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  die "$what did not become ready in ${secs}s (see $LOGS)"
}

pg_superuser_password() {
  [ -n "$PG_PASSWORD" ] && return 0
  if [ ! -s "$SECRETS/pg-kon.pw" ] && [ -e "$DATA/postgres" ]; then
    (umask 077 && printf kon >"$SECRETS/pg-kon.pw") # a cluster made before random passwords
  fi
  PG_PASSWORD="$(cat "$(secret_file pg-kon.pw)")"
}

# A random secret in $SECRETS/<name>, made once (0600).
secret_file() { # name
  local f="$SECRETS/$1"
  [ -s "$f" ] || (umask 077 && node -e 'process.stdout.write(require("node:crypto").randomBytes(24).toString("base64url"))' >"$f")
  echo "$f"
}

# Keys and certificates of this installation, made at the first `make up` and kept after.
ensure_trust() {
  mkdir -p "$SECRETS" && chmod 0700 "$SECRETS"
  pg_superuser_password
  local provision="$ROOT_DIR/admin/dist/nats-auth/provision-main.js"
  [ -f "$provision" ] || die "$provision is not built (make build)"
  (umask 077 && node "$provision" "$SECRETS" "$STACK/run/nats-accounts.conf")
  bash "$ROOT_DIR/scripts/tls.sh" "$TLS_DIR" admin config-loader monitor analytics
  secret_file redis.pw >/dev/null
  secret_file loader-webhook.secret >/dev/null
}

start_nats() {
  [ -n "$(server_pid nats)" ] && { log "nats already running"; return; }
  port_free "$NATS_PORT" || die "port $NATS_PORT is in use (set KON_NATS_PORT)"
  mkdir -p "$DATA/nats" "$STACK/run"
  local verify=false
  [ "$NATS_MTLS" = on ] && verify=true
  (umask 077 && cat >"$STACK/run/nats.conf" <<CONF
server_name: "kon-local"
listen: "127.0.0.1:$NATS_PORT"
http: "127.0.0.1:$NATS_MONITOR_PORT"
pid_file: "$STACK/run/nats.pid"
jetstream { store_dir: "$DATA/nats" }
tls {
  cert_file: "$TLS_DIR/server.pem"
  key_file: "$TLS_DIR/server.key"
  ca_file: "$TLS_DIR/ca.pem"
  verify: $verify
  timeout: 2
}
# Accounts, the system services' nkeys and the auth callout (admin/dist/nats-auth/provision-main.js).
include "nats-accounts.conf"
CONF
  )
  setsid "$KON_NATS_SERVER" -c "$STACK/run/nats.conf" >>"$LOGS/nats.log" 2>&1 </dev/null &
  wait_for nats 20 curl_ok "http://127.0.0.1:$NATS_MONITOR_PORT/healthz"
  log "nats on 127.0.0.1:$NATS_PORT (monitoring :$NATS_MONITOR_PORT)"
}

start_postgres() {
  local dir pgdata
  dir="$(data_dir postgres "$KON_PG_ROOT" "$KON_PG_USER")"
  pgdata="$dir/pgdata"
  [ -n "$(server_pid postgres)" ] && { log "postgres already running"; return; }
  port_free "$PG_PORT" || die "port $PG_PORT is in use (set KON_PG_PORT)"
  if [ ! -f "$(host_path "$KON_PG_ROOT" "$pgdata")/PG_VERSION" ]; then
    log "initdb (user kon, password in $SECRETS/pg-kon.pw or KON_PG_PASSWORD)"
    local pw="$(host_path "$KON_PG_ROOT" "$dir")/.pwfile"
    printf '%s\n' "$PG_PASSWORD" >"$pw"
    [ -n "$KON_PG_USER" ] && chown "$(stat -c %u:%g "$(host_path "$KON_PG_ROOT" "$dir")")" "$pw"
    in_root "$KON_PG_ROOT" "$KON_PG_USER" "$KON_PG_BIN/initdb" -D "$pgdata" -U kon --pwfile="$dir/.pwfile" \
      --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 --no-instructions >>"$LOGS/postgres.log" 2>&1
    rm -f "$pw"
  fi
  root_prefix "$KON_PG_ROOT" "$KON_PG_USER"
  setsid "${PREFIX[@]}" "$KON_PG_BIN/postgres" -D "$pgdata" -p "$PG_PORT" -c listen_addresses=127.0.0.1 -c unix_socket_directories= \
    -c shared_preload_libraries=timescaledb -c timescaledb.telemetry_level=off >>"$LOGS/postgres.log" 2>&1 </dev/null &
  wait_for postgres 30 in_root "$KON_PG_ROOT" "$KON_PG_USER" "$KON_PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"
  if [ "$(psql_local -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$PG_DATABASE'")" != 1 ]; then
    psql_local -d postgres -qc "CREATE DATABASE $PG_DATABASE" >/dev/null
  fi
  psql_local -d "$PG_DATABASE" -qc "CREATE EXTENSION IF NOT EXISTS timescaledb" >/dev/null 2>&1
  ensure_pg_roles
  log "postgres on 127.0.0.1:$PG_PORT (postgres://kon:***@127.0.0.1:$PG_PORT/$PG_DATABASE)"
}

# A login role per service with a random password (.stack/secrets/pg-<service>.pw), no superuser:
# kon_analytics may create in schema public (its tables, hypertables and policies, which it then
# owns); kon_admin owns schema kon_admin and nothing else. The password goes through stdin.
ensure_pg_roles() {
  local sql
  sql="$(cat "$ROOT_DIR/scripts/pg-roles.sql")"
  sql="${sql//\{\{DATABASE\}\}/$PG_DATABASE}"
  sql="${sql//\{\{ANALYTICS_PW\}\}/$(cat "$(secret_file pg-analytics.pw)")}"
  sql="${sql//\{\{ADMIN_PW\}\}/$(cat "$(secret_file pg-admin.pw)")}"
  # printf is a shell builtin: the passwords reach psql's stdin without appearing in any argv.
  printf '%s\n' "$sql" | psql_local -d "$PG_DATABASE" -q -v ON_ERROR_STOP=1 >/dev/null
}

# The database URL of a service: its own role, unless analytics' tables were made by the old
# single superuser role (a stack from before per-service roles), which keeps using it.
pg_url() { # [service]
  local svc="${1:-}"
  if [ -n "$svc" ] && [ -s "$SECRETS/pg-$svc.pw" ]; then
    if [ "$svc" != analytics ] || [ "$(psql_local -d "$PG_DATABASE" -tAc "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tableowner = 'kon'")" = 0 ]; then
      echo "postgres://kon_$svc:$(cat "$SECRETS/pg-$svc.pw")@127.0.0.1:$PG_PORT/$PG_DATABASE"
      return
    fi
    log "analytics: tables made by role kon before per-service roles; it keeps using kon (make down, remove .stack/data/postgres to start fresh)"
  fi
  echo "postgres://kon:$PG_PASSWORD@127.0.0.1:$PG_PORT/$PG_DATABASE"
}

start_redis() {
  local dir
  dir="$(data_dir redis "$KON_REDIS_ROOT" "$KON_REDIS_USER")"
  [ -n "$(server_pid redis)" ] && { log "redis already running"; return; }
  port_free "$REDIS_PORT" || die "port $REDIS_PORT is in use (set KON_REDIS_PORT)"
  root_prefix "$KON_REDIS_ROOT" "$KON_REDIS_USER"
  # The password goes in through stdin (a config file read from "-"), never on the command line.
  printf 'requirepass %s\n' "$(cat "$SECRETS/redis.pw")" | setsid "${PREFIX[@]}" "$KON_REDIS_SERVER" - \
    --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$dir" --pidfile "$dir/redis.pid" \
    --appendonly yes --daemonize no --logfile "" >>"$LOGS/redis.log" 2>&1 &
  wait_for redis 20 redis_local ping
  log "redis on 127.0.0.1:$REDIS_PORT"
}

# pid of a project service from its pid file, if that process is still the node running it.
service_pid() { # name entry
  local file="$STACK/run/$1.pid" pid
  [ -f "$file" ] || return 0
  pid="$(tr -dc 0-9 <"$file")"
  if [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$2"; then echo "$pid"; fi
}

start_service() { # name entry port
  local name="$1" entry="$2" port="$3"
  [ -f "$ROOT_DIR/$entry" ] || { log "$name: $entry not built, skipped (make build)"; return 0; }
  [ -n "$(service_pid "$name" "$entry")" ] && { log "$name already running"; return 0; }
  port_free "$port" || die "port $port is in use ($name)"
  local -a env=(
    KON_SERVERS="nats://127.0.0.1:$NATS_PORT" KON_TLS_CA="$TLS_DIR/ca.pem" KON_GROUP="$GROUP"
  )
  local role=""
  case "$name" in
    admin)
      role=admin
      env+=(KON_ADMIN_PORT="$port" KON_PG_URL="$(pg_url admin)" KON_DATABASE_URL="$(pg_url admin)"
        KON_ADMIN_BOOTSTRAP_FILE="$SECRETS/admin-bootstrap-token" KON_ADMIN_SIGNING_KEY_FILE="$SECRETS/admin-signing-key.pem"
        KON_CALLOUT_ISSUER_SEED_FILE="$SECRETS/nats-callout-issuer.nk" KON_NATS_SYSTEM_SEED_FILE="$SECRETS/nats-system.nk"
        KON_CONFIG_DIR="$CONFIG_DIR") ;;
    config-loader)
      role=config-loader
      env+=(KON_CONFIG_DIR="$CONFIG_DIR" KON_LOADER_PORT="$port" KON_LOADER_WEBHOOK_SECRET_FILE="$SECRETS/loader-webhook.secret") ;;
    heartbeat)
      role=monitor
      env+=(KON_MONITOR_PORT="$port" KON_REDIS_URL="redis://:$(cat "$SECRETS/redis.pw")@127.0.0.1:$REDIS_PORT"
        KON_AUTH_PUBLIC_KEY_FILE="$SECRETS/admin-signing-key.pem.pub") ;;
    analytics)
      role=analytics
      env+=(KON_ANALYTICS_PORT="$port" KON_PG_URL="$(pg_url analytics)" KON_AUTH_PUBLIC_KEY_FILE="$SECRETS/admin-signing-key.pem.pub") ;;
    service*)
      [ -s "$JOIN_KEY_FILE" ] || { log "$name: no join key for group $GROUP yet, skipped (make demo makes one)"; return 0; }
      env+=(KON_NODE_ID="$name-$GROUP" KON_SERVICE_PORT="$port" KON_JOIN_KEY="$(cat "$JOIN_KEY_FILE")"
        KON_SNAPSHOT_DIR="$STACK/state/$name") ;;
  esac
  if [ -n "$role" ]; then
    env+=(KON_NKEY_SEED_FILE="$SECRETS/nats-$role.nk")
    [ "$NATS_MTLS" = on ] && env+=(KON_TLS_CERT="$TLS_DIR/$role.pem" KON_TLS_KEY="$TLS_DIR/$role.key")
  fi
  env "${env[@]}" setsid node "$ROOT_DIR/$entry" >>"$LOGS/$name.log" 2>&1 </dev/null &
  echo $! >"$STACK/run/$name.pid"
  wait_for "$name" 30 curl_ok "http://127.0.0.1:$port/healthz"
  log "$name on 127.0.0.1:$port"
}

stop_service() { # name entry
  local pid i
  pid="$(service_pid "$1" "$2")"
  [ -n "$pid" ] || return 0
  kill -s TERM "$pid"
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || { log "$1 stopped (pid $pid)"; rm -f "$STACK/run/$1.pid"; return 0; }
    sleep 0.1
  done
  log "$1 (pid $pid) did not stop in 10 s: SIGKILL"
  kill -s KILL "$pid" 2>/dev/null || true
}

start_services() {
  if [ ! -d "$CONFIG_DIR" ]; then
    cp -r "$ROOT_DIR/examples/config" "$CONFIG_DIR"
    log "config folder $CONFIG_DIR (seeded from examples/config)"
  fi
  local s
  for s in "${SERVICES[@]}" "${EXAMPLES[@]}"; do
    # shellcheck disable=SC2086
    start_service $s
  done
  [ -s "$SECRETS/admin-bootstrap-token" ] && first_admin_hint
  return 0
}

# Where the first admin's one-time bootstrap token is: its path only, never the token (a
# credential; this output ends up in scrollback and CI logs). `scripts/stack.sh first-admin`.
first_admin_hint() {
  local f="$SECRETS/admin-bootstrap-token"
  if [ -s "$f" ]; then
    log "first admin: sign up with the one-time bootstrap token in $f (0600; not printed: read it with cat, see the README, \"Admins, groups and join keys\")"
  else
    log "first admin: no bootstrap token in $f (an admin exists, or the admin service has not run yet)"
  fi
}

start_examples() {
  local s
  for s in "${EXAMPLES[@]}"; do
    # shellcheck disable=SC2086
    start_service $s
  done
}

stop_services() {
  local all=("${SERVICES[@]}" "${EXAMPLES[@]}") i s
  for ((i = ${#all[@]} - 1; i >= 0; i--)); do
    s="${all[$i]}"
    # shellcheck disable=SC2086
    stop_service ${s% *}
  done
}

services_status() {
  local s name entry port
  for s in "${SERVICES[@]}" "${EXAMPLES[@]}"; do
    read -r name entry port <<<"$s"
    [ -f "$ROOT_DIR/$entry" ] || continue
    if [ -n "$(service_pid "$name" "$entry")" ] && curl_ok "http://127.0.0.1:$port/healthz"; then
      printf '%-11s up  http://127.0.0.1:%s\n' "$name" "$port"
    else
      printf '%-11s down\n' "$name"
    fi
  done
}

psql_local() { PGPASSWORD="$PG_PASSWORD" in_root "$KON_PG_ROOT" "$KON_PG_USER" "$KON_PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U kon "$@"; }
redis_local() { REDISCLI_AUTH="$(cat "$SECRETS/redis.pw")" in_root "$KON_REDIS_ROOT" "$KON_REDIS_USER" "$(dirname "$KON_REDIS_SERVER")/redis-cli" -h 127.0.0.1 -p "$REDIS_PORT" "$@"; }

curl_ok() { node -e 'fetch(process.argv[1]).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))' "$1"; }

stop_server() {
  local name="$1" pid sig=TERM i
  pid="$(server_pid "$name")"
  [ -n "$pid" ] || { log "$name not running"; return 0; }
  [ "$name" = postgres ] && sig=INT # fast shutdown
  kill -s "$sig" "$pid"
  for ((i = 0; i < 200; i++)); do
    kill -0 "$pid" 2>/dev/null || { log "$name stopped (pid $pid)"; return 0; }
    sleep 0.1
  done
  log "$name (pid $pid) did not stop in 20 s: SIGKILL"
  kill -s KILL "$pid" 2>/dev/null || true
}

status() {
  local pid ok=0
  pid="$(server_pid nats)"
  if [ -n "$pid" ]; then
    node -e '
      const base = process.argv[1];
      Promise.all([fetch(base + "/varz").then((r) => r.json()), fetch(base + "/healthz").then((r) => r.json())])
        .then(([v, h]) => console.log(`nats        ${v.version}  jetstream=${v.jetstream ? "on" : "off"}  health=${h.status}  nats://127.0.0.1:${v.port}`))
        .catch((e) => { console.log("nats        unhealthy: " + e.message); process.exit(1); });' \
      "http://127.0.0.1:$NATS_MONITOR_PORT" || ok=1
  else
    echo "nats        down"; ok=1
  fi
  pid="$(server_pid postgres)"
  if [ -n "$pid" ] && psql_local -d "$PG_DATABASE" -tAc "SELECT 1" >/dev/null 2>&1; then
    printf 'postgres    %s  timescaledb=%s  health=ok  127.0.0.1:%s/%s\n' \
      "$(psql_local -d "$PG_DATABASE" -tAc "SHOW server_version")" \
      "$(psql_local -d "$PG_DATABASE" -tAc "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'")" \
      "$PG_PORT" "$PG_DATABASE"
  else
    echo "postgres    down"; ok=1
  fi
  pid="$(server_pid redis)"
  if [ -n "$pid" ] && [ "$(redis_local ping 2>/dev/null)" = PONG ]; then
    printf 'redis       %s  health=%s  127.0.0.1:%s\n' \
      "$(redis_local info server | tr -d '\r' | sed -n 's/^redis_version://p')" "$(redis_local ping)" "$REDIS_PORT"
  else
    echo "redis       down"; ok=1
  fi
  return $ok
}

compose() { docker compose -f "$ROOT_DIR/docker-compose.yml" "$@"; }

# NATS's configuration inside the container: the same TLS and accounts as local mode, at the
# paths docker-compose.yml mounts them.
compose_nats_conf() {
  mkdir -p "$STACK/compose"
  cat >"$STACK/compose/nats.conf" <<'CONF'
tls {
  cert_file: "/etc/kon/tls/server.pem"
  key_file: "/etc/kon/tls/server.key"
  ca_file: "/etc/kon/tls/ca.pem"
  timeout: 2
}
include "nats-accounts.conf"
CONF
}

main() {
  local cmd="${1:-status}"
  shift || true
  if [ "$(stack_mode)" = docker ]; then
    case "$cmd" in
      up) ensure_trust; compose_nats_conf; compose up -d --wait ;;
      # The example services (profile examples) once the group's join key exists; init copies it.
      examples) compose --profile examples up -d --wait ;;
      down) compose --profile examples down ;;
      restart) compose restart ;;
      status) compose ps ;;
      logs) compose logs "$@" ;;
      *) die "unknown command $cmd" ;;
    esac
    return
  fi
  if [ ! -f "$ENV_FILE" ] && [ "$cmd" = down ]; then log "no stack provisioned: nothing to stop"; return 0; fi
  load_env
  mkdir -p "$DATA" "$LOGS" "$STACK/run"
  [ -d "$SECRETS" ] && pg_superuser_password
  case "$cmd" in
    up) ensure_trust; start_nats; start_postgres; start_redis; start_services ;;
    examples) start_examples ;;
    first-admin) first_admin_hint ;;
    down) stop_services; for s in redis postgres nats; do stop_server "$s"; done ;;
    restart) main down; main up ;;
    status)
      local rc=0
      status || rc=$?
      services_status
      return $rc ;;
    logs)
      if [ $# -gt 0 ]; then tail -n 100 "$LOGS/$1.log"; else for s in "${SERVERS[@]}"; do echo "== $s"; tail -n 20 "$LOGS/$s.log" 2>/dev/null || true; done; fi ;;
    *) die "unknown command $cmd (up, down, restart, status, logs, examples, first-admin)" ;;
  esac
}

main "$@"
