#!/usr/bin/env bash
# Each layer depends only on what is inward of it; a dependency on a crate it must not reach
# (even indirectly, through any feature) fails the check:
#   - the core (domain, ports, app): no database, web framework, HTTP client or crypto library;
#   - http: the core only — no adapter (every crate under crates/adapters), nor diesel;
#   - adapters: no web framework.
set -euo pipefail
cd "$(dirname "$0")/.."
status=0

check() { # crate, banned crates...
  local crate=$1; shift
  local deps
  deps=$(cargo tree -p "$crate" --all-features -e normal,build --prefix none --format '{p}' \
           | awk '{print $1}' | sort -u)
  for banned in "$@"; do
    if grep -qx "$banned" <<<"$deps"; then
      echo "boundary violated: $crate depends on $banned:"
      cargo tree -p "$crate" --all-features -e normal,build -i "$banned" | head -20
      status=1
    fi
  done
}

# Every crate under crates/adapters, by its package name: a new adapter is checked without
# being listed here.
adapters=()
for manifest in crates/adapters/*/Cargo.toml; do
  adapters+=("$(awk -F'"' '/^name *=/ { print $2; exit }' "$manifest")")
done
[ "${#adapters[@]}" -gt 0 ] || { echo "boundaries: no adapter crates found" >&2; exit 1; }

for crate in multivio-domain multivio-ports multivio-app; do
  check "$crate" diesel diesel-async actix-web reqwest ring "${adapters[@]}"
done
check multivio-http diesel diesel-async "${adapters[@]}"
for crate in "${adapters[@]}"; do
  check "$crate" actix-web actix-http
done

if [ $status = 0 ]; then
  echo "boundaries: the core reaches no adapter, framework or crypto library; http reaches the core only; adapters reach no web framework"
fi
exit $status
