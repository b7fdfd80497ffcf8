"""Costs and data proximity: prices per profile, the data collections this platform holds, and
the rules and figures for data it must download. See docs/data-and-costs.md.

A part of :class:`~.settings.ExecPlanner`: set these as ``c.ExecPlanner.<name>`` or as keyword arguments
of ``setup_execplanner``. ``prices`` and ``data_collections`` are checked against a JSON Schema
(:data:`PRICES_SCHEMA`, :data:`COLLECTIONS_SCHEMA`: their shape, with the fix in each message), then
read by the planner's own parsers, whose result is kept for the service."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from traitlets import Dict, Float, List, TraitError, Unicode, validate

from .traits import CONFIG_SECTION, Duration, Settings, check_schema

_RATES = {
    "core_hour": "money per core-hour",
    "gib_hour": "money per GiB-hour of memory",
    "gpu_hour": "money per GPU-hour",
    "kwh_per_core_hour": "kWh per core-hour",
    "kwh_per_gib_hour": "kWh per GiB-hour",
    "kwh_per_gpu_hour": "kWh per GPU-hour",
    "carbon_per_kwh": "gCO2 per kWh",
}
PRICES_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "a dict of profile slug (or '*', every other profile) to its prices, like "
    "{'*': {'core_hour': 0.05, 'currency': 'EUR'}}",
    "additionalProperties": {
        "type": "object",
        "description": "a dict of prices like {'core_hour': 0.05, 'gib_hour': 0.01, 'currency': 'EUR'}",
        "properties": {
            **{
                key: {"type": "number", "minimum": 0, "description": f"a number >= 0 ({what})"}
                for key, what in _RATES.items()
            },
            "currency": {
                "type": "string",
                "pattern": r"\S",
                "description": "a currency code such as 'EUR'",
            },
        },
        "additionalProperties": False,
    },
}

_MATCH_RULES = ("ivoid_prefix", "url_prefix", "obs_collection", "s3_bucket", "rucio_scope")
_PREFIXES = {
    "type": ["string", "array"],
    "items": {"type": "string", "minLength": 1},
}
COLLECTIONS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "a dict of collection name to its description, like {'survey': {'path': "
    "'/data/survey', 'url_prefix': 'https://archive.example.org/survey/'}}",
    "additionalProperties": {
        "type": "object",
        "description": "a dict like {'path': '/data/survey', 'url_prefix': "
        "'https://archive.example.org/survey/'}",
        "required": ["path"],
        "properties": {
            "path": {
                "type": "string",
                "pattern": "^/",
                "description": "the absolute path where a server sees the collection, like '/data/survey'",
            },
            "ivoid_prefix": {
                **_PREFIXES,
                "description": "an ivoid prefix or a list of them, like 'ivo://example.org/survey'",
            },
            "url_prefix": {
                **_PREFIXES,
                "description": "a URL prefix or a list of them, like 'https://archive.example.org/survey/'",
            },
            "obs_collection": {
                **_PREFIXES,
                "description": "an ObsCore obs_collection or a list of them, like 'survey'",
            },
            "s3_bucket": {"type": "string", "description": "the name of one S3 bucket, like 'survey'"},
            "s3_prefix": {"type": "string", "description": "a key prefix in the bucket, like 'dr1/'"},
            "rucio_scope": {"type": "string", "description": "one Rucio scope, like 'survey'"},
            "volume": {
                "type": "object",
                "description": "a Kubernetes volume without its name, like "
                "{'persistentVolumeClaim': {'claimName': 'survey'}}",
            },
        },
        "additionalProperties": False,
        "allOf": [{
            "description": "has no rule to match data: give ivoid_prefix, url_prefix, obs_collection, "
            "s3_bucket or rucio_scope",
            "anyOf": [{"required": [key]} for key in _MATCH_RULES],
        }],
    },
}


class DataSettings(Settings):
    """Costs and data

    Prices per profile (every offer then quotes money, energy and carbon), the data collections the
    hub holds (linked into a session, no download), and the rules and figures for data it downloads;
    see docs/data-and-costs.md."""

    if TYPE_CHECKING:  # other concepts' settings, which ExecPlanner has beside these
        preload_max_data_size: int
        spawn_timeout: float
        public_url: str

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
        ``volume`` (a Kubernetes volume, without ``name``) read-only at ``path``. ``obs_collection``
        (one or a list) matches a dataset by its ObsCore ``obs_collection`` once its DataLink
        document is read: the file in ``path`` is the one named by the last segment of the
        dataset's URL (else its ``obs_id``).
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
        ``data[i]`` and the rule. Local collections are not downloads and are not affected. A
        session's notebook and requirements file are not fetched from them either.
        """,
    ).tag(config=True)

    data_allowed_sources = List(
        Unicode(),
        default_value=[],
        help="""
        When not empty, the only sources this hub downloads data from (URL prefixes or host
        patterns, as ``data_denied_sources``, which still applies), and the notebook and
        requirements file of a session (except this broker's own snapshots on the hub).
        """,
    ).tag(config=True)

    data_s3_endpoint = Unicode(
        "",
        help="""
        The HTTPS endpoint of public S3 buckets for S3 data resources that give no ``endpoint``
        (``https://s3.example.org``): the object is downloaded from ``{endpoint}/{bucket}/{object}``.
        """,
    ).tag(config=True)

    data_probe_timeout = Duration(
        5,
        help="""
        How long to wait for the size of remote data (an HTTP HEAD of each URL, asked concurrently
        before planning) when the request does not give it. Unknown sizes add no time to the
        offer. A request forwarded by an aggregator (``X-Execplanner-Timeout``) gets less: the
        caller's budget. At most 20 URLs of a request are measured. Default: 5 seconds.
        """,
    ).tag(config=True)

    fetch_allowed_hosts = List(
        Unicode(),
        default_value=[],
        help="""
        Internal hosts that the broker and a session's server may fetch from. The broker sends an
        HTTP ``HEAD`` to every data URL a request names (to measure it), and a session's server
        downloads its notebook, requirements file and data during PREPARING, from their own network
        position. So neither connects to an address that is loopback (``127.0.0.0/8``, ``::1``),
        private (``10.0.0.0/8``, ``172.16.0.0/12``, ``192.168.0.0/16``, ``fc00::/7``), shared
        (``100.64.0.0/10``), link-local (``169.254.0.0/16``, ``fe80::/10``), unspecified, multicast or
        reserved (nor to an IPv4-mapped form of one), nor to the hub's own addresses (the hosts of
        ``$JUPYTERHUB_API_URL``, ``$JUPYTERHUB_SERVICE_URL`` and the hub's public URL when known),
        unless it is listed here. A host name is checked on the addresses it resolves to, and the
        connection goes to a checked address; each redirect is checked again. The broker's answer
        about a refused data URL says only ``not measured (address not allowed)``; a session that
        needs one fails naming this setting. The notebook and requirements file may always be this
        broker's own snapshot (``/services/<name>/snapshots/...``) on the hub's address.

        Entries: host names, matched exactly and allowed whatever they resolve to
        (``"data.internal.example.org"``), addresses (``"10.1.2.3"``, ``"::1"``) and CIDR ranges
        (``"10.0.0.0/8"``, ``"fd00::/8"``); an entry that covers the hub's own address allows it too.
        ``["0.0.0.0/0", "::/0"]`` turns the check off. Example, a data mirror in the cluster:
        ``c.ExecPlanner.fetch_allowed_hosts = ["mirror.data.svc.cluster.local", "10.20.0.0/16"]``.
        Default: empty (public addresses only).
        """,
    ).tag(config=True)

    @validate("fetch_allowed_hosts")
    def _validate_fetch_allowed_hosts(self, proposal: Any) -> list:
        from ..platform.netguard import parse_allowed_hosts

        try:
            parse_allowed_hosts(proposal.value, f"{CONFIG_SECTION}.fetch_allowed_hosts")
        except ValueError as e:
            raise TraitError(str(e)) from None
        return [entry.strip() for entry in proposal.value]

    @validate("prices")
    def _validate_prices(self, proposal: Any) -> dict:
        check_schema(proposal.value, PRICES_SCHEMA, "prices")
        return self._keep("prices", proposal.value, _price_book(proposal.value))

    @validate("data_collections")
    def _validate_data_collections(self, proposal: Any) -> dict:
        check_schema(proposal.value, COLLECTIONS_SCHEMA, "data_collections")
        return self._keep("data_collections", proposal.value, _collections(proposal.value))

    @validate("data_bandwidth")
    def _validate_data_bandwidth(self, proposal: Any) -> dict:
        return self._keep("data_bandwidth", proposal.value, _bandwidth(proposal.value))

    @validate("data_default_bandwidth")
    def _validate_positive_float(self, proposal: Any) -> float:
        if isinstance(proposal.value, bool) or not proposal.value > 0:
            raise TraitError(
                f"{CONFIG_SECTION}.{proposal.trait.name} must be a positive number, not {proposal.value!r}"
            )
        return float(proposal.value)

    def price_book(self) -> Any:
        """The prices as the planner quotes them (a ``planning.policy.PriceBook``)."""
        return self._parsed("prices", _price_book)

    def data_config(self) -> Any:
        """The data settings as the planner and the probe use them (a
        ``platform.datasets.DataConfig``), from the collections and bandwidths their validators read."""
        from ..platform.datasets import DataConfig

        return DataConfig(
            collections=self._parsed("data_collections", _collections),
            bandwidth=self._parsed("data_bandwidth", _bandwidth),
            default_bandwidth=self.data_default_bandwidth,
            denied=tuple(self.data_denied_sources),
            allowed=tuple(self.data_allowed_sources),
            s3_endpoint=self.data_s3_endpoint or None,
            max_bytes=int(self.preload_max_data_size),
            max_seconds=float(self.spawn_timeout),
            probe_timeout=self.data_probe_timeout,
            fetch_allowed_hosts=tuple(self.fetch_allowed_hosts),
            own_urls=(self.public_url,) if self.public_url else (),
        )


def _price_book(value: Any) -> Any:
    from ..planning.policy import parse_prices

    try:
        return parse_prices(value, f"{CONFIG_SECTION}.prices")
    except ValueError as e:
        raise TraitError(str(e)) from None


def _collections(value: Any) -> Any:
    from ..platform.datasets import parse_collections

    try:
        return parse_collections(value, f"{CONFIG_SECTION}.data_collections")
    except ValueError as e:
        raise TraitError(str(e)) from None


def _bandwidth(value: Any) -> Any:
    from ..platform.datasets import parse_bandwidth

    try:
        return parse_bandwidth(value, f"{CONFIG_SECTION}.data_bandwidth")
    except ValueError as e:
        raise TraitError(str(e)) from None
