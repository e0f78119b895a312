#!/usr/bin/env bash
# Installs what the test suite needs (Debian packages, a virtualenv) and runs all of it:
# lint, types, the import arrows, then pytest (arguments are passed on to pytest).
set -euo pipefail
cd "$(dirname "$0")/.."

sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

need=()
command -v dovecot >/dev/null || need+=(dovecot-imapd)
command -v chromium >/dev/null || need+=(chromium)
python3 -c "import ensurepip, venv" 2>/dev/null || need+=(python3-venv)
if ((${#need[@]})); then
  echo "installing Debian packages: ${need[*]}"
  sudo_if_needed apt-get update -qq
  DEBIAN_FRONTEND=noninteractive sudo_if_needed apt-get install -y -qq "${need[@]}" >/dev/null
fi

# The tests use PostgreSQL at 127.0.0.1:5432 (trust auth, database "test"), as on our machines;
# start the local cluster if it is installed but down. Elsewhere set PCSE_TEST_PG_ADMIN_URL.
if command -v pg_isready >/dev/null && ! pg_isready -q -h 127.0.0.1 -p 5432; then
  if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
    sudo_if_needed pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
  fi
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".[dev]"

echo "== ruff";   .venv/bin/ruff check .
echo "== mypy";   .venv/bin/mypy
echo "== import arrows"; .venv/bin/lint-imports --no-cache
echo "== pytest"; .venv/bin/python -m pytest "$@"
