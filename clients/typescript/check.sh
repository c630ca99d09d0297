#!/usr/bin/env bash
# Generates the typed client from a running server's /openapi.json (openapi-typescript),
# compiles the example with `tsc --strict` and runs it against that server.
#
#   clients/typescript/check.sh BASE_URL TOKEN
#
# Installs the pinned packages of package-lock.json (npm ci) when node_modules is missing or
# older than the lock file. Needs node 20 and npm.
set -euo pipefail
cd "$(dirname "$0")"
BASE="${1:?usage: check.sh BASE_URL TOKEN}"
TOKEN="${2:?usage: check.sh BASE_URL TOKEN}"

command -v node >/dev/null && command -v npm >/dev/null || {
  echo "client check: node and npm are needed" >&2
  exit 1
}
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules ]; then
  npm ci --no-audit --no-fund --loglevel=error
  touch node_modules
fi
rm -rf dist src/generated
npx --no-install openapi-typescript "$BASE/openapi.json" --output src/generated/api.d.ts --silent
npx --no-install tsc --strict -p .
MULTIVIO_URL="$BASE" MULTIVIO_TOKEN="$TOKEN" node dist/example.js
