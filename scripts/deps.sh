#!/usr/bin/env bash
# make deps: find or provision nats-server >= 2.12, PostgreSQL with TimescaleDB, Redis >= 7,
# and Go >= 1.19 for the Go client's tests.
#
# Idempotent. Writes .stack/stack.env, which testkit and scripts/stack.sh read:
#   KON_NATS_SERVER            host path of nats-server
#   KON_PG_BIN                 directory of postgres/initdb/psql (a path inside KON_PG_ROOT)
#   KON_PG_ROOT, KON_PG_USER   chroot directory and user to run PostgreSQL as ("" = run directly)
#   KON_REDIS_SERVER           redis-server path (inside KON_REDIS_ROOT)
#   KON_REDIS_ROOT, KON_REDIS_USER
#   KON_GO                     go binary for the Go client's tests (absent: none found, not root)
#
# Order of preference for each server: the binary named by its env var, then one on PATH, when
# its version qualifies; otherwise (root on a Debian-family machine) a Debian unstable root file
# system under .stack/rootfs built with debootstrap, with the servers installed from Debian's own
# packages. The mirror comes from this machine's apt configuration; no host name is written here.
set -euo pipefail

ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STACK="${KON_STACK_DIR:-$ROOT_DIR/.stack}"
ROOTFS="$STACK/rootfs"
READY="$ROOTFS/.kon-ready"
ENV_FILE="$STACK/stack.env"
MIN_NATS=2.12.0
MIN_PG=14
MIN_REDIS=7.0.0
PG_MAJOR="${KON_PG_MAJOR:-18}"
ROOTFS_PACKAGES="nats-server postgresql-$PG_MAJOR postgresql-$PG_MAJOR-timescaledb redis-server openssl"

log() { printf 'deps: %s\n' "$*" >&2; }
die() { printf 'deps: error: %s\n' "$*" >&2; exit 1; }

# version_ge A B: true when version A >= B.
version_ge() { [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]; }

nats_version() { "$1" --version 2>/dev/null | sed -nE 's/.*v?([0-9]+\.[0-9]+\.[0-9]+).*/\1/p' | head -n1; }
redis_version() { "$@" --version 2>/dev/null | sed -nE 's/.*v=([0-9]+\.[0-9]+\.[0-9]+).*/\1/p' | head -n1; }
pg_version() { "$@" --version 2>/dev/null | sed -nE 's/.* ([0-9]+)(\.[0-9]+)?.*/\1/p' | head -n1; }

# A host PostgreSQL qualifies only if the TimescaleDB library sits in its package library dir.
pg_has_timescaledb() {
  local bindir="$1" libdir
  if [ -x "$bindir/pg_config" ]; then libdir="$("$bindir/pg_config" --pkglibdir)"; else libdir="$bindir/../lib"; fi
  compgen -G "$libdir/timescaledb*.so" >/dev/null
}

NATS_BIN="" PG_BIN="" PG_ROOT="" PG_USER="" REDIS_BIN="" REDIS_ROOT="" REDIS_USER=""

find_host_nats() {
  local c
  for c in "${KON_NATS_SERVER:-}" "$(command -v nats-server || true)"; do
    [ -n "$c" ] && [ -x "$c" ] || continue
    local v; v="$(nats_version "$c")"
    if [ -n "$v" ] && version_ge "$v" "$MIN_NATS"; then NATS_BIN="$c"; return 0; fi
    log "ignoring $c (nats-server $v < $MIN_NATS)"
  done
  return 1
}

find_host_pg() {
  local c
  for c in "${KON_PG_BIN:-}" "$(dirname "$(command -v postgres 2>/dev/null || echo /nonexistent/x)")"; do
    [ -n "$c" ] && [ -x "$c/postgres" ] && [ -x "$c/initdb" ] || continue
    local v; v="$(pg_version "$c/postgres")"
    if [ -z "$v" ] || [ "$v" -lt "$MIN_PG" ]; then log "ignoring $c (PostgreSQL $v < $MIN_PG)"; continue; fi
    if ! pg_has_timescaledb "$c"; then log "ignoring $c (PostgreSQL $v without TimescaleDB)"; continue; fi
    PG_BIN="$c"
    # PostgreSQL refuses to run as root; as root, run it as the postgres user through chroot /.
    if [ "$(id -u)" = 0 ]; then
      id postgres >/dev/null 2>&1 || { log "ignoring $c (running as root and no postgres user)"; PG_BIN=""; continue; }
      PG_ROOT="/" PG_USER="postgres"
    fi
    return 0
  done
  return 1
}

