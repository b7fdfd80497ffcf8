#!/usr/bin/env bash
# The quick start: set up, then run a local JupyterHub (SQLite, local process spawner, dummy login)
# with the execution broker at http://127.0.0.1:8000/services/execplanner/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/tools/node_modules/.bin:$PWD/.venv/bin:$PATH"
# EXECPLANNER_HUB_HOST: the name you open the hub by. Browsers keep login cookies per host name, not
# per port: a second local hub opened by another name (localhost) does not log you out of the first.
url="http://${EXECPLANNER_HUB_HOST:-127.0.0.1}:${EXECPLANNER_HUB_PORT:-8000}"
cat <<EOT

  JupyterHub:        $url/hub/  (log in with any name, no password)
  Execution broker:  $url/services/execplanner/
  State folder:      ${EXECPLANNER_STATE_DIR:-.cache/hub} (the hub's and the broker's databases, homes)
  A token:           log in, open /hub/token, press "Request new API token"; then try
                     execplanner ask examples/notebook.yaml --hub $url --token TOKEN

EOT
# linked accounts between two trial hubs (EXECPLANNER_PEER_URL / EXECPLANNER_LINK_FROM, see
# docs/linked-accounts.md): the linked tokens are kept encrypted with JUPYTERHUB_CRYPT_KEY; a trial hub
# without one gets a key of its own, kept (mode 0600) in its state folder
if [ -n "${EXECPLANNER_PEER_URL:-}" ] && [ -z "${JUPYTERHUB_CRYPT_KEY:-}" ]; then
  state="${EXECPLANNER_STATE_DIR:-.cache/hub}"
  mkdir -p "$state"
  if [ ! -s "$state/crypt_key" ]; then
    (umask 077 && python -c 'import secrets; print(secrets.token_hex(32))' > "$state/crypt_key")
  fi
  JUPYTERHUB_CRYPT_KEY="$(cat "$state/crypt_key")"
  export JUPYTERHUB_CRYPT_KEY
fi
exec jupyterhub -f examples/jupyterhub_config.py "$@"
