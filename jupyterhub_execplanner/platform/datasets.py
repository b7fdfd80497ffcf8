"""Where a request's data is, and how long it takes to bring it to a session. Pure.

An administrator declares the hub's local data collections (``ExecPlanner.data_collections``): each
has match rules (ivoid prefixes, URL prefixes, which also match an ObsCore ``access_url``, an S3
bucket with an optional key prefix, a Rucio scope) and the ``path`` where the server sees the data
(on this host for a local process spawner; for KubeSpawner the path where the collection's
``volume`` is mounted read-only). A data resource a collection matches is **local**: the preload
links it read-only into the session's folder. Any other is **staged**: downloaded over HTTP(S)
during PREPARING, its size (given by the request, else measured by an HTTP HEAD before planning)
divided by the bandwidth of its source (``data_bandwidth``, longest URL prefix, else
``data_default_bandwidth``) is added to the offer's preparation time.

A resource the hub cannot get is a NO naming ``data[i]``: a source the policy forbids
(``data_denied_sources``, or not in a non-empty ``data_allowed_sources``), a Rucio object or an
ivoid that no collection holds, an S3 object without an endpoint (or a whole bucket), a location
that is not HTTP(S), a size above what a server downloads, a HEAD answered 404/410. Two resources
whose places in the session's folder are the same, or one inside the other, are a NO too. The
messages of a placement are stamped with the ``now`` the planner passes.

What follows a collection's prefix is decoded (percent-escapes) and then split; a remainder that
could leave the collection's path (``..``, ``.``, a backslash, a control character) does not match.
"""

from __future__ import annotations

import fnmatch
import math
import posixpath
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any
from urllib.parse import unquote, urlsplit

from ..model import kinds as K
from ..model import messages as msg
from ..model.lookup import dig as _get
from ..model.messages import Message
from ..model.offer import DataPlacement, Figure
from ..model.request import DataSpec, ExecutionRequest
from . import resolution as res
from .proximity import Access, human_bytes, proximity

EMPTY: Mapping[str, Any] = MappingProxyType({})
DATA_DENIED = "urn:execplanner:data-denied"
DATA_UNREACHABLE = "urn:execplanner:data-unreachable"
DATA_NOTE = "urn:execplanner:data-placement"
DEFAULT_BANDWIDTH = 10_000_000.0  # bytes per second
_SAFE_SEGMENT = re.compile(r"[^A-Za-z0-9._-]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Collection:
    """A data collection the platform holds. ``path`` is where the server sees it."""

    name: str
    path: str
    ivoid_prefixes: tuple[str, ...] = ()
    url_prefixes: tuple[str, ...] = ()
    s3_bucket: str | None = None
    s3_prefix: str = ""
    rucio_scope: str | None = None
    obs_collections: tuple[str, ...] = ()  # ObsCore obs_collection values
    volume: Mapping[str, Any] | None = None  # a Kubernetes volume (without its name)


@dataclass(frozen=True)
class DataConfig:
    collections: tuple[Collection, ...] = ()
    bandwidth: tuple[tuple[str, float], ...] = ()  # (URL prefix, bytes/s), longest first
    default_bandwidth: float = DEFAULT_BANDWIDTH
    denied: tuple[str, ...] = ()
    allowed: tuple[str, ...] = ()
    s3_endpoint: str | None = None
    max_bytes: int | None = None  # the largest download a server makes
    max_seconds: float | None = None  # the longest download a server may take
    probe_timeout: float = 5.0  # seconds for measuring the size of remote data (HTTP HEAD)
    fetch_allowed_hosts: tuple[str, ...] = ()  # internal hosts the HEAD may reach (platform/netguard)
    own_urls: tuple[str, ...] = ()  # the broker's public URL: its host is the hub's own (netguard)

    def bandwidth_for(self, url: str) -> float:
        return next((bps for prefix, bps in self.bandwidth if url.startswith(prefix)),
                    self.default_bandwidth)  # fmt: skip


@dataclass(frozen=True)
class Probe:
    """What a HEAD of a URL said: its size, the HTTP status, or why there is no answer."""

    size: int | None = None
    status: int | None = None
    error: str | None = None
    refused: bool = False  # the address policy forbids the URL's address: nothing was asked
    content_type: str | None = None  # what the HEAD answered (a DataLink document is resolved)
    resolution: res.Resolution | None = None  # data[i]'s DataLink document read (platform/datalink)
    access: Access | None = None  # what this hub measured of downloads from the URL's host


@dataclass(frozen=True)
class DataPlan:
    """Every data resource's placement, the estimated transfer time of them all, the notes for
    the offer's messages and the proximity metrics."""

    placements: tuple[DataPlacement, ...] = ()
    seconds: float = 0.0
    notes: tuple[Message, ...] = ()
    metrics: tuple[Figure, ...] = ()

    @property
    def prepare_extra(self) -> timedelta:
        return timedelta(seconds=math.ceil(self.seconds))


NO_DATA = DataPlan()


# -- reading the settings ----------------------------------------------------------------------


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list | tuple) and all(isinstance(v, str) and v for v in value):
        return tuple(value)
    raise ValueError(f"{where} must be a string or a list of strings, not {value!r}")


