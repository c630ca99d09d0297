#!/usr/bin/env bash
# The media transfer benchmark (docs/benchmarks.md): a private PostgreSQL, a release
# `multivio serve` with media on local disk, and crates/server/examples/bench_media.rs
# measuring the server's memory while a 100 MiB video is uploaded, downloaded once fast and by
# 32 slow readers at once, and while a 2 GiB upload is refused at the cap. Prints one table and
# writes it to target/bench/media.md.
#
# Settings (environment): BENCH_FILE_MIB (100), BENCH_READERS (32), BENCH_READ_KIB (4096 KiB/s
# per reader), BENCH_HUGE_GIB (2).
set -euo pipefail
cd "$(dirname "$0")/.."

API_ADDR=127.0.0.1:18081
command -v pg_ctl >/dev/null || ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || scripts/bootstrap.sh

echo "bench-media: building (release)"
cargo build --quiet --release -p multivio --bin multivio --example bench_media
BIN=$PWD/target/release/multivio
BENCH=$PWD/target/release/examples/bench_media
OUT=$PWD/target/bench
mkdir -p "$OUT"

DATA=${TMPDIR:-/tmp}/multivio-bench-media-$(id -u)
"$BIN" --data-dir "$DATA" pg stop >/dev/null 2>&1 || true
rm -rf "$DATA"
mkdir -p "$DATA"
chmod 755 "$DATA"

SERVER=""
cleanup() {
  [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null || true
  wait 2>/dev/null || true
  "$BIN" --data-dir "$DATA" pg stop >/dev/null 2>&1 || true
}
trap cleanup EXIT

export MULTIVIO_TOKEN_KEYS="bench:$(head -c 32 /dev/urandom | base64 -w0)"
DATABASE_URL=$("$BIN" --data-dir "$DATA" pg url)
export DATABASE_URL RUST_LOG=warn
"$BIN" --data-dir "$DATA" migrate >/dev/null

env MULTIVIO_LISTEN=$API_ADDR MULTIVIO_SANDBOX=false \
  MULTIVIO_RATE_LIMITS=upload=100000,download=100000 \
  "$BIN" --data-dir "$DATA" serve --no-worker >>"$DATA/serve.log" 2>&1 &
SERVER=$!
for _ in $(seq 1 300); do
  curl -fs "http://$API_ADDR/healthz" >/dev/null 2>&1 && break
  sleep 0.2
done

echo "bench-media: server $SERVER at $API_ADDR"
"$BENCH" --addr "$API_ADDR" --pid "$SERVER" \
  --file-mib "${BENCH_FILE_MIB:-100}" --readers "${BENCH_READERS:-32}" \
  --read-kib-per-sec "${BENCH_READ_KIB:-4096}" --huge-gib "${BENCH_HUGE_GIB:-2}" \
  | tee "$OUT/media.md"
