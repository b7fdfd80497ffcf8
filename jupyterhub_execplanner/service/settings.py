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
from traitlets.config import Configurable

from ..model.schedule import parse_duration

CONFIG_SECTION = "ExecPlanner"


def to_seconds(value: Any, name: str) -> float:
    """Seconds from a number or an ISO 8601 duration string; TraitError naming the setting if neither."""
    if isinstance(value, bool):
        raise TraitError(
            f"{CONFIG_SECTION}.{name} must be seconds or an ISO 8601 duration, not {value!r}"
        )
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, timedelta):
        seconds = value.total_seconds()
    else:
        try:
            seconds = parse_duration(str(value)).total_seconds()
        except ValueError as e:
            raise TraitError(
                f"{CONFIG_SECTION}.{name} = {value!r} is not a duration: give seconds (300) or an "
                f"ISO 8601 duration such as 'PT5M'. ({e})"
            ) from e
    if seconds <= 0:
        raise TraitError(f"{CONFIG_SECTION}.{name} must be positive, not {value!r}")
    return seconds


def _duration_trait(default_value: float, help: str) -> Union:
    return Union([Float(), Unicode()], default_value=default_value, help=help).tag(config=True)


class ExecPlanner(Configurable):
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

    offer_expiry = _duration_trait(
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

    default_duration = _duration_trait(
        3600.0,
        help="""
        How long a session runs when the request gives no ``schedule.requested.duration`` (seconds or
        ISO 8601). Default: one hour.
        """,
    )

    max_duration = _duration_trait(
        86400.0,
        help="""
        The longest session this hub offers (seconds or ISO 8601); a profile may set a shorter one in
        ``execplanner.max_duration``. A request for longer gets NO with a message naming the limit.
        Default: 24 hours.
        """,
    )

    prepare_time = _duration_trait(
        30.0,
        help="""
        The default time it takes to start a server (seconds or ISO 8601): the preparing phase before
        an offer's start. A profile may set its own in ``execplanner.prepare``. Default: 30 seconds.
        """,
    )

    releasing_time = _duration_trait(
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
        What a running server that this service did not start holds, when its profile is unknown:
        ``{"cores": 1, "memory": 1}`` (GiB). Servers started with a known ``profile`` user option hold
        that profile's guarantees.
        """,
    ).tag(config=True)

    hub_poll_interval = Float(
        10.0,
        help="""
        Seconds between reads of the hub's running servers (``GET /hub/api/users?state=active``),
        which the calendar subtracts from capacity. 0 turns the reads off.
        """,
    ).tag(config=True)

    planning_horizon = _duration_trait(
        7 * 86400.0,
        help="How far ahead the calendar plans (seconds or ISO 8601). Default: 7 days.",
    )

    calendar_resolution = _duration_trait(
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

    # -- preloading a session's server (spawner hook and singleuser preload) ---------------------------
    # Read by the pre-spawn hook in the hub process from the hub's config (c.ExecPlanner.*), and passed
    # to the preload that runs in the session's server before jupyterhub-singleuser.

    preload_max_notebook_size = Int(
        20 * 1024 * 1024,
        help="""
        The largest notebook a session's server downloads, in bytes; a larger one fails the session
        with a message naming the URL and the limit. Default: 20 MiB.
        """,
    ).tag(config=True)

    preload_max_data_size = Int(
        1024**3,
        help="""
        The largest data resource (and requirements file) a session's server downloads, in bytes.
        Default: 1 GiB.
        """,
    ).tag(config=True)

    preload_timeout = Float(
        60.0,
        help="""
        Seconds a session's server may spend on each download (notebook, requirements file, each data
        resource), and the connect and read timeout of each. Default: 60 seconds.
        """,
    ).tag(config=True)

    preload_start_timeout = Int(
        600,
        help="""
        How long the hub waits for a session's server to answer, preload included (installing the
        requirements may take minutes): a session's spawner gets ``http_timeout`` at least this many
        seconds. It also bounds the installer's run. Default: 600 seconds.
        """,
    ).tag(config=True)

    requirements_allow_options = Bool(
        False,
        help="""
        Whether a session's requirements file may use pip options (``-e``, ``-r``, ``-c``,
        ``--index-url``, ``--extra-index-url``, ``--find-links``, ``--trusted-host``, ...), local
        paths, URLs and ``name @ url`` references. Default: False, a requirements file may only name
        packages with extras, version specifiers and environment markers (and ``--hash``); any other
        line fails the session with a message naming the line.
        """,
    ).tag(config=True)

    pip_extra_args = List(
        Unicode(),
        default_value=[],
        help="""
        Arguments added to every requirements install (``uv pip install`` or ``pip install``), e.g.
        a local mirror: ``["--no-index", "--find-links", "http://mirror/wheels/"]`` or
        ``["--index-url", "https://pypi.example.org/simple"]``.
        """,
    ).tag(config=True)

    preload_installer = Unicode(
        "auto",
        help="""
        What installs a session's requirements: ``"uv"`` (``uv venv`` and ``uv pip install``, much
        faster), ``"pip"`` (``python -m venv`` and ``pip install``), or ``"auto"``: uv when it is on the
        server's ``PATH``, else pip.
        """,
    ).tag(config=True)

    preload_python = Unicode(
        "",
        help="""
        The Python that runs the preload (``python -m jupyterhub_execplanner.singleuser``) in a
        session's server, and is the base of its environment; jupyterhub-execplanner must be installed
        in it. Default: the hub's own Python for spawners that run servers on the hub's host, and
        ``python3`` for spawners with an ``image`` (KubeSpawner, DockerSpawner).
        """,
    ).tag(config=True)

    @validate("preload_max_notebook_size", "preload_max_data_size", "preload_start_timeout")
    def _validate_positive_int(self, proposal: Any) -> int:
        if isinstance(proposal.value, bool) or proposal.value < 1:
            raise TraitError(
                f"{CONFIG_SECTION}.{proposal.trait.name} must be a positive number, not {proposal.value!r}"
            )
        return proposal.value

    @validate("preload_timeout")
    def _validate_preload_timeout(self, proposal: Any) -> float:
        if proposal.value <= 0:
            raise TraitError(
                f"{CONFIG_SECTION}.preload_timeout must be positive seconds, not {proposal.value!r}"
            )
        return proposal.value

    @validate("pip_extra_args")
    def _validate_pip_extra_args(self, proposal: Any) -> list:
        for item in proposal.value:
            if item.startswith("-") and len(item.split()) > 1:
                words = ", ".join(repr(w) for w in item.split())
                raise TraitError(
                    f"{CONFIG_SECTION}.pip_extra_args: {item!r} is several arguments in one; give one "
                    f"argument per item: [{words}]"
                )
        return list(proposal.value)

    @validate("preload_installer")
    def _validate_installer(self, proposal: Any) -> str:
        if proposal.value not in ("auto", "uv", "pip"):
            raise TraitError(
                f"{CONFIG_SECTION}.preload_installer must be 'auto', 'uv' or 'pip', not {proposal.value!r}"
            )
        return proposal.value

    # -- the phase driver (service process): running accepted sessions ------------------------------
    # Read by the service. The driver starts each accepted session's server through the hub's API at
    # the offer's preparing start, follows it to AVAILABLE and RUNNING, and stops it at the end.

    driver_interval = Float(
        1.0,
        help="""
        Seconds between the phase driver's passes over the sessions in flight (it also wakes at once
        when a session is accepted or cancelled). Each pass reads their servers from the hub, starts
        waiting sessions whose time has come and stops ended ones. 0 turns the driver off: the broker
        then only plans, and accepted sessions stay ACCEPTED. Default: 1 second.
        """,
    ).tag(config=True)

    max_concurrent_spawns = Int(
        4,
        help="""
        The most session servers the broker starts (and follows to ready) at once; later starts wait
        their turn. The hub's own ``concurrent_spawn_limit`` still applies. Default: 4.
        """,
    ).tag(config=True)

    spawn_timeout = _duration_trait(
        600.0,
        help="""
        How long a session's server may take to be ready after its preparing starts (seconds or ISO
        8601), preload included; a server not ready by then is stopped and the session FAILED.
        Keep it at least ``preload_start_timeout``, which bounds the same wait on the hub's side.
        Default: 600 seconds.
        """,
    )

    @validate("driver_interval")
    def _validate_driver_interval(self, proposal: Any) -> float:
        if proposal.value < 0:
            raise TraitError(
                f"{CONFIG_SECTION}.driver_interval must be seconds >= 0 (0: off), not {proposal.value!r}"
            )
        return proposal.value

    @validate("max_concurrent_spawns")
    def _validate_max_concurrent_spawns(self, proposal: Any) -> int:
        if isinstance(proposal.value, bool) or proposal.value < 1:
            raise TraitError(
                f"{CONFIG_SECTION}.max_concurrent_spawns must be at least 1, not {proposal.value!r}"
            )
        return proposal.value

    @validate("spawn_timeout")
    def _validate_spawn_timeout(self, proposal: Any) -> float:
        return to_seconds(proposal.value, proposal.trait.name)

    # -- capacity from a Kubernetes cluster (issue 4: live capacity) ---------------------------------
    # Read by the service. With the kubernetes provider the pools are the profiles' pools (their node
    # selectors and tolerations), sized from the cluster's nodes and pods by list-and-watch.

    capacity_provider = Unicode(
        "auto",
        help="""
        Where the totals per pool come from: ``"static"`` (``capacity``), ``"host"`` (this host, less
        ``reserve_cores`` and ``reserve_memory``), ``"kubernetes"`` (the cluster: each node's
        allocatable less the requests of the pods scheduled on it, per profile pool, kept current by
        watching nodes and pods; the service needs ``list`` and ``watch`` on nodes and pods cluster-wide),
        or ``"auto"`` (the default): kubernetes when the spawner is KubeSpawner and ``capacity`` is
        empty, else static when ``capacity`` is given, else host.
        """,
    ).tag(config=True)

    kube_config = Unicode(
        "",
        help="""
        Path of the kubeconfig file the kubernetes capacity provider uses. Default: the pod's service
        account when the service runs in the cluster, else ``$KUBECONFIG`` (or ``~/.kube/config``).
        """,
    ).tag(config=True)

    kube_stale_after = Float(
        30.0,
        help="""
        Seconds without news from the Kubernetes API (a list, a watch opened, an event) after which
        the broker stops trusting what it knows of the cluster and answers every request NO with a
        message saying so, until it is back in touch. Watches are renewed every third of this time.
        Default: 30 seconds.
        """,
    ).tag(config=True)

    @validate("capacity_provider")
    def _validate_capacity_provider(self, proposal: Any) -> str:
        if proposal.value not in ("auto", "host", "static", "kubernetes"):
            raise TraitError(
                f"{CONFIG_SECTION}.capacity_provider must be 'auto', 'host', 'static' or 'kubernetes', "
                f"not {proposal.value!r}"
            )
        return proposal.value

    @validate("kube_stale_after")
    def _validate_kube_stale_after(self, proposal: Any) -> float:
        if isinstance(proposal.value, bool) or proposal.value < 1:
            raise TraitError(
                f"{CONFIG_SECTION}.kube_stale_after must be at least 1 second, not {proposal.value!r}"
            )
        return float(proposal.value)
