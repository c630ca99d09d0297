#!/usr/bin/env bash
# The API and publisher benchmark (docs/benchmarks.md): a private PostgreSQL, 10,000 users ×
# 100 posts, a release `multivio serve`, a load generator in its own process, pgbench with the
# SQL each endpoint needs in the same run, then the publisher with 1 and 2 worker processes
# against the sandbox. Prints one table and writes it to target/bench/results.md.
#
# Settings (environment): BENCH_SECS (measured seconds per endpoint, 20), BENCH_WARMUP (5),
# BENCH_CONNECTIONS (64), BENCH_USERS (10000), BENCH_POSTS (100 per user), BENCH_TOKENS (1000
# users whose tokens rotate), BENCH_TARGETS (20000), BENCH_ACCOUNTS (20 sandbox accounts);
# to measure a part only: BENCH_ENDPOINTS ("list get create validate schedule"), BENCH_WORKERS
# ("1 2": the publisher rounds; empty for none), BENCH_STEADY ("500 1000": targets per second
# falling due steadily for BENCH_SECS, one worker; empty for none); BENCH_PG_STATS=1 loads pg_stat_statements and
# writes each publisher round's costliest statements to target/bench/pg-statements-<round>.txt;
# BENCH_BIN: another release build of `multivio` to measure (say, an earlier commit's, for a
# comparison on the same machine minutes apart — the machine's speed moves between runs).
set -euo pipefail
cd "$(dirname "$0")/.."

SECS=${BENCH_SECS:-20}
WARMUP=${BENCH_WARMUP:-5}
CONNS=${BENCH_CONNECTIONS:-64}
USERS=${BENCH_USERS:-10000}
POSTS=${BENCH_POSTS:-100}
TOKENS=${BENCH_TOKENS:-1000}
TARGETS=${BENCH_TARGETS:-20000}
ACCOUNTS=${BENCH_ACCOUNTS:-20}
ENDPOINTS=${BENCH_ENDPOINTS-list get create validate schedule}
WORKER_ROUNDS=${BENCH_WORKERS-1 2}
STEADY_RATES=${BENCH_STEADY-500 1000}
API_ADDR=127.0.0.1:18080
SANDBOX_ADDR=127.0.0.1:18090

command -v pgbench >/dev/null || scripts/bootstrap.sh
command -v jq >/dev/null || { apt-get install -y -qq jq >/dev/null 2>&1 || true; }
command -v jq >/dev/null || { echo "bench: jq is needed (apt-get install jq)" >&2; exit 1; }

echo "bench: building (release)"
cargo build --quiet --release -p multivio --bin multivio --example bench
BIN=${BENCH_BIN:-$PWD/target/release/multivio}
BENCH=$PWD/target/release/examples/bench
OUT=$PWD/target/bench
mkdir -p "$OUT"

DATA=${TMPDIR:-/tmp}/multivio-bench-$(id -u)
"$BIN" --data-dir "$DATA" pg stop >/dev/null 2>&1 || true
rm -rf "$DATA"
mkdir -p "$DATA"
chmod 755 "$DATA"

PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  "$BIN" --data-dir "$DATA" pg stop >/dev/null 2>&1 || true
}
trap cleanup EXIT

export MULTIVIO_TOKEN_KEYS="bench:$(head -c 32 /dev/urandom | base64 -w0)"
DATABASE_URL=$("$BIN" --data-dir "$DATA" pg url)
export DATABASE_URL
eval "$("$BIN" --data-dir "$DATA" pg env)"
export RUST_LOG=warn

"$BIN" --data-dir "$DATA" migrate >/dev/null
if [ -n "${BENCH_PG_STATS:-}" ]; then
  # Statement statistics for the publisher rounds (target/bench/pg-statements-<round>.txt).
  psql -qc "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'" >/dev/null
  "$BIN" --data-dir "$DATA" pg stop >/dev/null
  DATABASE_URL=$("$BIN" --data-dir "$DATA" pg url)
  eval "$("$BIN" --data-dir "$DATA" pg env)"
  psql -qc "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" >/dev/null
fi
"$BENCH" seed --users "$USERS" --posts "$POSTS"

wait_ready() {
  for _ in $(seq 1 300); do
    curl -fs "http://$1${2:-/healthz}" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  echo "bench: nothing answers on $1" >&2
  return 1
}

serve() {
  env MULTIVIO_LISTEN=$API_ADDR MULTIVIO_RATE_LIMITS=publish=1000000,write=1000000,connect=1000000 \
    "$@" "$BIN" --data-dir "$DATA" serve --no-worker >>"$DATA/serve.log" 2>&1 &
  SERVER=$!
  PIDS+=("$SERVER")
  wait_ready "$API_ADDR"
}

# CPU time (clock ticks, user + system) of the given processes so far.
cpu_ticks() {
  local sum=0 pid t
  for pid in "$@"; do
    # Fields 14 and 15 of /proc/<pid>/stat, counted after the command's closing parenthesis.
    t=$(sed -E 's/^.*\) //' "/proc/$pid/stat" 2>/dev/null | awk '{ print $12 + $13 }') || t=0
    sum=$((sum + ${t:-0}))
  done
  echo "$sum"
}