find_host_redis() {
  local c
  for c in "${KON_REDIS_SERVER:-}" "$(command -v redis-server || true)"; do
    [ -n "$c" ] && [ -x "$c" ] || continue
    local v; v="$(redis_version "$c")"
    if [ -n "$v" ] && version_ge "$v" "$MIN_REDIS"; then REDIS_BIN="$c"; return 0; fi
    log "ignoring $c (redis-server $v < $MIN_REDIS)"
  done
  return 1
}

# The first non-security "deb" URI of this machine's apt sources (deb822 first, then one-line).
apt_mirror() {
  local f uri=""
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    uri="$(awk '
      /^[[:space:]]*$/ { if (deb && u != "" && s !~ /security/) { print u; exit } deb=0; u=""; s=""; next }
      /^Types:/ { deb = ($0 ~ /(^|[[:space:]])deb([[:space:]]|$)/) }
      /^URIs:/ { u=$2 }
      /^Suites:/ { s=$0 }
      END { if (deb && u != "" && s !~ /security/) print u }' "$f" | head -n1)"
    [ -n "$uri" ] && { echo "$uri"; return 0; }
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    uri="$(awk '$1 == "deb" && $0 !~ /security/ { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z+]+:\/\//) { print $i; exit } }' "$f" | head -n1)"
    [ -n "$uri" ] && { echo "$uri"; return 0; }
  done
  return 1
}

explain_and_exit() {
  cat >&2 <<MSG
deps: error: cannot provide: $*
  Konorkestra needs nats-server >= $MIN_NATS (with JetStream), PostgreSQL >= $MIN_PG with the
  TimescaleDB extension, and redis-server >= $MIN_REDIS.
  Either install them and put them on PATH (or name them with KON_NATS_SERVER, KON_PG_BIN,
  KON_REDIS_SERVER), run 'make deps' as root on a Debian-family machine so that they are
  provisioned under .stack/, or use 'make up' with a Docker engine (docker-compose.yml).
MSG
  exit 1
}

in_rootfs() { chroot "$ROOTFS" "$@"; }

build_rootfs() {
  [ "$(id -u)" = 0 ] || explain_and_exit "$1 (provisioning needs root)"
  [ -f /etc/debian_version ] && command -v apt-get >/dev/null || explain_and_exit "$1 (provisioning needs a Debian-family machine)"
  local mirror; mirror="$(apt_mirror)" || die "no Debian mirror found in /etc/apt/sources.list*"
  if ! command -v debootstrap >/dev/null; then
    log "installing debootstrap"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
  fi
  # A half-built root file system from an interrupted run is rebuilt from scratch.
  if [ -d "$ROOTFS" ] && [ ! -f "$READY" ]; then log "removing incomplete $ROOTFS"; rm -rf --one-file-system "$ROOTFS"; fi
  if [ ! -x "$ROOTFS/usr/bin/apt-get" ]; then
    log "debootstrap --variant=minbase unstable (about 30 s)"
    mkdir -p "$STACK"
    debootstrap --variant=minbase unstable "$ROOTFS" "$mirror" >"$STACK/debootstrap.log" 2>&1 ||
      { tail -n 20 "$STACK/debootstrap.log" >&2; die "debootstrap failed (log: $STACK/debootstrap.log)"; }
  fi
  cp /etc/resolv.conf "$ROOTFS/etc/resolv.conf"
  # No init system in the chroot: packages must not try to start services, and postgresql-common's
  # call of systemd-tmpfiles (which needs /proc) is diverted to a no-op.
  printf '#!/bin/sh\nexit 101\n' >"$ROOTFS/usr/sbin/policy-rc.d"
  chmod 0755 "$ROOTFS/usr/sbin/policy-rc.d"
  if ! in_rootfs dpkg-divert --list /usr/bin/systemd-tmpfiles | grep -q local; then
    in_rootfs dpkg-divert --local --rename --add /usr/bin/systemd-tmpfiles >/dev/null
  fi
  ln -sf /bin/true "$ROOTFS/usr/bin/systemd-tmpfiles"
  log "apt-get install $ROOTFS_PACKAGES (about 20 s)"
  local apt_opts=(-o Acquire::Check-Valid-Until=false -o Dpkg::Use-Pty=0)
  {
    in_rootfs apt-get "${apt_opts[@]}" update -qq &&
      DEBIAN_FRONTEND=noninteractive in_rootfs apt-get "${apt_opts[@]}" install -y -qq --no-install-recommends $ROOTFS_PACKAGES
  } >"$STACK/apt.log" 2>&1 || { tail -n 20 "$STACK/apt.log" >&2; die "apt-get in $ROOTFS failed (log: $STACK/apt.log)"; }
  in_rootfs apt-get clean
  echo "$ROOTFS_PACKAGES" >"$READY"
}

