# Multivio's commands. `just` lists them.

_default:
    @just --list --unsorted

# Run the API on its embedded defaults: private PostgreSQL under ./.multivio, 127.0.0.1:8080
run *ARGS:
    cargo run -p multivio -- serve {{ARGS}}

# Run every test (real PostgreSQL: DATABASE_URL, or a private cluster started for the run)
test *ARGS:
    scripts/test.sh {{ARGS}}

# Formatting, clippy with warnings as errors, and the core crates' dependency boundary
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings
    scripts/check-boundaries.sh

# Format the code
fmt:
    cargo fmt --all

# Apply pending migrations to the configured database (DATABASE_URL or the private one)
migrate:
    cargo run -p multivio -- migrate

# psql into the private database (starts its cluster if it is not running)
db:
    psql "$(cargo run --quiet -p multivio -- pg url)"

# Stop the private database's cluster
db-stop:
    cargo run --quiet -p multivio -- pg stop

# Regenerate crates/adapters/postgres/src/schema.rs from the migrations
schema:
    MULTIVIO_BLESS=1 cargo test -p multivio-postgres --test schema

# Regenerate crates/http/openapi.json after a deliberate API change (a test compares them)
openapi:
    MULTIVIO_BLESS=1 cargo test -p multivio-http --test openapi

# Check the running API against its OpenAPI document (schemathesis, every operation, stateful phase) and run the generated TypeScript client; EXAMPLES per operation
api-check EXAMPLES="50":
    scripts/api-check.sh {{EXAMPLES}}

# Run docs/api.md's curl walk-through against a fresh server and its sandbox, and check what it did
walkthrough-check:
    scripts/walkthrough-check.sh

# Check the migrations against the seed schema (needs ../shared, as in the project's workspace)
seed-check:
    #!/usr/bin/env bash
    set -euo pipefail
    dir="${TMPDIR:-/tmp}/multivio-seed-check-$(id -u)"
    eval "$(cargo run --quiet -p multivio -- --data-dir "$dir" pg env)"
    trap 'cargo run --quiet -p multivio -- --data-dir "$dir" pg stop' EXIT
    ../shared/tools/check-seed-schema

# Benchmarks: figures and ratios against a baseline measured in the same run
bench:
    cargo bench -p multivio-domain --bench content

# The API and publisher benchmark against the database's own limit (docs/benchmarks.md)
bench-api:
    scripts/bench-api.sh

# The server's memory while media move: 32 slow downloads of 100 MiB, a 2 GiB upload refused (docs/benchmarks.md)
bench-media:
    scripts/bench-media.sh

# Seed 1M posts and print the plans of post listing and the job claim (each must use an index)
explain:
    #!/usr/bin/env bash
    set -euo pipefail
    if [ -z "${DATABASE_URL:-}" ]; then
      export MULTIVIO_TEST_DATA_DIR="${TMPDIR:-/tmp}/multivio-explain-$(id -u)"
      trap 'cargo run --quiet -p multivio -- --data-dir "$MULTIVIO_TEST_DATA_DIR" pg stop' EXIT
    fi
    cargo run --quiet -p multivio-postgres --features testing --example explain

# Render /docs in headless Chromium with the network off; screenshot in target/docs.png
docs-screenshot:
    scripts/docs-screenshot.sh

# Build the API docs of every crate and open nothing (target/doc)
doc:
    cargo doc --workspace --no-deps
