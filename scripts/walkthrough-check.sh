#!/usr/bin/env bash
# `just walkthrough-check`: runs the curl walk-through of docs/api.md ("Walk-through with curl",
# every `sh` block of that section, in order) against a fresh `multivio serve` with its sandbox,
# then checks what it should have done: the accounts connected, the thread published to X and
# Bluesky (four posts at the sandbox, each second part a reply), the pin's draft with its
# uploaded image, the plan bought at the sandbox's Stripe. The docs' addresses
# (localhost:8080, 127.0.0.1:8090) and `cargo run -q -p multivio --` are replaced by this
# run's; nothing else of the text is changed, so the walk-through cannot drift from the API.
#
# Settings: WALKTHROUGH_LISTEN, WALKTHROUGH_SANDBOX_LISTEN (loopback addresses, default
# 127.0.0.1:18580 and :18590).
set -euo pipefail
cd "$(dirname "$0")/.."

LISTEN="${WALKTHROUGH_LISTEN:-127.0.0.1:18580}"
SANDBOX="${WALKTHROUGH_SANDBOX_LISTEN:-127.0.0.1:18590}"
WORK="target/walkthrough"
DATA_DIR="${TMPDIR:-/tmp}/multivio-walkthrough-$(id -u)"
log() { echo "walkthrough: $*" >&2; }
fail() { log "FAILED: $*"; exit 1; }

command -v jq >/dev/null || { apt-get install -y -qq jq >/dev/null 2>&1 || sudo apt-get install -y -qq jq >/dev/null 2>&1 || true; }
command -v jq >/dev/null || fail "jq is needed (apt-get install jq)"
command -v curl >/dev/null || fail "curl is needed"

cargo build --quiet -p multivio
BIN="$PWD/${CARGO_TARGET_DIR:-target}/debug/multivio"

# The section's shell blocks, with this run's addresses and binary.
mkdir -p "$WORK"
SCRIPT="$WORK/walkthrough.sh"
awk '/^## Walk-through with curl/ { on = 1; next }
     on && /^## / { exit }
     on && /^```sh$/ { code = 1; next }
     on && code && /^```$/ { code = 0; print ""; next }
     on && code { print }' docs/api.md \
  | sed -e "s#localhost:8080#$LISTEN#g" -e "s#127.0.0.1:8090#$SANDBOX#g" \
        -e "s#cargo run -q -p multivio --#\"$BIN\"#g" >"$SCRIPT.body"
[ -s "$SCRIPT.body" ] || fail "no shell blocks found in docs/api.md's walk-through"
{ echo 'set -euo pipefail'; cat "$SCRIPT.body"; } >"$SCRIPT"
rm "$SCRIPT.body"

"$BIN" --data-dir "$DATA_DIR" pg stop >/dev/null 2>&1 || true
rm -rf "$DATA_DIR"
# As the walk-through says to run it in one go: more connections a minute than the default.
MULTIVIO_LISTEN="$LISTEN" MULTIVIO_SANDBOX_LISTEN="$SANDBOX" MULTIVIO_DATA_DIR="$DATA_DIR" \
  MULTIVIO_RATE_LIMITS=connect=100 RUST_LOG="${RUST_LOG:-warn}" "$BIN" serve >"$WORK/server.log" 2>&1 &
SERVER=$!
stop() {
  kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null || true
  "$BIN" --data-dir "$DATA_DIR" pg stop >/dev/null 2>&1 || true
}
trap stop EXIT
for _ in $(seq 1 300); do
  curl -fs "http://$LISTEN/readyz" >/dev/null 2>&1 && break
  kill -0 "$SERVER" 2>/dev/null || { tail -20 "$WORK/server.log" >&2; fail "the server stopped"; }
  sleep 0.2
done
curl -fs "http://$LISTEN/readyz" >/dev/null || fail "the server did not become ready"

# The picture the walk-through uploads (photo.png in its directory): 640×480, one colour,
# written with Python's standard library.
python3 - "$WORK/photo.png" <<'PY'
import struct, sys, zlib
w, h = 640, 480
raw = b"".join(b"\x00" + b"\xd2\x8c\x3c" * w for _ in range(h))
def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
png += chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
open(sys.argv[1], "wb").write(png)
PY

log "running the walk-through of docs/api.md ($(grep -c . "$SCRIPT") lines)"
(cd "$WORK" && timeout 300 bash walkthrough.sh) >"$WORK/output.txt" 2>&1 || {
  tail -30 "$WORK/output.txt" >&2
  fail "a step of the walk-through failed (output in $WORK/output.txt)"
}

# What it should have done.
TOKEN=$("$BIN" dev-token --uid alice --email alice@example.com)
api() { curl -fs "http://$LISTEN$1" -H "Authorization: Bearer $TOKEN"; }
connected=$(api /v1/connections | jq -r '[.items[].provider] | sort | join(",")')
[ "$connected" = "bluesky,facebook,facebook,facebook,instagram,linkedin,linkedin,mastodon,pinterest,threads,twitter" ] \
  || fail "connections after the walk-through: $connected"
status=$(api "/v1/posts?limit=10" | jq -r '.items[] | select(.name == "Launch") | .status')
[ "$status" = published ] || fail "the launch post is $status, not published"
bread=$(api "/v1/posts?limit=10" | jq -r '[.items[] | select(.name == "Bread" and (.media_files | length) == 1)] | length')
[ "$bread" = 1 ] || fail "the pin's draft with its uploaded image was not created"
plan=$(api /v1/subscription | jq -r .plan)
[ "$plan" = pro ] || fail "after the sandbox's checkout the plan is $plan, not pro"
posts=$(curl -fs "http://$SANDBOX/_sandbox/posts")
for platform in x bluesky; do
  first=$(jq --arg p "$platform" '[.[] | select(.platform == $p and (.text | startswith("We launched!")))] | length' <<<"$posts")
  second=$(jq --arg p "$platform" '[.[] | select(.platform == $p and (.text | startswith("Try it today")) and .reply_to != null)] | length' <<<"$posts")
  [ "$first" = 1 ] && [ "$second" = 1 ] \
    || fail "$platform holds $first first parts and $second replying second parts, not one each"
done
log "ok: every step ran; the accounts are connected, the thread is on X and Bluesky, the draft has its image, the plan is pro"