ensure_rootfs() {
  if [ -f "$READY" ] && [ "$(cat "$READY")" = "$ROOTFS_PACKAGES" ]; then return 0; fi
  build_rootfs "$1"
}

# Installs a Debian package on the host for a test that needs it, from this machine's own apt
# sources: host_package <package> <what for> <hint when it cannot>. Returns 1 (after the hint)
# when not root or without apt-get; dies, with the log's tail, when apt-get fails.
host_package() {
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    log "$3"
    return 1
  fi
  log "apt-get install $1 ($2)"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$1"; } \
    >"$STACK/$1-apt.log" 2>&1 || { tail -n 20 "$STACK/$1-apt.log" >&2; die "apt-get install $1 failed (log: $STACK/$1-apt.log)"; }
}

# Headless Chromium for the dashboard's browser test: Debian's own package, at /usr/bin/chromium.
# KON_SKIP_CHROMIUM=1 skips it (the browser test then reports itself skipped with the reason).
ensure_chromium() {
  [ "${KON_SKIP_CHROMIUM:-0}" = 1 ] && return 0
  [ -x "${KON_CHROMIUM:-/usr/bin/chromium}" ] && return 0
  host_package chromium "dashboard browser test" \
    "no chromium at /usr/bin/chromium: install Debian's chromium (or set KON_CHROMIUM) for the dashboard test" || true
}

# zsh, so that the CLI's zsh completion test loads the script in a real zsh (skipped, saying so,
# where zsh is missing). KON_SKIP_ZSH=1 skips it.
ensure_zsh() {
  [ "${KON_SKIP_ZSH:-0}" = 1 ] && return 0
  command -v zsh >/dev/null && return 0
  host_package zsh "CLI completion test" "no zsh: install Debian's zsh for the CLI's zsh completion test" || true
}

# etcd, only for the propagation benchmark's side-by-side comparison (`make bench-deps`).
ensure_etcd() {
  local c
  c="$(command -v etcd || true)"
  if [ -n "$c" ] && "$c" --version 2>/dev/null | grep -q 'etcd Version: 3'; then ETCD_BIN="$c"; return 0; fi
  ensure_rootfs "etcd (benchmark comparison)"
  if [ ! -x "$ROOTFS/usr/bin/etcd" ]; then
    log "apt-get install etcd-server in $ROOTFS (benchmark comparison)"
    DEBIAN_FRONTEND=noninteractive in_rootfs apt-get -o Acquire::Check-Valid-Until=false install -y -qq \
      --no-install-recommends etcd-server >"$STACK/etcd-apt.log" 2>&1 || die "apt-get install etcd-server failed (log: $STACK/etcd-apt.log)"
  fi
  install -m 0755 "$ROOTFS/usr/bin/etcd" "$STACK/bin/etcd"
  ETCD_BIN="$STACK/bin/etcd"
}

# Go >= 1.19 for the Go client library's tests (clients/go, standard library only): the go named
# by KON_GO or on PATH, else (root) Debian's golang-go from this machine's own apt sources.
MIN_GO=1.19
GO_BIN=""
go_version() { "$1" version 2>/dev/null | sed -nE 's/.* go([0-9]+\.[0-9]+(\.[0-9]+)?).*/\1/p' | head -n1; }
find_go() {
  local c v
  for c in "${KON_GO:-}" "$(command -v go || true)" /usr/lib/go/bin/go; do
    [ -n "$c" ] && [ -x "$c" ] || continue
    v="$(go_version "$c")"
    if [ -n "$v" ] && version_ge "$v" "$MIN_GO"; then GO_BIN="$c"; return 0; fi
    log "ignoring $c (go $v < $MIN_GO)"
  done
  return 1
}
ensure_go() {
  find_go && return 0
  host_package golang-go "Go client tests" \
    "no go >= $MIN_GO: install Go (Debian: golang-go) or set KON_GO for the Go client tests" || return 0
  find_go || die "golang-go installed, but no go >= $MIN_GO runs"
}

ETCD_BIN=""
WITH_BENCH=0
[ "${1:-}" = "--bench" ] && WITH_BENCH=1

