#!/usr/bin/env bash
# The S3-compatible server the storage adapter's tests run against: moto in server mode
# (`moto[server]` from PyPI, pinned below), installed into its own virtual environment — with
# aiosmtpd (pinned too), the SMTP server of the API's mail tests (scripts/smtp-sink.py), so
# that they do not depend on the standard library's smtpd, which Python 3.12 removed.
#
#   scripts/s3-test-server.sh install   installs them when missing (bootstrap.sh runs this)
#   scripts/s3-test-server.sh path      prints the moto_server executable's path
#   scripts/s3-test-server.sh python    prints the environment's python (it has aiosmtpd)
#
# The tests (crates/adapters/storage/tests/s3.rs) start `moto_server` themselves on a free
# loopback port; they find it through MULTIVIO_MOTO_SERVER, else at the path printed above,
# else on PATH. They fail when it cannot be started, unless MULTIVIO_S3_TESTS=skip, which
# skips them with a message saying so.
#
# The environment lives outside the checkout (MULTIVIO_MOTO_VENV, default
# ~/.cache/multivio/moto-<version>), so fresh clones on one machine share it.
set -euo pipefail

MOTO_VERSION=5.2.5
AIOSMTPD_VERSION=1.4.6
venv="${MULTIVIO_MOTO_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/multivio/moto-$MOTO_VERSION}"
server="$venv/bin/moto_server"

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else echo "s3-test-server: need root for: $*" >&2; return 1
  fi
}

apt_install() {
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
}

# A python3 whose venv module can create an environment with pip in it.
python_with_venv() {
  local candidate
  for candidate in python3 /usr/bin/python3; do
    if command -v "$candidate" >/dev/null \
       && "$candidate" -c 'import venv, ensurepip' 2>/dev/null; then
      command -v "$candidate"
      return 0
    fi
  done
  return 1
}

install() {
  if [ -x "$server" ] && "$venv/bin/python" -c "import moto, aiosmtpd; assert moto.__version__ == '$MOTO_VERSION' and aiosmtpd.__version__ == '$AIOSMTPD_VERSION'" 2>/dev/null; then
    return 0
  fi
  local python
  if ! python=$(python_with_venv); then
    echo "s3-test-server: installing python3-venv"
    apt_install python3 python3-venv
    python=$(python_with_venv)
  fi
  echo "s3-test-server: installing moto[server]==$MOTO_VERSION and aiosmtpd==$AIOSMTPD_VERSION into $venv"
  rm -rf "$venv"
  mkdir -p "$(dirname "$venv")"
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    "moto[server]==$MOTO_VERSION" "aiosmtpd==$AIOSMTPD_VERSION"
  "$server" --help >/dev/null
}

case "${1:-install}" in
  install) install ;;
  path) echo "$server" ;;
  python) echo "$venv/bin/python" ;;
  *) echo "usage: $0 [install|path|python]" >&2; exit 2 ;;
esac
