"""The lab server extension's settings: ``c.ExecPlannerLab.<name>`` in the single-user server's
Jupyter config (``jupyter_server_config.py``), or ``--ExecPlannerLab.<name>=`` on its command line."""

from __future__ import annotations

import os
from typing import Any

from jupyter_core.paths import jupyter_data_dir
from traitlets import List, TraitError, Unicode, default, validate
from traitlets.config import Configurable

from ..service.traits import Duration


class ExecPlannerLab(Configurable):
    """Settings of the "Run elsewhere" panel's server side (``jupyterhub_execplanner.labserver``)."""

    hubs_file = Unicode(
        help="""
        The file that keeps the hubs this user added to the panel, with their tokens. It is written
        with mode 0600 (its folder, when the extension creates it, 0700). Default:
        ``<Jupyter data dir>/execplanner/hubs.json`` (``jupyter --data-dir`` shows the folder).
        """
    ).tag(config=True)

    @default("hubs_file")
    def _default_hubs_file(self) -> str:
        return os.path.join(jupyter_data_dir(), "execplanner", "hubs.json")

    timeout = Duration(
        5,
        section="ExecPlannerLab",
        help="""
        How long each hub gets to answer (asking for offers, listing sessions) when the panel does not
        say: seconds or ISO 8601 (``PT5S``), as the broker's settings. A slower hub is reported as a
        timeout and never holds back the others. Default: 5 seconds.
        """,
    ).tag(config=True)

    accept_timeout = Duration(
        30,
        section="ExecPlannerLab",
        help="""
        How long a hub gets to answer an accept (a hub may do more work to accept than to answer);
        the wait is the larger of this and ``timeout``. Showing, rejecting and cancelling a session
        get ``timeout``. Each bounds the whole call, however slowly the hub sends its answer; a hub
        that does not answer in time gives a 504 naming it. Default: 30 seconds.
        """,
    ).tag(config=True)

    service_name = Unicode(
        help="""
        The name of the broker service on the user's own hub (its URL is ``/services/<name>/``).
        Default: ``$EXECPLANNER_SERVICE_NAME``, else ``execplanner``.
        """
    ).tag(config=True)

    @default("service_name")
    def _default_service_name(self) -> str:
        return os.environ.get("EXECPLANNER_SERVICE_NAME") or "execplanner"

    own_hub_name = Unicode(
        "this-hub",
        help="The name the user's own hub is listed under in the panel.",
    ).tag(config=True)

    own_hub_url = Unicode(
        "",
        help="""
        The public URL of the user's own hub (``https://hub.example.org/``) or of its broker. Default:
        ``$JUPYTERHUB_PUBLIC_HUB_URL`` (set when the hub has ``c.JupyterHub.public_url``), else the
        origin of ``$JUPYTERHUB_PUBLIC_URL``, else the scheme and host the browser used to reach this
        server (through the hub's proxy) with ``$JUPYTERHUB_BASE_URL``. The broker builds the snapshot
        URLs other hubs fetch the notebook from from the URL it is reached at, so this must be a URL
        other hubs can reach: set ``c.JupyterHub.public_url`` (or the broker's ``public_url``) on
        hubs behind a proxy that changes the host. The browser's host is used only when it can be
        trusted with the server's token (see ``trusted_hosts``); otherwise the own hub cannot be asked
        (400, asking for this setting or ``c.JupyterHub.public_url``).
        """,
    ).tag(config=True)

    trusted_hosts = List(
        Unicode(),
        help="""
        Hosts the browser may reach this server at (the hub's proxy) that are trusted to be the
        user's own hub when neither ``own_hub_url`` nor ``$JUPYTERHUB_PUBLIC_HUB_URL`` /
        ``$JUPYTERHUB_PUBLIC_URL`` say where it is: ``hub.example.org`` (any port) or
        ``hub.example.org:8443``. The host of ``$JUPYTERHUB_API_URL`` (any port; every loopback name
        counts as one host) is always trusted. The server sends its own hub token to the broker it
        finds this way, and a ``Host`` header can be forged, so any other host is refused.
        Default: none.
        """,
    ).tag(config=True)

    @validate("own_hub_url")
    def _validate_own_hub_url(self, proposal: Any) -> str:
        value = proposal.value.strip()
        if value and not value.startswith(("http://", "https://")):
            raise TraitError(
                f"ExecPlannerLab.own_hub_url must start with http:// or https://, not {value!r}"
            )
        return value
