#!/usr/bin/env bash
# Runs every test of the workspace. Tests talk to a real PostgreSQL: DATABASE_URL when set,
# otherwise a private cluster under target/test-data that the first test starts and this
# script stops at the end. Extra arguments go to the test runner.
set -euo pipefail
cd "$(dirname "$0")/.."

stop_private_cluster() {
  cargo run --quiet -p multivio -- --data-dir target/test-data pg stop || true
}
if [ -z "${DATABASE_URL:-}" ]; then
  trap stop_private_cluster EXIT
fi

if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast "$@"
  cargo test --workspace --doc --quiet
else
  cargo test --workspace --no-fail-fast "$@"
fi