def parse_collections(value: Any, setting: str = "ExecPlanner.data_collections") -> tuple[Collection, ...]:
    """The collections of a setting: a dict of name to ``{path, ivoid_prefix, url_prefix,
    s3_bucket, s3_prefix, rucio_scope, volume}``. ValueError naming the key and the fix."""
    if not isinstance(value, Mapping):
        raise ValueError(f"{setting} must be a dict of collection name to its description")
    known = {"path", "ivoid_prefix", "url_prefix", "obs_collection", "s3_bucket", "s3_prefix",
             "rucio_scope", "volume"}
    out = []
    for name, entry in value.items():
        where = f"{setting}[{name!r}]"
        if not isinstance(entry, Mapping):
            raise ValueError(f"{where} must be a dict like {{'path': '/data/survey', "
                             "'url_prefix': 'https://archive.example.org/survey/'}")
        unknown = sorted(set(entry) - known)
        if unknown:
            raise ValueError(f"{where} has unknown key(s) {unknown}; the keys are {sorted(known)}")
        path = entry.get("path")
        if not isinstance(path, str) or not path.startswith("/"):
            raise ValueError(f"{where}['path'] must be an absolute path, not {path!r}")
        volume = entry.get("volume")
        if volume is not None and not isinstance(volume, Mapping):
            raise ValueError(f"{where}['volume'] must be a Kubernetes volume dict, e.g. "
                             "{'persistentVolumeClaim': {'claimName': 'survey'}}")
        collection = Collection(
            name=str(name),
            path=path.rstrip("/") or "/",
            ivoid_prefixes=_strings(entry.get("ivoid_prefix"), f"{where}['ivoid_prefix']"),
            url_prefixes=_strings(entry.get("url_prefix"), f"{where}['url_prefix']"),
            s3_bucket=_strings(entry.get("s3_bucket"), f"{where}['s3_bucket']")[0]
            if entry.get("s3_bucket") else None,
            s3_prefix=str(entry.get("s3_prefix") or "").lstrip("/"),
            rucio_scope=_strings(entry.get("rucio_scope"), f"{where}['rucio_scope']")[0]
            if entry.get("rucio_scope") else None,
            volume=dict(volume) if volume is not None else None,
            obs_collections=_strings(entry.get("obs_collection"), f"{where}['obs_collection']"),
        )
        if not (collection.ivoid_prefixes or collection.url_prefixes or collection.s3_bucket
                or collection.rucio_scope or collection.obs_collections):
            raise ValueError(f"{where} has no match rule: give ivoid_prefix, url_prefix, obs_collection, "
                             "s3_bucket or rucio_scope")
        out.append(collection)
    return tuple(out)


