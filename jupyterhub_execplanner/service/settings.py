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

    # -- snapshots (the lab panel's notebooks, served to other hubs by capability URL) ------------------

    snapshot_lifetime = _duration_trait(
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

    # -- costs and data proximity (issue 6; see docs/data-and-costs.md) ----------------------------------
    # Read by the service (prices, planning) and by the pre-spawn hook (data_collections' volumes).

    prices = Dict(
        help="""
        Prices per profile, keyed by profile slug, ``"*"`` for every profile without its own:
        ``{"*": {"core_hour": 0.05, "gib_hour": 0.01, "gpu_hour": 1.5, "currency": "EUR",
        "kwh_per_core_hour": 0.01, "kwh_per_gib_hour": 0.0004, "kwh_per_gpu_hour": 0.3,
        "carbon_per_kwh": 250}}``. Every offer then quotes ``costs``: money
        (``urn:ivoa:calycopis:cost:monetary``, in ``currency``), energy
        (``urn:ivoa:calycopis:cost:energy``, kWh) and carbon (``urn:ivoa:calycopis:cost:carbon``,
        gCO2 = kWh x ``carbon_per_kwh``) for its cores, GiB and GPUs over its available duration.
        Empty (the default): offers quote no costs, and a request that limits a cost is answered NO.
        """,
    ).tag(config=True)

    data_collections = Dict(
        help="""
        The data this platform holds, by collection name: ``{"survey": {"path": "/data/survey",
        "url_prefix": "https://archive.example.org/survey/", "ivoid_prefix": "ivo://example.org/survey",
        "s3_bucket": "survey", "s3_prefix": "dr1/", "rucio_scope": "survey",
        "volume": {"persistentVolumeClaim": {"claimName": "survey"}}}}``. A data resource a rule
        matches (URL prefixes also match an ObsCore ``access_url``) is local: linked read-only into the
        session's folder from ``path`` plus what follows the prefix, with no download. ``path`` is where
        the server sees the collection: on this host for a local process spawner (the link is only as
        read-only as the files' permissions), in the pod for KubeSpawner, where the hook mounts
        ``volume`` (a Kubernetes volume, without ``name``) read-only at ``path``.
        """,
    ).tag(config=True)

    data_bandwidth = Dict(
        help="""
        The bandwidth from remote data sources, in bytes per second, by URL prefix (the longest
        matching prefix wins): ``{"https://archive.example.org/": 30e6}``. Used to estimate how long a
        download takes, which is added to the offer's preparation time.
        """,
    ).tag(config=True)

    data_default_bandwidth = Float(
        10e6,
        help="Bytes per second from a source ``data_bandwidth`` does not name. Default: 10 MB/s.",
    ).tag(config=True)

    data_denied_sources = List(
        Unicode(),
        default_value=[],
        help="""
        Sources this hub never downloads data from: URL prefixes (``"http://insecure.example.org/"``)
        or host patterns (``"*.example.net"``). A request that needs one is answered NO naming
        ``data[i]`` and the rule. Local collections are not downloads and are not affected.
        """,
    ).tag(config=True)

    data_allowed_sources = List(
        Unicode(),
        default_value=[],
        help="""
        When not empty, the only sources this hub downloads data from (URL prefixes or host
        patterns, as ``data_denied_sources``, which still applies).
        """,
    ).tag(config=True)

    data_s3_endpoint = Unicode(
        "",
        help="""
        The HTTPS endpoint of public S3 buckets for S3 data resources that give no ``endpoint``
        (``https://s3.example.org``): the object is downloaded from ``{endpoint}/{bucket}/{object}``.
        """,
    ).tag(config=True)

    data_probe_timeout = Float(
        5.0,
        help="""
        Seconds to wait for the size of remote data (an HTTP HEAD of each URL, asked concurrently
        before planning) when the request does not give it. Unknown sizes add no time to the
        offer. Default: 5 seconds.
        """,
    ).tag(config=True)

    @validate("prices")
    def _validate_prices(self, proposal: Any) -> dict:
        from ..costs import parse_prices

        try:
            parse_prices(proposal.value, f"{CONFIG_SECTION}.prices")
        except ValueError as e:
            raise TraitError(str(e)) from None
        return proposal.value

    @validate("data_collections", "data_bandwidth")
    def _validate_data(self, proposal: Any) -> dict:
        from ..platform.datasets import parse_bandwidth, parse_collections

        read = parse_collections if proposal.trait.name == "data_collections" else parse_bandwidth
        try:
            read(proposal.value, f"{CONFIG_SECTION}.{proposal.trait.name}")
        except ValueError as e:
            raise TraitError(str(e)) from None
        return proposal.value

    @validate("data_default_bandwidth", "data_probe_timeout")
    def _validate_positive_float(self, proposal: Any) -> float:
        if isinstance(proposal.value, bool) or not proposal.value > 0:
            raise TraitError(
                f"{CONFIG_SECTION}.{proposal.trait.name} must be a positive number, not {proposal.value!r}"
            )
        return float(proposal.value)

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

    # -- federation (issue 6): peers, and this hub as an aggregator ---------------------------------
    # Read by the service. With peers, POST requests (and POST direct) also ask them and merge their
    # offers with this hub's own; see docs/federation.md.

    peers = List(
        Dict(),
        default_value=[],
        help="""
        Other Execution Brokers this hub asks too (it then aggregates): a list of ``{"name": ...,
        "url": ..., <credential>}``. ``name`` appears in messages (letters, digits, ``.``, ``_``,
        ``-``); ``url`` is the peer's hub URL (``https://hub-b.example.org``) or broker URL (anything
        with ``/services/`` in its path, used as given). The credential is exactly one of:
        ``"token": "..."`` (a token the peer's hub gave this hub), ``"token_env": "NAME"`` (the name
        of an environment variable holding that token; ``setup_execplanner`` passes it from the hub's
        environment to the service's) or ``"forward_token": True`` (send each caller's own
        ``Authorization`` header on: only for peers that accept this hub's tokens). ``POST requests``
        then asks every peer at once, waits at most ``peer_timeout``, and merges their offers with
        this hub's own; each peer's offer keeps its own URL, and accepting, reading or cancelling it
        here is done by the peer. Example::

            c.ExecPlanner.peers = [
                {"name": "hub-b", "url": "https://hub-b.example.org", "token_env": "HUB_B_TOKEN"},
            ]
        """,
    ).tag(config=True)

    peer_timeout = Float(
        5.0,
        help="""
        Seconds this hub waits for each peer's answer to a request; a peer slower than that appears
        as a warning message in the merged answer. A request forwarded by another aggregator waits
        less when that aggregator waits less. Also the timeout of each relayed read or change of a
        peer's session. Default: 5 seconds.
        """,
    ).tag(config=True)

    max_hops = Int(
        2,
        help="""
        The most brokers a request may have passed through (its ``X-Execplanner-Via`` header) for
        this hub still to forward it to its peers. 2 (the default): a request from a user reaches
        this hub's peers and their peers, no further. A request that comes back to a broker it has
        passed is never forwarded again, whatever this setting.
        """,
    ).tag(config=True)

    @validate("peers")
    def _validate_peers(self, proposal: Any) -> list:
        from ..federation.peerconfig import PeerConfigError, check_peers

        try:
            check_peers(proposal.value, f"{CONFIG_SECTION}.peers")
        except PeerConfigError as e:
            raise TraitError(str(e)) from e
        return list(proposal.value)

    @validate("peer_timeout")
    def _validate_peer_timeout(self, proposal: Any) -> float:
        if isinstance(proposal.value, bool) or not 0 < proposal.value <= 300:
            raise TraitError(
                f"{CONFIG_SECTION}.peer_timeout must be seconds between 0 and 300, not {proposal.value!r}"
            )
        return float(proposal.value)

    @validate("max_hops")
    def _validate_max_hops(self, proposal: Any) -> int:
        if isinstance(proposal.value, bool) or not 1 <= proposal.value <= 10:
            raise TraitError(f"{CONFIG_SECTION}.max_hops must be between 1 and 10, not {proposal.value!r}")
        return proposal.value
