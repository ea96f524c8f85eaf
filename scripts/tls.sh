#!/usr/bin/env bash
# A local certificate authority and the certificates of one installation, made with openssl:
#   scripts/tls.sh <dir> [client-name...]
# Creates, when missing: <dir>/ca.pem + ca.key (the CA), server.pem + server.key (for NATS, valid
# for localhost, 127.0.0.1, ::1 and nats, its name in docker-compose.yml), and <name>.pem +
# <name>.key per client name (for mutual TLS). Keys are 0600 in a 0700 directory. Existing files
# are kept, so it is safe to run again.
# To bring your own certificates, put them at those paths before `make up`.
set -euo pipefail

dir="${1:?usage: tls.sh <dir> [client-name...]}"
shift
ROOTFS="${KON_ROOTFS:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.stack/rootfs}"
openssl_cmd() {
  if [ -n "${KON_OPENSSL:-}" ]; then "$KON_OPENSSL" "$@"
  elif command -v openssl >/dev/null; then openssl "$@"
  elif [ -x "$ROOTFS/usr/bin/openssl" ]; then
    # The copy make deps installed in .stack/rootfs, run with that system's own loader and libraries.
    OPENSSL_CONF="$ROOTFS/usr/lib/ssl/openssl.cnf" "$ROOTFS/lib64/ld-linux-x86-64.so.2" \
      --library-path "$ROOTFS/usr/lib/x86_64-linux-gnu" "$ROOTFS/usr/bin/openssl" "$@"
  else
    echo "tls: openssl not found (make deps installs one in .stack/rootfs; or set KON_OPENSSL)" >&2
    return 1
  fi
}
OPENSSL=openssl_cmd
mkdir -p "$dir"
chmod 0700 "$dir"
days=825
cd "$dir"
umask 077

if [ ! -f ca.pem ] || [ ! -f ca.key ]; then
  "$OPENSSL" req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem \
    -days 3650 -subj "/CN=Konorkestra local CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
fi

issue() { # name subject-alt-names extended-key-usage
  local name="$1" san="$2" eku="$3"
  [ -f "$name.pem" ] && [ -f "$name.key" ] && return 0
  "$OPENSSL" req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$name.key" -out "$name.csr" \
    -subj "/CN=$name" 2>/dev/null
  printf 'subjectAltName=%s\nextendedKeyUsage=%s\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n' \
    "$san" "$eku" >"$name.ext"
  "$OPENSSL" x509 -req -in "$name.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -out "$name.pem" \
    -days "$days" -extfile "$name.ext" 2>/dev/null
  rm -f "$name.csr" "$name.ext"
}

issue server "DNS:localhost,DNS:nats,IP:127.0.0.1,IP:::1" serverAuth
for client in "$@"; do
  issue "$client" "DNS:$client" clientAuth
done
chmod 0600 ./*.key
chmod 0644 ./*.pem
