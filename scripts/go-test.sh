#!/usr/bin/env bash
# make test-go: go vet and go test of the Go client library (clients/go) and its example
# (examples/go-service). The tests start a real stack (cli/test/go-stack.ts) and real `kon agent`
# and `kon run` processes from cli/dist/bin.js, so `make build` comes first.
#
# Standard library only: no module is downloaded (GOPROXY=off), the toolchain is the local one
# (GOTOOLCHAIN=local), and the build cache lives under .stack/go, so nothing is written outside
# the repository.
set -euo pipefail

ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STACK="${KON_STACK_DIR:-$ROOT_DIR/.stack}"
GO_BIN="$(sed -n 's/^KON_GO=//p' "$STACK/stack.env" 2>/dev/null || true)"
GO_BIN="${GO_BIN:-$(command -v go || true)}"
if [ -z "$GO_BIN" ] || [ ! -x "$GO_BIN" ]; then
  echo "test-go: error: no go >= 1.19; run 'make deps' as root (Debian: golang-go) or put go on PATH" >&2
  exit 1
fi
export GOTOOLCHAIN=local GOPROXY=off GOFLAGS=-mod=readonly GOWORK=off
export GOCACHE="$STACK/go/cache" GOPATH="$STACK/go/path" GOENV=off
export PATH="$(dirname "$GO_BIN"):$PATH"
echo "test-go: $("$GO_BIN" version)" >&2
for dir in clients/go examples/go-service; do
  (cd "$ROOT_DIR/$dir" && "$GO_BIN" vet ./...)
done
cd "$ROOT_DIR/clients/go"
exec "$GO_BIN" test -count=1 "$@" ./...
