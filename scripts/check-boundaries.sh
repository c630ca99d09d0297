#!/usr/bin/env bash
# The core crates must not depend, even indirectly, on the database, the web framework, the
# HTTP client or the crypto library: those belong to adapters.
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
for crate in multivio-domain multivio-ports multivio-app; do
  deps=$(cargo tree -p "$crate" --all-features -e normal,build --prefix none --format '{p}' \
           | awk '{print $1}' | sort -u)
  for banned in diesel diesel-async actix-web reqwest ring; do
    if grep -qx "$banned" <<<"$deps"; then
      echo "boundary violated: $crate depends on $banned:"
      cargo tree -p "$crate" --all-features -e normal,build -i "$banned" | head -20
      status=1
    fi
  done
done
[ $status = 0 ] && echo "boundaries: domain, ports and app depend on none of diesel, diesel-async, actix-web, reqwest, ring"
exit $status