# PostgreSQL's processes: the postmaster and its children (the backends and helpers).
pg_pids() {
  local pm
  pm=$(head -1 "$DATA/postgres/postmaster.pid" 2>/dev/null) || return 0
  echo "$pm" $(pgrep -P "$pm")
}

peak_rss_mib() {
  awk '/VmHWM/ { printf "%.0f", $2 / 1024 }' "/proc/$1/status" 2>/dev/null || echo "?"
}

echo "bench: API at $API_ADDR, $CONNS connections, ${WARMUP}s warm-up, ${SECS}s each"
serve MULTIVIO_SANDBOX=false
"$BENCH" pgbench-scripts --dir "$DATA/pgbench" --users "$TOKENS" --posts "$POSTS"

pgbench_tps() {
  "$BENCH" claims --users "$TOKENS" >&2
  local out="$OUT/pgbench-$1.txt"
  if ! pgbench -n -M prepared -c "$CONNS" -j 2 -T "$SECS" -f "$DATA/pgbench/$1.sql" \
    "$PGDATABASE" >"$out" 2>&1; then
    echo "bench: pgbench $1 failed:" >&2
    tail -5 "$out" >&2
    return 1
  fi
  awk '/^tps = / { printf "%.0f", $3 }' "$out"
}

# pgbench's mean latency for a script it ran (ms): with every client always busy, the
# database's own time per transaction at this concurrency — a floor for the API's p50.
pgbench_latency() {
  awk '/^latency average = / { printf "%.1f", $4 }' "$OUT/pgbench-$1.txt"
}

ROWS=()
for scenario in $ENDPOINTS; do
  api=$("$BENCH" load --base "http://$API_ADDR" --scenario "$scenario" --users "$TOKENS" \
    --connections "$CONNS" --warmup-secs "$WARMUP" --secs "$SECS")
  echo "$api" >"$OUT/$scenario.json"
  case $scenario in
    list) baseline=list-lean; exact=$(pgbench_tps list-exact) ;;
    *) baseline=$scenario; exact="" ;;
  esac
  base_tps=$(pgbench_tps "$baseline")
  rps=$(jq -r '.rps | floor' <<<"$api")
  ratio=$(awk -v a="$rps" -v b="$base_tps" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "?" }')
  errors=$(jq -r '.errors' <<<"$api")
  first=$(jq -r '.first_error // ""' <<<"$api")
  [ "$errors" = 0 ] || echo "bench: $scenario: $errors errors, first: $first" >&2
  ROWS+=("| $scenario | $rps | $(jq -r .p50_ms <<<"$api") | $(jq -r .p99_ms <<<"$api") | $errors | $base_tps ($baseline)${exact:+; exact SQL $exact} | $(pgbench_latency "$baseline") | $ratio |")
done
API_RSS=$(peak_rss_mib "$SERVER")
kill "$SERVER"
wait "$SERVER" 2>/dev/null || true

PUB_ROWS=()
STEADY_ROWS=()
CPU_ROWS=()
WORKER_RSS=0
SERVE_RSS=-

# One publisher round: $1 workers, $2 targets, falling due at $3 per second (0: all at once),
# named $4. Leaves its JSON result in $OUT/publisher-$4.json and its CPU row in CPU_ROWS.
publisher_round() {
  local workers=$1 targets=$2 rate=$3 name=$4 result cpu_before cpu_after rss pid i
  "$BENCH" publish --base "http://$API_ADDR" --sandbox "http://$SANDBOX_ADDR" \
    --targets "$targets" --accounts "$ACCOUNTS" --rate "$rate" --phase prepare --round "$name"
  WPIDS=()
  for i in $(seq 1 "$workers"); do
    env MULTIVIO_SANDBOX=true MULTIVIO_SANDBOX_URL="http://$SANDBOX_ADDR" \
      "$BIN" --data-dir "$DATA" worker >>"$DATA/worker-$name-$i.log" 2>&1 &
    WPIDS+=("$!")
    PIDS+=("$!")
  done
  [ -z "${BENCH_PG_STATS:-}" ] || psql -qAtc "SELECT pg_stat_statements_reset()" >/dev/null
  cpu_before="$(cpu_ticks $(pg_pids)) $(cpu_ticks "$SANDBOX") $(cpu_ticks "$SERVER")"
  result=$("$BENCH" publish --base "http://$API_ADDR" --sandbox "http://$SANDBOX_ADDR" \
    --targets "$targets" --accounts "$ACCOUNTS" --phase wait --round "$name")
  # Where the round's CPU went, per 1,000 targets (PostgreSQL's backends that ended during
  # the round are not counted; the pools keep theirs open).
  cpu_after="$(cpu_ticks $(pg_pids)) $(cpu_ticks "$SANDBOX") $(cpu_ticks "$SERVER") $(cpu_ticks "${WPIDS[@]}")"
  CPU_ROWS+=("$(awk -v b="$cpu_before" -v a="$cpu_after" -v n="$targets" -v r="$name" -v hz="$(getconf CLK_TCK)" 'BEGIN {
    split(b, x, " "); split(a, y, " "); k = 1000 / n / hz
    printf "| %s | %.2f | %.2f | %.2f | %.2f |", r, (y[1] - x[1]) * k, (y[4]) * k, (y[2] - x[2]) * k, (y[3] - x[3]) * k }')")
  echo "$result" >"$OUT/publisher-$name.json"
  if [ -n "${BENCH_PG_STATS:-}" ]; then
    psql -qc "SELECT calls, round(total_exec_time) AS total_ms,
                round(mean_exec_time::numeric, 3) AS mean_ms, rows,
                left(regexp_replace(query, '\s+', ' ', 'g'), 110) AS query
           FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 25" \
      >"$OUT/pg-statements-$name.txt"
  fi
  for pid in "${WPIDS[@]}"; do
    rss=$(peak_rss_mib "$pid")
    [ "$rss" != "?" ] && [ "$rss" -gt "$WORKER_RSS" ] && WORKER_RSS=$rss
    kill "$pid" 2>/dev/null || true
  done
  wait "${WPIDS[@]}" 2>/dev/null || true
  ROUND_RESULT=$result
}

