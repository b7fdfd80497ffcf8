"""The database that keeps offersets, sessions, launches and snapshots across restarts.

A part of :class:`~.settings.ExecPlanner`: set these as ``c.ExecPlanner.<name>`` or as keyword arguments
of ``setup_execplanner``. Backing it up and restoring it: docs/security.md."""

from __future__ import annotations

import os
from typing import Any

from traitlets import Unicode, default

from .traits import Settings

DB_FILE = "jupyterhub_execplanner.sqlite"


class DatabaseSettings(Settings):
    """The database

    Where the broker keeps what must outlive a restart (SQLite beside the hub's own database unless
    you say otherwise)."""

    db_url = Unicode(
        help="""
        SQLAlchemy URL of the database that keeps offersets and sessions across restarts.

        Default: ``sqlite:///jupyterhub_execplanner.sqlite`` beside the hub's own SQLite database
        (``c.JupyterHub.db_url``, when it is a file with an absolute path), else beside the hub's
        config file (or in the working folder): two hubs with their own state have their own broker
        database. A database already beside the config file (where earlier versions put it) is
        kept. For PostgreSQL: ``postgresql+psycopg://user:password@host/dbname``.
        """
    ).tag(config=True)

    @default("db_url")
    def _default_db_url(self) -> str:
        config_file = getattr(self, "hub_config_file", "")
        beside_config = os.path.join(
            os.path.dirname(os.path.abspath(config_file)) if config_file else os.getcwd(), DB_FILE
        )
        folder = hub_state_folder(getattr(self, "config", None) or {})
        path = os.path.join(folder, DB_FILE) if folder else beside_config
        if not os.path.exists(path) and os.path.exists(beside_config):
            path = beside_config  # where earlier versions kept it: a hub upgraded keeps its sessions
        return "sqlite:///" + path


def hub_state_folder(config: Any) -> str:
    """The folder of the hub's own SQLite database (``c.JupyterHub.db_url``), when it is a file with
    an absolute path; else ``""``."""
    hub = config.get("JupyterHub", {}) if hasattr(config, "get") else {}
    url = hub.get("db_url", "") if hasattr(hub, "get") else ""
    if not isinstance(url, str) or not url.startswith("sqlite:///"):
        return ""
    path = url[len("sqlite:///"):].split("?", 1)[0]
    return os.path.dirname(path) if path and path != ":memory:" and os.path.isabs(path) else ""
