#!/usr/bin/env bash
# Install everything the project needs, from a fresh clone: a virtualenv with the package and its
# test tools, and the npm configurable-http-proxy the hub uses. Safe to run again (it is quick then).
set -euo pipefail
cd "$(dirname "$0")/.."
# one setup at a time: two hubs started together (scripts/hub.sh twice) would race on pip and npm
if command -v flock >/dev/null; then
  exec 9>.setup.lock
  flock 9
fi

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
if ! command -v npm >/dev/null; then
  echo "npm is needed for configurable-http-proxy and the JupyterLab panel: install Node.js 20.19 or newer" >&2
  exit 1
fi
# The JupyterLab panel (labextension/): its npm packages, installed again only when package-lock.json
# changed. The editable install below then builds the panel when its sources are newer than the build
# (hatch-jupyter-builder) and copies it where JupyterLab finds it (share/jupyter/labextensions).
if [ ! -f labextension/node_modules/.package-lock.json ] \
  || [ labextension/package-lock.json -nt labextension/node_modules/.package-lock.json ]; then
  (cd labextension && npm ci --no-audit --no-fund --loglevel=error)
fi
.venv/bin/python -m pip install --quiet -e ".[test]"

(cd tools && npm ci --no-audit --no-fund --loglevel=error)
echo "setup: done (.venv, tools/node_modules, labextension/node_modules)"
