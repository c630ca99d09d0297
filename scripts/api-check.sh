#!/usr/bin/env bash
# `just api-check`: runs Multivio on a private, fresh database and checks the running server
# against its own OpenAPI document with schemathesis (pinned, from PyPI, in a venv under
# target/api-check): every operation, signed in with a dev token, every check, the stateful
# phase included. Then compiles the TypeScript client generated from /openapi.json (npm,
# `tsc --strict`) and runs its example against the same server.
#
#   scripts/api-check.sh [EXAMPLES]   test cases per operation (default 50; CI passes fewer)
#
# Settings: API_CHECK_LISTEN, API_CHECK_SANDBOX_LISTEN (loopback addresses, default
# 127.0.0.1:18480 and :18490), API_CHECK_SEED (schemathesis' seed; default random, printed),
# API_CHECK_SKIP_CLIENT=1 (schemathesis only).
set -euo pipefail
cd "$(dirname "$0")/.."

EXAMPLES="${1:-50}"
SCHEMATHESIS_VERSION=4.32.5
LISTEN="${API_CHECK_LISTEN:-127.0.0.1:18480}"
SANDBOX_LISTEN="${API_CHECK_SANDBOX_LISTEN:-127.0.0.1:18490}"
WORK="target/api-check"
DATA_DIR="${TMPDIR:-/tmp}/multivio-api-check-$(id -u)"
BASE="http://$LISTEN"

log() { echo "api-check: $*" >&2; }

# Python and schemathesis, pinned, in a venv of their own.
VENV="$WORK/venv"
if [ ! -x "$VENV/bin/st" ] || [ "$("$VENV/bin/st" --version 2>/dev/null)" != "st, version $SCHEMATHESIS_VERSION" ]; then
  if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' 2>/dev/null; then
    log "installing python3-venv"
    if [ "$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv
    else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv
    fi
  fi
  log "installing schemathesis $SCHEMATHESIS_VERSION into $VENV"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

cargo build --quiet -p multivio
BIN="${CARGO_TARGET_DIR:-target}/debug/multivio"

# A fresh private database each run: the checks start from no data.
"$BIN" --data-dir "$DATA_DIR" pg stop >/dev/null 2>&1 || true
rm -rf "$DATA_DIR"
mkdir -p "$WORK"
SERVER_LOG="$WORK/server.log"
# Per-user rate limits and the free plan's quota far above what the checks send, so that the
# rules behind them are exercised rather than answered 429 (which stays documented).
MULTIVIO_LISTEN="$LISTEN" MULTIVIO_SANDBOX_LISTEN="$SANDBOX_LISTEN" MULTIVIO_DATA_DIR="$DATA_DIR" \
  MULTIVIO_RATE_LIMITS="publish=100000,connect=100000,upload=100000,write=100000" \
  MULTIVIO_PLANS="free=1000000,pro=100,business=1000" \
  MULTIVIO_CORS_ORIGINS="http://localhost:5173" \
  RUST_LOG="${RUST_LOG:-warn}" "$BIN" serve >"$SERVER_LOG" 2>&1 &
SERVER=$!
stop() {
  kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null || true
  "$BIN" --data-dir "$DATA_DIR" pg stop >/dev/null 2>&1 || true
}
trap stop EXIT

for _ in $(seq 1 120); do
  curl -sf "$BASE/readyz" >/dev/null 2>&1 && break
  if ! kill -0 "$SERVER" 2>/dev/null; then
    log "the server did not start:"; cat "$SERVER_LOG" >&2; exit 1
  fi
  sleep 0.5
done
curl -sf "$BASE/readyz" >/dev/null || { log "the server is not ready"; cat "$SERVER_LOG" >&2; exit 1; }

TOKEN=$("$BIN" dev-token --uid alice --email alice@example.com)
SEED_ARGS=()
if [ -n "${API_CHECK_SEED:-}" ]; then SEED_ARGS=(--seed "$API_CHECK_SEED"); fi

log "schemathesis over every operation, $EXAMPLES examples each"
status=0
# From target/api-check: schemathesis keeps its crash cache (for `st replay`) in ./.schemathesis.
ROOT="$(pwd)"
(cd "$WORK" && PYTHONPATH="$ROOT/scripts/api-check" "$ROOT/$VENV/bin/st" --config-file "$ROOT/scripts/api-check/schemathesis.toml" \
  run "$BASE/openapi.json" \
  --header "Authorization: Bearer $TOKEN" \
  --checks all \
  --phases examples,coverage,fuzzing,stateful \
  --max-examples "$EXAMPLES" \
  --report junit --report-dir report \
  "${SEED_ARGS[@]}") || status=$?
if [ "$status" != 0 ]; then
  log "schemathesis found failures (server log: $SERVER_LOG; replay from $WORK with $VENV/bin/st replay)"
  exit "$status"
fi

if [ "${API_CHECK_SKIP_CLIENT:-}" != 1 ]; then
  log "TypeScript client: generate from $BASE/openapi.json, tsc --strict, run the example"
  clients/typescript/check.sh "$BASE" "$("$BIN" dev-token --uid client-check --email client-check@example.com)"
fi
