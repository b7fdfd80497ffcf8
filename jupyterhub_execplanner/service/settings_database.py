"""The database that keeps offersets, sessions, launches and snapshots across restarts.

A part of :class:`~.settings.ExecPlanner`: set these as ``c.ExecPlanner.<name>`` or as keyword arguments
of ``setup_execplanner``. Backing it up and restoring it: docs/security.md."""

from __future__ import annotations

import os

from traitlets import Unicode, default

from .traits import Settings


class DatabaseSettings(Settings):
    """The database

    Where the broker keeps what must outlive a restart (SQLite beside the hub's config file unless
    you say otherwise)."""

    db_url = Unicode(
        help="""
        SQLAlchemy URL of the database that keeps offersets and sessions across restarts.

        Default: ``sqlite:///jupyterhub_execplanner.sqlite`` beside the hub's config file (or in the
        working folder). For PostgreSQL: ``postgresql+psycopg://user:password@host/dbname``.
        """
    ).tag(config=True)

    @default("db_url")
    def _default_db_url(self) -> str:
        config_file = getattr(self, "hub_config_file", "")
        folder = os.path.dirname(os.path.abspath(config_file)) if config_file else os.getcwd()
        return "sqlite:///" + os.path.join(folder, "jupyterhub_execplanner.sqlite")
