#!/usr/bin/env bash
# Set up, lint, and run every test layer: pure tables, the service on a real server, and end-to-end
# tests against real JupyterHubs with configurable-http-proxy. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/setup-browser.sh
bash scripts/setup-slurm.sh
bash scripts/setup-dachs.sh
export PATH="$PWD/tools/node_modules/.bin:$PWD/.venv/bin:$PATH"
ruff check jupyterhub_execplanner tests benchmarks examples
mypy
mypy --strict jupyterhub_execplanner/model jupyterhub_execplanner/planning jupyterhub_execplanner/worker/decide.py
(cd labextension && npm test)
status=0
python -m pytest "$@" || status=$?
if [ "$status" -eq 5 ]; then
  echo "pytest collected no tests: that is a failure here" >&2
  exit 1
fi
exit "$status"