main() {
  mkdir -p "$STACK/bin"
  local missing=()
  find_host_nats || missing+=("nats-server >= $MIN_NATS")
  find_host_pg || missing+=("PostgreSQL >= $MIN_PG with TimescaleDB")
  find_host_redis || missing+=("redis-server >= $MIN_REDIS")

  if [ ${#missing[@]} -gt 0 ]; then
    ensure_rootfs "$(IFS=,; echo "${missing[*]}")"
    if [ -z "$NATS_BIN" ]; then
      # Debian's nats-server needs nothing beyond libc: copy it out and run it directly.
      install -m 0755 "$ROOTFS/usr/sbin/nats-server" "$STACK/bin/nats-server"
      NATS_BIN="$STACK/bin/nats-server"
    fi
    if [ -z "$PG_BIN" ]; then PG_BIN="/usr/lib/postgresql/$PG_MAJOR/bin" PG_ROOT="$ROOTFS" PG_USER="postgres"; fi
    if [ -z "$REDIS_BIN" ]; then REDIS_BIN="/usr/bin/redis-server" REDIS_ROOT="$ROOTFS" REDIS_USER="redis"; fi
  fi

  # Versions, checked by running each server binary the way testkit will.
  local nv pv tv rv
  nv="$(nats_version "$NATS_BIN")"
  if [ -n "$PG_ROOT" ]; then pv="$(pg_version chroot "$PG_ROOT" "$PG_BIN/postgres")"; else pv="$(pg_version "$PG_BIN/postgres")"; fi
  tv="$(ls "${PG_ROOT%/}/usr/share/postgresql/$pv/extension/" 2>/dev/null | sed -nE 's/^timescaledb--([0-9.]+)\.sql$/\1/p' | sort -V | tail -n1)"
  if [ -n "$REDIS_ROOT" ]; then rv="$(redis_version chroot "$REDIS_ROOT" "$REDIS_BIN")"; else rv="$(redis_version "$REDIS_BIN")"; fi
  [ -n "$nv" ] && version_ge "$nv" "$MIN_NATS" || die "nats-server at $NATS_BIN does not run or is too old ($nv)"
  [ -n "$pv" ] || die "postgres at ${PG_ROOT:+$PG_ROOT:}$PG_BIN does not run"
  [ -n "$rv" ] && version_ge "$rv" "$MIN_REDIS" || die "redis-server at ${REDIS_ROOT:+$REDIS_ROOT:}$REDIS_BIN does not run ($rv)"

  local tmp="$ENV_FILE.tmp"
  cat >"$tmp" <<ENV
# Written by scripts/deps.sh; read by testkit and scripts/stack.sh. Regenerate with 'make deps'.
KON_NATS_SERVER=$NATS_BIN
KON_NATS_VERSION=$nv
KON_PG_BIN=$PG_BIN
KON_PG_ROOT=$PG_ROOT
KON_PG_USER=$PG_USER
KON_PG_VERSION=$pv
KON_TIMESCALEDB_VERSION=$tv
KON_REDIS_SERVER=$REDIS_BIN
KON_REDIS_ROOT=$REDIS_ROOT
KON_REDIS_USER=$REDIS_USER
KON_REDIS_VERSION=$rv
ENV
  if [ "$WITH_BENCH" = 1 ]; then ensure_etcd; fi
  if [ -z "$ETCD_BIN" ] && [ -x "$STACK/bin/etcd" ]; then ETCD_BIN="$STACK/bin/etcd"; fi
  [ -n "$ETCD_BIN" ] && echo "KON_ETCD=$ETCD_BIN" >>"$tmp"
  ensure_go
  [ -n "$GO_BIN" ] && echo "KON_GO=$GO_BIN" >>"$tmp"
  mv "$tmp" "$ENV_FILE"
  write_client_wrappers
  ensure_chromium
  ensure_zsh
  log "nats-server $nv, PostgreSQL $pv + TimescaleDB ${tv:-?}, Redis $rv, go ${GO_BIN:+$(go_version "$GO_BIN")} (${ENV_FILE#"$ROOT_DIR"/})"
}

# .stack/bin/psql and .stack/bin/redis-cli run the clients that match the servers.
write_client_wrappers() {
  local psql_cmd="$PG_BIN/psql" redis_cli
  redis_cli="$(dirname "$REDIS_BIN")/redis-cli"
  [ -n "$PG_ROOT" ] && psql_cmd="chroot --userspec=$PG_USER $PG_ROOT $psql_cmd"
  [ -n "$REDIS_ROOT" ] && redis_cli="chroot --userspec=$REDIS_USER $REDIS_ROOT $redis_cli"
  printf '#!/bin/sh\nexec %s "$@"\n' "$psql_cmd" >"$STACK/bin/psql"
  printf '#!/bin/sh\nexec %s "$@"\n' "$redis_cli" >"$STACK/bin/redis-cli"
  chmod 0755 "$STACK/bin/psql" "$STACK/bin/redis-cli"
}

main "$@"
