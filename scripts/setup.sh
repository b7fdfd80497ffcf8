#!/usr/bin/env bash
# Install everything the project needs, from a fresh clone: a virtualenv with the package and its
# test tools, and the npm configurable-http-proxy the hub uses. Safe to run again (it is quick then).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[test]"

if ! command -v npm >/dev/null; then
  echo "npm is needed for configurable-http-proxy: install Node.js 18 or newer (apt-get install nodejs npm)" >&2
  exit 1
fi
(cd tools && npm ci --no-audit --no-fund --loglevel=error)
echo "setup: done (.venv, tools/node_modules)"