if [ -n "$WORKER_ROUNDS$STEADY_RATES" ]; then
echo "bench: publisher against the sandbox at $SANDBOX_ADDR"
env MULTIVIO_SANDBOX_LISTEN=$SANDBOX_ADDR "$BIN" --data-dir "$DATA" sandbox >>"$DATA/sandbox.log" 2>&1 &
SANDBOX=$!
PIDS+=("$SANDBOX")
wait_ready "$SANDBOX_ADDR" /_sandbox/posts
serve MULTIVIO_SANDBOX=true MULTIVIO_SANDBOX_URL="http://$SANDBOX_ADDR"
"$BENCH" publish --base "http://$API_ADDR" --sandbox "http://$SANDBOX_ADDR" \
  --accounts "$ACCOUNTS" --phase connect
for workers in $WORKER_ROUNDS; do
  echo "bench: $TARGETS targets due at once, $workers worker(s)"
  publisher_round "$workers" "$TARGETS" 0 "w$workers"
  r=$ROUND_RESULT
  PUB_ROWS+=("| $workers | $(jq -r .published <<<"$r") / $(jq -r .targets <<<"$r") | $(jq -r '.targets_per_s | floor' <<<"$r") | $(jq -r .lag_p50_ms <<<"$r") | $(jq -r .lag_p99_ms <<<"$r") | $(jq -r .duplicates <<<"$r") |")
done
for rate in $STEADY_RATES; do
  # Two targets per post: round the count to an even number of targets.
  steady_targets=$(( (rate * SECS + 1) / 2 * 2 ))
  echo "bench: $steady_targets targets falling due at $rate/s, 1 worker"
  publisher_round 1 "$steady_targets" "$rate" "s$rate"
  r=$ROUND_RESULT
  STEADY_ROWS+=("| $rate | $(jq -r .published <<<"$r") / $(jq -r .targets <<<"$r") | $(jq -r .lag_p50_ms <<<"$r") | $(jq -r .lag_p99_ms <<<"$r") | $(jq -r .lag_max_ms <<<"$r") | $(jq -r .duplicates <<<"$r") |")
done
SERVE_RSS=$(peak_rss_mib "$SERVER")
fi

{
  echo "Multivio API benchmark, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)"
  echo "$USERS users × $POSTS posts; $TOKENS users' tokens rotating; $CONNS connections; ${SECS}s per endpoint after ${WARMUP}s"
  echo
  echo "| endpoint | API req/s | p50 ms | p99 ms | errors | pgbench tx/s (script) | pgbench mean ms | API / pgbench |"
  echo "|---|---|---|---|---|---|---|---|"
  printf '%s\n' "${ROWS[@]}"
  echo
  if [ "${#PUB_ROWS[@]}" -gt 0 ]; then
    echo "Targets due at once:"
    echo
    echo "| workers | published | targets/s | lag p50 ms | lag p99 ms | duplicates |"
    echo "|---|---|---|---|---|---|"
    printf '%s\n' "${PUB_ROWS[@]}"
    echo
  fi
  if [ "${#STEADY_ROWS[@]}" -gt 0 ]; then
    echo "Targets falling due at a steady rate for ${SECS}s, one worker:"
    echo
    echo "| targets/s due | published | lag p50 ms | lag p99 ms | lag max ms | duplicates |"
    echo "|---|---|---|---|---|---|"
    printf '%s\n' "${STEADY_ROWS[@]}"
    echo
  fi
  if [ "${#CPU_ROWS[@]}" -gt 0 ]; then
    echo "CPU seconds per 1,000 targets published:"
    echo
    echo "| round | PostgreSQL | worker processes | sandbox | API server |"
    echo "|---|---|---|---|---|"
    printf '%s\n' "${CPU_ROWS[@]}"
    echo
  fi
  echo "Peak RSS: API server ${API_RSS} MiB under load, ${SERVE_RSS} MiB serving the publisher run; worker ${WORKER_RSS} MiB."
} | tee "$OUT/results.md"