def parse_bandwidth(value: Any, setting: str = "ExecPlanner.data_bandwidth") -> tuple[tuple[str, float], ...]:
    if not isinstance(value, Mapping):
        raise ValueError(f"{setting} must be a dict of URL prefix to bytes per second")
    out = []
    for prefix, bps in value.items():
        if isinstance(bps, bool) or not isinstance(bps, int | float) or not bps > 0:
            raise ValueError(f"{setting}[{prefix!r}] must be bytes per second > 0, not {bps!r}")
        out.append((str(prefix), float(bps)))
    return tuple(sorted(out, key=lambda p: -len(p[0])))


# -- one data resource ------------------------------------------------------------------------------



def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _rest(remainder: str) -> str | None:
    """A remainder after a prefix as a safe relative path ('' for the whole collection), or None
    when it could leave the collection. Percent-escapes are decoded *before* the split, so
    ``..%2F`` and ``%2e%2e`` are the ``..`` they spell; a ``.`` or ``..`` segment, a backslash or a
    control character (NUL included) refuses the remainder. Empty segments are dropped (a leading
    ``/`` never makes the path absolute)."""
    text = unquote(remainder)
    if "\\" in text or _CONTROL.search(text):
        return None
    parts = [p for p in re.split(r"[/?#&=]+", text) if p]
    if any(p in (".", "..") for p in parts):
        return None
    return "/".join(parts)


def _source(c: Collection, remainder: str | None) -> str | None:
    """The path of ``remainder`` in the collection; None unless it is the collection's path or
    inside it (the last guard, whatever :func:`_rest` let through)."""
    if remainder is None:
        return None
    if not remainder:
        return c.path
    source = posixpath.normpath(posixpath.join(c.path, remainder))
    base = c.path.rstrip("/")
    return source if source == c.path or source.startswith(base + "/") else None


def match(d: DataSpec, collections: Sequence[Collection]) -> tuple[Collection, str] | None:
    """The first collection that holds ``d``, and where (the source path)."""
    extra = d.extra
    ivoids = [_text(_get(extra, "ivoa", "ivoid"))]
    urls = [d.location, _text(_get(extra, "ivoa", "obscore", "access_url")),
            _text(_get(extra, "ivoa", "datalink", "access_url")),
            _text(_get(extra, "skao", "replicas", 0, "dataurl"))]
    for c in collections:
        for ivoid in filter(None, ivoids):
            for prefix in c.ivoid_prefixes:
                if ivoid.startswith(prefix) and (src := _source(c, _rest(ivoid[len(prefix):]))):
                    return c, src
        for url in filter(None, urls):
            for prefix in c.url_prefixes:
                if url.startswith(prefix) and (src := _source(c, _rest(url[len(prefix):]))):
                    return c, src
        if not res.wants(d) and _text(_get(extra, "ivoa", "obscore", "obs_collection")) in c.obs_collections:
            filename = posixpath.basename(urlsplit(d.location or "").path) or _text(
                _get(extra, "ivoa", "obscore", "obs_id")) or ""
            if filename and (src := _source(c, _rest(filename))):  # the file by its name in the folder
                return c, src
        if d.kind == K.S3_DATA and c.s3_bucket and _text(extra.get("bucket")) == c.s3_bucket:
            key = (_text(extra.get("object")) or "").lstrip("/")
            if key.startswith(c.s3_prefix) and (src := _source(c, _rest(key[len(c.s3_prefix):]))):
                return c, src
        scope = _text(_get(extra, "rucio", "scope")) or _text(_get(extra, "skao", "namespace"))
        if c.rucio_scope and scope == c.rucio_scope:
            name = _text(_get(extra, "rucio", "object")) or _text(_get(extra, "skao", "objectname"))
            if src := _source(c, _rest(name or "")):
                return c, src
    return None


