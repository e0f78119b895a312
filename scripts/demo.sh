#!/usr/bin/env bash
# Installs pcse-intake (a plain, non-editable install into .venv) and runs the demo:
# an embedded IMAP server seeded with sample e-mails, an SMTP sink, SQLite, the daemon and
# the staff console, all on loopback. Arguments are passed on to `pcse-intake demo`.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! python3 -c "import ensurepip, venv" 2>/dev/null; then
  echo "installing Debian package python3-venv"
  if [ "$(id -u)" -eq 0 ]; then apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
  else sudo apt-get update -qq && sudo apt-get install -y -qq python3-venv >/dev/null; fi
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install -q --disable-pip-version-check .
exec .venv/bin/pcse-intake demo "$@"
