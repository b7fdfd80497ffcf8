#!/usr/bin/env bash
# The quick start: set up, then run a local JupyterHub (SQLite, local process spawner, dummy login)
# with the execution broker at http://127.0.0.1:8000/services/execplanner/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/tools/node_modules/.bin:$PWD/.venv/bin:$PATH"
cat <<EOT

  JupyterHub:        http://127.0.0.1:${EXECPLANNER_HUB_PORT:-8000}/hub/  (log in with any name, no password)
  Execution broker:  http://127.0.0.1:${EXECPLANNER_HUB_PORT:-8000}/services/execplanner/
  A token:           log in, open /hub/token, press "Request new API token"; then try
                     execplanner ask examples/notebook.yaml --hub http://127.0.0.1:${EXECPLANNER_HUB_PORT:-8000} --token TOKEN

EOT
exec jupyterhub -f examples/jupyterhub_config.py "$@"