def given_size(d: DataSpec) -> int | None:
    """The size a request states for a data resource (SKAO ``datasize``, DataLink
    ``content_length``); the other kinds cannot state one."""
    for value in (_get(d.extra, "skao", "datasize"), _get(d.extra, "ivoa", "datalink", "content_length")):
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
    return None


def remote_url(d: DataSpec, config: DataConfig) -> str | None:
    """Where a resource no collection holds is downloaded from, if anywhere."""
    if d.kind == K.S3_DATA:
        bucket, key = _text(d.extra.get("bucket")), _text(d.extra.get("object"))
        endpoint = _text(d.extra.get("endpoint")) or config.s3_endpoint
        if not (bucket and key and endpoint):
            return None
        return f"{endpoint.rstrip('/')}/{bucket.strip('/')}/{key.lstrip('/')}"
    if d.kind == K.RUCIO_DATA:
        return None
    return d.location


def source_allowed(url: str, config: DataConfig) -> str | None:
    """The rule that forbids downloading ``url``, or None when it is allowed."""
    host = (urlsplit(url).hostname or "").lower()

    def hits(pattern: str) -> bool:
        if "://" in pattern:
            return url.startswith(pattern)
        return fnmatch.fnmatch(host, pattern.lower())

    for pattern in config.denied:
        if hits(pattern):
            return f"data_denied_sources has {pattern!r}"
    if config.allowed and not any(hits(p) for p in config.allowed):
        return "it is not in data_allowed_sources"
    return None


def mount_path(request: ExecutionRequest, d: DataSpec, index: int) -> str:
    """Where the data appears in the session's folder: the path of a compute volume that names
    it (without its leading ``/``), else ``data/<name>``."""
    return _mount(request, d, index)[0]


def _mount(request: ExecutionRequest, d: DataSpec, index: int) -> tuple[str, str]:
    """The mount of ``data[index]`` and the request field that chose it."""
    for j, v in enumerate(request.compute.volumes):
        if d.name is not None and v.resource == d.name:
            parts = [p for p in v.path.split("/") if p and p != "."]
            safe = not any(p == ".." or "\\" in p or _CONTROL.search(p) for p in parts)
            if parts and safe:
                return "/".join(parts), f"compute.volumes[{j}].path"
    name = _SAFE_SEGMENT.sub("_", d.name or "").strip("._") or f"data-{index}"
    return f"data/{name}", f"data[{index}]"


def _overlaps(request: ExecutionRequest, now: datetime) -> list[Message]:
    """A NO for every data resource whose mount is another's, or inside another's: the second
    would be skipped, or written through the first's link into the collection."""
    mounts = [(*_mount(request, d, i), d.name or f"data[{i}]") for i, d in enumerate(request.data)]
    problems = []
    for i, (mount, where, name) in enumerate(mounts):
        for other, other_where, other_name in mounts[:i]:
            if mount == other:
                template = ("${path} puts data '${name}' at ${mount}, where ${other_path} already puts "
                            "data '${other_name}'")
            elif mount.startswith(other + "/") or other.startswith(mount + "/"):
                template = ("${path} puts data '${name}' at ${mount} and ${other_path} puts data "
                            "'${other_name}' at ${other}, one inside the other")
            else:
                continue
            problems.append(msg.error(
                msg.DUPLICATE, template + "; give each data resource its own path, none inside "
                "another (a compute volume path, or a different name).", at=now, path=where, name=name,
                mount=mount, other=other, other_path=other_where, other_name=other_name))
            break
    return problems


def to_probe(request: ExecutionRequest, config: DataConfig) -> list[str]:
    """The URLs whose size must be measured before planning: staged, with no size given."""
    urls = []
    for d in request.data:
        if match(d, config.collections) is not None or given_size(d) is not None:
            continue
        url = remote_url(d, config)
        if url and urlsplit(url).scheme in ("http", "https") and source_allowed(url, config) is None:
            urls.append(url)
    return list(dict.fromkeys(urls))


