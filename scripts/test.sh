#!/usr/bin/env bash
# Runs every test of the workspace. Tests talk to a real PostgreSQL: DATABASE_URL when set,
# otherwise a private cluster that the first test starts and this script stops at the end.
# Extra arguments go to the test runner.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${DATABASE_URL:-}" ]; then
  # Under the system's temporary directory rather than target/: as root the cluster runs as the
  # postgres user, which may not be able to enter a checkout under a private home.
  export MULTIVIO_TEST_DATA_DIR="${TMPDIR:-/tmp}/multivio-test-$(id -u)-$(pwd | cksum | cut -d' ' -f1)"
  stop_private_cluster() {
    cargo run --quiet -p multivio -- --data-dir "$MULTIVIO_TEST_DATA_DIR" pg stop || true
  }
  trap stop_private_cluster EXIT
fi

if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast "$@"
  cargo test --workspace --doc --quiet
else
  cargo test --workspace --no-fail-fast "$@"
fi
