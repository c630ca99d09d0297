#!/usr/bin/env bash
# Installs what Multivio's commands need, on a Debian or Ubuntu machine that has Rust:
#   - PostgreSQL's server binaries (the private database of `just run` and the tests) and psql,
#   - just (the command runner),
#   - moto (an S3-compatible server from PyPI, in its own virtual environment) for the S3
#     storage adapter's tests, and aiosmtpd beside it for the mail tests' SMTP server:
#     scripts/s3-test-server.sh.
# Each is installed only when missing; a second run does nothing.
set -euo pipefail

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else echo "bootstrap: need root for: $*" >&2; return 1
  fi
}

apt_updated=""
apt_install() {
  if [ -z "$apt_updated" ]; then as_root apt-get update -qq; apt_updated=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
}

have_pg_server() {
  command -v initdb >/dev/null && command -v pg_ctl >/dev/null && return 0
  for bin in /usr/lib/postgresql/*/bin; do
    [ -x "$bin/initdb" ] && [ -x "$bin/pg_ctl" ] && return 0
  done
  return 1
}

if ! have_pg_server; then
  echo "bootstrap: installing PostgreSQL"
  apt_install postgresql
fi
command -v psql >/dev/null || apt_install postgresql-client
# The API tests' SMTP server runs as a process of its own (scripts/smtp-sink.py).
command -v python3 >/dev/null || apt_install python3

if ! command -v just >/dev/null; then
  echo "bootstrap: installing just"
  # The PyPI package ships just's prebuilt binary: seconds instead of minutes of compiling.
  if command -v pip3 >/dev/null && pip3 install --quiet rust-just 2>/dev/null; then
    command -v pyenv >/dev/null && pyenv rehash || true
    hash -r
  fi
  if ! command -v just >/dev/null; then
    cargo install just --locked --quiet
  fi
fi
just --version >/dev/null

"$(dirname "$0")/s3-test-server.sh" install