# -- the request as a whole ---------------------------------------------------------------------------


def place(
    request: ExecutionRequest, config: DataConfig, probes: Mapping[str, Probe] = EMPTY, *,
    now: datetime,
) -> DataPlan | list[Message]:
    """The data plan of ``request`` on this hub, or the ERROR messages of a NO; every message is
    stamped with ``now``."""
    if not request.data:
        return NO_DATA
    placements: list[DataPlacement] = []
    problems: list[Message] = _overlaps(request, now)
    notes: list[Message] = []
    for i, d in enumerate(request.data):
        path = f"data[{i}]"
        label = d.name or path
        mount = mount_path(request, d, i)
        found = match(d, config.collections)
        resolved = probes.get(res.key(i), Probe()).resolution
        if found is None and resolved is not None:  # planned with the dataset DataLink gave
            if not resolved.ok:
                problems.append(res.refusal(resolved, i, now))
                continue
            d = res.apply(d, resolved)
            notes.append(res.note(resolved, label, now))
            found = match(d, config.collections)
        elif found is None and d.location and res.wants(d, probes.get(d.location, Probe()).content_type):
            problems.append(res.refusal(res.Resolution(None, problem=(
                "its DataLink document was not read (no time was left for it, or the URL answered "
                "with a DataLink document only when measured)")), i, now))
            continue
        if found is not None:
            collection, source = found
            placements.append(DataPlacement(label, "local", d.location, source, mount, 0, 0.0,
                                            collection.name))
            notes.append(msg.info(DATA_NOTE, "data '${name}' is local at ${mount} (collection "
                                  "${collection}, read-only)", at=now, name=label, mount=mount,
                                  collection=collection.name))
            continue
        url = remote_url(d, config)
        problem = _unreachable(d, i, url, config, now)
        if problem is not None:
            problems.append(problem)
            continue
        assert url is not None
        probe = probes.get(url, Probe())
        size = given_size(d)
        if size is None:
            size = probe.size
        if probe.refused:
            problems.append(msg.error(
                DATA_DENIED, "${path} is at ${url}, an address this hub does not fetch from "
                "(loopback, private, link-local or the hub's own); the hub's admin may allow it "
                "with c.ExecPlanner.fetch_allowed_hosts.", at=now, path=f"{path}.location",
                url=url))  # fmt: skip
            continue
        if size is None and probe.status in (404, 410):
            problems.append(msg.error(
                DATA_UNREACHABLE, "${path} is at ${url}, which answers HTTP ${status}: correct the "
                "location.", at=now, path=f"{path}.location", url=url, status=probe.status))  # fmt: skip
            continue
        if size is not None and config.max_bytes is not None and size > config.max_bytes:
            problems.append(msg.error(
                msg.RESOURCE_LIMIT, "${path} is ${size}; a server of this hub downloads at most "
                "${limit}. Ask a hub that holds the data.", at=now, path=path, size=human_bytes(size),
                limit=human_bytes(config.max_bytes)))  # fmt: skip
            continue
        access = probe.access
        bps = access.bandwidth if access is not None else config.bandwidth_for(url)
        latency = access.latency if access is not None else 0.0
        seconds = round(size / bps + latency, 1) if size is not None else 0.0
        placements.append(DataPlacement(label, "stage", url, None, mount, size, seconds))
        if size is None:
            why = f" ({probe.error})" if probe.error else ""
            notes.append(msg.info(DATA_NOTE, "data '${name}' will be downloaded into ${mount}; its "
                                  "size is unknown${why}, so the schedule has no time for it",
                                  at=now, name=label, mount=mount, why=why))
        else:
            notes.append(msg.info(DATA_NOTE, "data '${name}' will be downloaded: ${size}, about "
                                  "${seconds} s at ${rate}${how}", at=now, name=label,
                                  size=human_bytes(size), seconds=f"{seconds:g}",
                                  rate=human_bytes(bps) + "/s", how=_measured(access)))
    if problems:
        return problems
    seconds = round(sum(p.seconds for p in placements), 1)
    if config.max_seconds is not None and seconds > config.max_seconds:
        return [msg.error(
            DATA_UNREACHABLE, "Downloading the data takes about ${seconds} s here, more than the "
            "${limit} s a server of this hub may take to start; ask a hub closer to the data.",
            at=now, path="data", seconds=f"{seconds:g}", limit=f"{config.max_seconds:g}")]  # fmt: skip
    measured = {url: a for p in placements
                if (a := probes.get(url := p.location or "", Probe()).access) is not None}
    return DataPlan(tuple(placements), seconds, tuple(notes), proximity(placements, measured))


