"""The "Run elsewhere" panel's server side: a jupyter-server extension.

Enabled by ``jupyter-config/server-config/jupyterhub_execplanner.json`` (installed into
``etc/jupyter/jupyter_server_config.d``), or by hand with
``--ServerApp.jpserver_extensions jupyterhub_execplanner.labserver=True``. Its routes are under
``{base_url}execplanner/`` (see docs/lab-panel.md); its settings are ``c.ExecPlannerLab.*``.
"""

from __future__ import annotations

import os
from typing import Any

from jupyter_server.utils import url_path_join

from .handlers import handlers
from .lab import Lab
from .settings import ExecPlannerLab


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "jupyterhub_execplanner.labserver"}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    settings = ExecPlannerLab(parent=serverapp)
    lab = Lab(settings, serverapp.contents_manager, os.environ)
    web_app = serverapp.web_app
    base_url = web_app.settings["base_url"]
    web_app.settings["execplanner_lab"] = lab
    web_app.add_handlers(".*$", [(url_path_join(base_url, pattern), h) for pattern, h in handlers])
    serverapp.log.info(
        "jupyterhub_execplanner.labserver: hubs in %s, own hub %s",
        settings.hubs_file,
        "from the environment" if lab._own_name() else "none (not under a JupyterHub)",
    )
