"""The service: its name, the hub's config file it reads, the URL it answers at, what it accepts.

A part of :class:`~.settings.ExecPlanner`: set these as ``c.ExecPlanner.<name>`` or as keyword arguments
of ``setup_execplanner``."""

from __future__ import annotations

import os
from typing import Any

from traitlets import Int, TraitError, Unicode, default, validate

from .traits import CONFIG_SECTION, Settings


class ServiceSettings(Settings):
    """The service

    The hub-managed service itself: its name and URL, the hub configuration it reads, and the
    largest request it accepts."""

    service_name = Unicode(
        help="""
        The name of the hub-managed service, and so the URL prefix ``/services/<name>/``.

        Default: ``$JUPYTERHUB_SERVICE_NAME``, else ``execplanner``.
        """
    ).tag(config=True)

    @default("service_name")
    def _default_service_name(self) -> str:
        return os.environ.get("JUPYTERHUB_SERVICE_NAME", "execplanner")

    hub_config_file = Unicode(
        "",
        help="""
        Path of the hub's ``jupyterhub_config.py``. The service loads it to read the spawner's
        profiles (``KubeSpawner.profile_list``) and these settings. ``setup_execplanner`` sets it to
        the file that called it; set it yourself only when the service runs outside the hub.
        """,
    ).tag(config=True)

    public_url = Unicode(
        "",
        help="""
        The broker's public base URL, used in every ``meta.url``, e.g.
        ``https://hub.example.org/services/execplanner/``. Default: built from each request's
        ``Host`` and the service prefix (behind a proxy that sets ``X-Forwarded-Proto``/``-Host``).
        """,
    ).tag(config=True)

    max_body_size = Int(
        1024 * 1024,
        help="The largest request body accepted, in bytes; larger ones are answered 413. Default 1 MiB.",
    ).tag(config=True)

    @validate("public_url")
    def _validate_public_url(self, proposal: Any) -> str:
        value = proposal.value
        if value and not value.startswith(("http://", "https://")):
            raise TraitError(
                f"{CONFIG_SECTION}.public_url must start with http:// or https://, not {value!r}"
            )
        return value if not value or value.endswith("/") else value + "/"

    @validate("max_body_size")
    def _validate_max_body_size(self, proposal: Any) -> int:
        if proposal.value < 1024:
            raise TraitError(f"{CONFIG_SECTION}.max_body_size must be at least 1024 bytes")
        return proposal.value