def _measured(access: Access | None) -> str:
    if access is None:
        return ""
    return (f" (measured from {access.host} over {access.samples} download"
            f"{'s' if access.samples != 1 else ''}, first byte after {access.latency:.2g} s)")


def _unreachable(
    d: DataSpec, i: int, url: str | None, config: DataConfig, now: datetime
) -> Message | None:
    path = f"data[{i}]"
    if d.kind == K.RUCIO_DATA or (d.kind == K.SKAO_DATA and url is None):
        scope = _text(_get(d.extra, "rucio", "scope")) or _text(_get(d.extra, "skao", "namespace"))
        return msg.error(DATA_UNREACHABLE, "${path} is in Rucio scope ${scope}, which this hub "
                         "cannot reach (no local collection holds it); ask a hub that holds it.",
                         at=now, path=path, scope=scope or "(none)")
    if d.kind == K.S3_DATA and url is None:
        what = "endpoint" if _text(d.extra.get("object")) else "object (a whole bucket is not copied)"
        return msg.error(DATA_UNREACHABLE, "${path} names no ${what}, and no local collection holds "
                         "bucket ${bucket}; give ${path}.endpoint and ${path}.object.", at=now, path=path,
                         what=what, bucket=_text(d.extra.get("bucket")) or "(none)")
    if url is None:
        ivoid = _text(_get(d.extra, "ivoa", "ivoid"))
        if ivoid:
            return msg.error(DATA_UNREACHABLE, "${path}.ivoa.ivoid ${ivoid} is not in a collection "
                             "of this hub, and the resource has no access_url to download; add "
                             "ivoa.obscore.access_url or ask a hub that holds it.", at=now, path=path,
                             ivoid=ivoid)
        return msg.error(msg.MISSING_VALUE, "${path} gives no location to download it from; add one.",
                         at=now, path=path)
    if urlsplit(url).scheme not in ("http", "https"):
        return msg.error(msg.NOT_SUPPORTED, "${path} is at ${url}; this hub downloads data over "
                         "http and https only.", at=now, path=path, url=url)
    rule = source_allowed(url, config)
    if rule is not None:
        return msg.error(DATA_DENIED, "${path} is at ${url}, a source this hub's policy forbids "
                         "(${rule}); ask another hub.", at=now, path=path, url=url, rule=rule)
    return None


def data_config(settings: Any) -> DataConfig:
    """The :class:`DataConfig` of the ``ExecPlanner`` settings (validated when they were set)."""
    return DataConfig(
        collections=parse_collections(settings.data_collections),
        bandwidth=parse_bandwidth(settings.data_bandwidth),
        default_bandwidth=float(settings.data_default_bandwidth),
        denied=tuple(settings.data_denied_sources),
        allowed=tuple(settings.data_allowed_sources),
        s3_endpoint=settings.data_s3_endpoint or None,
        max_bytes=int(settings.preload_max_data_size),
        max_seconds=float(settings.spawn_timeout),
        probe_timeout=float(settings.data_probe_timeout),
        fetch_allowed_hosts=tuple(settings.fetch_allowed_hosts),
        own_urls=(settings.public_url,) if settings.public_url else (),
    )
