"""Every setting of the broker, as traitlets on one Configurable.

:class:`ExecPlanner` is shared by the service (:class:`~.app.ExecPlannerApp` inherits it) and by
``setup_execplanner(c, **settings)``, which validates keyword arguments against it when the hub reads
its configuration, so a wrong setting stops the hub at start with a message that names it.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

from traitlets import Bool, Dict, Float, Int, List, TraitError, Unicode, Union, default, validate

from .settings_cluster import ClusterSettings
from .settings_data import DataSettings
from .settings_limits import LimitSettings
from .settings_peers import PeerSettings
from .settings_run import RunSettings
from .traits import CONFIG_SECTION, duration_trait, to_seconds

__all__ = ["CONFIG_SECTION", "ExecPlanner", "to_seconds"]


class ExecPlanner(DataSettings, RunSettings, ClusterSettings, PeerSettings, LimitSettings):
    """The broker's settings. Set them as ``c.ExecPlanner.<name>`` or as keyword arguments of
    ``setup_execplanner(c, <name>=...)``."""

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

    db_url = Unicode(
        help="""
        SQLAlchemy URL of the database that keeps offersets and sessions across restarts.

        Default: ``sqlite:///jupyterhub_execplanner.sqlite`` beside the hub's config file (or in the
        working folder). For PostgreSQL: ``postgresql+psycopg://user:password@host/dbname``.
        """
    ).tag(config=True)

    @default("db_url")
    def _default_db_url(self) -> str:
        folder = (
            os.path.dirname(os.path.abspath(self.hub_config_file))
            if self.hub_config_file
            else os.getcwd()
        )
        return "sqlite:///" + os.path.join(folder, "jupyterhub_execplanner.sqlite")

    offer_expiry = duration_trait(
        300.0,
        help="""
        How long an offer stays valid (seconds, or an ISO 8601 duration such as ``'PT5M'``). An offer
        reserves its resources until it expires, is rejected, or a sibling is accepted; then it is
        EXPIRED and the capacity is free again. Default: 300 seconds, as the standard's reference broker.
        """,
    )

    max_offers = Int(
        4,
        help="""
        The most offers one request gets (1-50). Offers are sorted by earliest start, then best fit.
        """,
    ).tag(config=True)

    default_duration = duration_trait(
        3600.0,
        help="""
        How long a session runs when the request gives no ``schedule.requested.duration`` (seconds or
        ISO 8601). Default: one hour.
        """,
    )

    max_duration = duration_trait(
        86400.0,
        help="""
        The longest session this hub offers (seconds or ISO 8601); a profile may set a shorter one in
        ``execplanner.max_duration``. A request for longer gets NO with a message naming the limit.
        Default: 24 hours.
        """,
    )

    prepare_time = duration_trait(
        30.0,
        help="""
        The default time it takes to start a server (seconds or ISO 8601): the preparing phase before
        an offer's start. A profile may set its own in ``execplanner.prepare``. Default: 30 seconds.
        """,
    )

    releasing_time = duration_trait(
        10.0,
        help="The time it takes to stop a server after its session ends (seconds or ISO 8601).",
    )

    profiles = Union(
        [List(Dict()), Dict()],
        default_value=[],
        help="""
        What this hub offers, for spawners other than KubeSpawner, in KubeSpawner's ``profile_list``
        format: a list of ``{display_name, slug, description, kubespawner_override: {cpu_guarantee,
        cpu_limit, mem_guarantee, mem_limit, image, extra_resource_limits}}`` dicts (or a dict of slug
        to profile). A profile may add ``execplanner: {max_duration, prepare, pool}``. With
        KubeSpawner, its own ``c.KubeSpawner.profile_list`` is used and this is ignored. When neither
        is given, the hub offers one profile describing this host. Example::

            c.ExecPlanner.profiles = [
                {"display_name": "Small", "slug": "small",
                 "kubespawner_override": {"cpu_limit": 2, "mem_limit": "4G"}},
            ]
        """,
    ).tag(config=True)

    capacity = Dict(
        help="""
        The totals this hub can give, per pool: ``{"default": {"cores": 32, "memory": 128,
        "nvidia.com/gpu": 2}}`` (memory in GiB). Empty (the default): the cores and memory of this host,
        less ``reserve_cores`` and ``reserve_memory``.
        """
    ).tag(config=True)

    reserve_cores = Float(
        0.0,
        help="Cores of this host kept back for the hub itself when ``capacity`` is not given.",
    ).tag(config=True)

    reserve_memory = Float(
        0.0,
        help="GiB of this host's memory kept back for the hub itself when ``capacity`` is not given.",
    ).tag(config=True)

    server_footprint = Dict(
        {"cores": 1, "memory": 1},
        help="""
        What a running server holds when nothing else says: ``{"cores": 1, "memory": 1}`` (GiB).
        Every running or starting server of the hub counts against what the broker offers, except
        the servers of the broker's own sessions (its calendar holds those): one started with a known
        ``profile`` user option holds that profile's guarantees, one whose options carry a broker
        launch the larger of that launch's resources and this, any other this.
        """,
    ).tag(config=True)

    hub_poll_interval = Float(
        10.0,
        help="""
        Seconds between reads of the hub's running servers (``GET /hub/api/users?state=active``),
        which the calendar subtracts from capacity. 0 turns the reads off.
        """,
    ).tag(config=True)

    planning_horizon = duration_trait(
        7 * 86400.0,
        help="How far ahead the calendar plans (seconds or ISO 8601). Default: 7 days.",
    )

    calendar_resolution = duration_trait(
        60.0,
        help="""
        The calendar's time step (seconds). Reservations are rounded outward to whole steps, so a
        slot is never oversubscribed. Default: 60 seconds.
        """,
    )

    max_body_size = Int(
        1024 * 1024,
        help="The largest request body accepted, in bytes; larger ones are answered 413. Default 1 MiB.",
    ).tag(config=True)

    authenticate_prometheus = Bool(
        True,
        help="Whether ``GET metrics`` needs a token with the hub's ``read:metrics`` scope.",
    ).tag(config=True)

    public_url = Unicode(
        "",
        help="""
        The broker's public base URL, used in every ``meta.url``, e.g.
        ``https://hub.example.org/services/execplanner/``. Default: built from each request's
        ``Host`` and the service prefix (behind a proxy that sets ``X-Forwarded-Proto``/``-Host``).
        """,
    ).tag(config=True)

    # -- snapshots (the lab panel's notebooks, served to other hubs by capability URL) ------------------

    snapshot_lifetime = duration_trait(
        86400.0,
        help="""
        How long a snapshot (``POST snapshots``: a notebook and its requirements uploaded by the
        JupyterLab panel to be run on any hub) stays readable at its URL (seconds or ISO 8601). Expired
        snapshots are deleted. Keep it longer than the latest start users ask for. Default: 1 day.
        """,
    )

    snapshot_max_size = Int(
        20 * 1024 * 1024,
        help="""
        The largest snapshot accepted, in bytes: the total size of its files (UTF-8). A larger upload
        is answered ``413`` naming this setting. Default: 20 MiB.
        """,
    ).tag(config=True)

    @validate("snapshot_lifetime")
    def _validate_snapshot_lifetime(self, proposal: Any) -> float:
        return to_seconds(proposal.value, proposal.trait.name)

    @validate("snapshot_max_size")
    def _validate_snapshot_max_size(self, proposal: Any) -> int:
        if isinstance(proposal.value, bool) or proposal.value < 1024:
            raise TraitError(
                f"{CONFIG_SECTION}.snapshot_max_size must be at least 1024 bytes, not {proposal.value!r}"
            )
        return proposal.value

    @validate(
        "offer_expiry",
        "default_duration",
        "max_duration",
        "prepare_time",
        "releasing_time",
        "planning_horizon",
        "calendar_resolution",
    )
    def _validate_duration(self, proposal: Any) -> float:
        return to_seconds(proposal.value, proposal.trait.name)

    @validate("max_offers")
    def _validate_max_offers(self, proposal: Any) -> int:
        if not 1 <= proposal.value <= 50:
            raise TraitError(
                f"{CONFIG_SECTION}.max_offers must be between 1 and 50, not {proposal.value}"
            )
        return proposal.value

    @validate("max_body_size")
    def _validate_max_body_size(self, proposal: Any) -> int:
        if proposal.value < 1024:
            raise TraitError(f"{CONFIG_SECTION}.max_body_size must be at least 1024 bytes")
        return proposal.value

    @validate("public_url")
    def _validate_public_url(self, proposal: Any) -> str:
        value = proposal.value
        if value and not value.startswith(("http://", "https://")):
            raise TraitError(
                f"{CONFIG_SECTION}.public_url must start with http:// or https://, not {value!r}"
            )
        return value if not value or value.endswith("/") else value + "/"

    @validate("capacity")
    def _validate_capacity(self, proposal: Any) -> dict:
        cleaned: dict[str, dict[str, float]] = {}
        for pool, totals in proposal.value.items():
            if not isinstance(totals, dict):
                raise TraitError(
                    f"{CONFIG_SECTION}.capacity[{pool!r}] must be a dict like "
                    "{'cores': 8, 'memory': 32}"
                )
            cleaned[str(pool)] = {}
            for key, amount in totals.items():
                if isinstance(amount, bool) or not isinstance(amount, (int, float)) or amount < 0:
                    raise TraitError(
                        f"{CONFIG_SECTION}.capacity[{pool!r}][{key!r}] must be a number >= 0, "
                        f"not {amount!r}"
                    )
                cleaned[str(pool)][str(key)] = float(amount)
            for needed in ("cores", "memory"):
                cleaned[str(pool)].setdefault(needed, 0.0)
        return cleaned

    @validate("server_footprint")
    def _validate_footprint(self, proposal: Any) -> dict:
        value = proposal.value
        for key, amount in value.items():
            if isinstance(amount, bool) or not isinstance(amount, (int, float)) or amount < 0:
                raise TraitError(
                    f"{CONFIG_SECTION}.server_footprint[{key!r}] must be a number >= 0, not {amount!r}"
                )
        return {str(k): float(v) for k, v in value.items()}

    def seconds(self, name: str) -> timedelta:
        return timedelta(seconds=float(getattr(self, name)))
