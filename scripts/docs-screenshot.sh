#!/usr/bin/env bash
# Renders the interactive API docs (/docs) in headless Chromium with every host but the local
# server unreachable, checks that Swagger UI rendered the API from /openapi.json, and saves a
# screenshot to target/docs.png. Installs Chromium (Debian's package) when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium
  else
    echo "chromium is missing: sudo apt-get install chromium" >&2; exit 1
  fi
fi

cargo build --quiet -p multivio
data=$(mktemp -d "${TMPDIR:-/tmp}/multivio-docs-XXXXXX")
chmod 755 "$data"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
MULTIVIO_DATA_DIR="$data" MULTIVIO_LISTEN="127.0.0.1:$port" RUST_LOG=warn target/debug/multivio serve &
server=$!
cleanup() { kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$data"; }
trap cleanup EXIT
for _ in $(seq 1 120); do
  curl -fs "http://127.0.0.1:$port/readyz" >/dev/null && break
  sleep 0.5
done

profile=$(mktemp -d)
# No network: every host name fails to resolve except the local server's address.
flags=(--headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking
       --disable-component-update --disable-sync --disable-quic --user-data-dir="$profile"
       "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"
       --virtual-time-budget=10000 --window-size=1280,1000)
chromium "${flags[@]}" --dump-dom "http://127.0.0.1:$port/docs/" > target/docs-dom.html 2>/dev/null
chromium "${flags[@]}" --screenshot=target/docs.png "http://127.0.0.1:$port/docs/" 2>/dev/null
rm -rf "$profile"

for expected in "Multivio API" "/v1/posts/{id}/schedule" "opblock"; do
  grep -q -- "$expected" target/docs-dom.html || { echo "docs did not render: '$expected' missing" >&2; exit 1; }
done
echo "docs rendered offline: target/docs.png ($(stat -c %s target/docs.png) bytes)"
