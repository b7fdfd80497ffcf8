"""Reading DataLink documents before planning: the dataset an IVOA data resource names.

For every data resource of a request that no collection holds and that is planned through DataLink
(:func:`.resolution.wants`), the broker finds its DataLink document:

* an ObsCore ``access_url`` whose ``access_format`` (or the DataLink row's ``content_type``, or the
  content type a HEAD of the URL found) is ``application/x-votable+xml;content=datalink``;
* a DataLink row's ``service_def`` (a ``{links}`` endpoint URL) and ``ID``: ``<service_def>?ID=<ID>``;
* an ``ID`` or an ``ivoid`` alone: the DataLink service the admin declared for the identifier's
  prefix (``datalink_services``, longest prefix), else the first DataLink service the registry
  (``datalink_registry``, a RegTAP endpoint) lists for the identifier's authority.

The document is fetched with the hub's policies (:mod:`.netguard`'s address policy through
:class:`~.probe.GuardedTransport`, the source lists on every redirect), parsed with astropy's VOTable
reader and read with pyvo's ``DatalinkResults``: the row of the semantics the request names
(``ivoa.datalink.semantics``, else ``#this``) gives the dataset's ``access_url``, ``content_length``
and ``content_type``. A row's ``error_message`` (or a document whose ``QUERY_STATUS`` is ``ERROR``)
is the data centre's reason, quoted in the NO. Answers are kept ``datalink_cache_ttl`` seconds;
failures to ask (timeouts, refused addresses) are not kept.
"""

from __future__ import annotations

import asyncio
import io
import logging
import re
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import httpx

from ..client import tls_context
from ..model.lookup import dig
from ..model.request import DataSpec, ExecutionRequest
from . import resolution as res
from .datasets import DataConfig, Probe, match, source_allowed
from .netguard import AddressRefused, NetGuard
from .probe import REDIRECTS, GuardedTransport, guard_for

log = logging.getLogger(__name__)

MAX_DOCUMENT = 4 * 1024 * 1024  # bytes of a DataLink document (or a registry answer) read at most
MAX_RESOLVED = 20  # data resources of one request resolved at most
MAX_REDIRECTS = 5
MAX_CACHED = 4096  # answers kept at most; the oldest go first
USER_AGENT = "jupyterhub-execplanner-datalink"
DATALINK_STANDARD = "ivo://ivoa.net/std/datalink"
_AUTHORITY = re.compile(r"^ivo://([A-Za-z0-9][A-Za-z0-9._~+-]{2,})(/|\?|$)", re.IGNORECASE)
SETTINGS_FIX = ("the hub's admin may declare the data centre's DataLink service for the identifier's "
                "prefix (c.ExecPlanner.datalink_services) or a registry to look it up "
                "(c.ExecPlanner.datalink_registry); or give ivoa.obscore.access_url")


class Unreadable(Exception):
    """Why a document could not be read: the text of the NO, and the fix when it is not in it."""

    def __init__(self, problem: str, fix: str | None = "ask the data centre, or try again later") -> None:
        super().__init__(problem)
        self.fix = fix


@dataclass(frozen=True)
class Where:
    """Where ``data[i]``'s DataLink document is, and which identifier it was asked for."""

    url: str | None
    ident: str | None = None
    problem: str | None = None
    fix: str | None = None


def parse_services(value: Any, setting: str = "ExecPlanner.datalink_services") -> tuple[tuple[str, str], ...]:
    """``{ivoid prefix: DataLink {links} endpoint URL}``, longest prefix first. ValueError naming
    the key and the fix."""
    if not isinstance(value, Mapping):
        raise ValueError(f"{setting} must be a dict of ivoid prefix to a DataLink service URL")
    out = []
    for prefix, url in value.items():
        if not (isinstance(prefix, str) and prefix.lower().startswith("ivo://")):
            raise ValueError(f"{setting} key {prefix!r} must be an ivoid prefix like 'ivo://example.org/survey'")
        if not (isinstance(url, str) and url.startswith(("http://", "https://"))):
            raise ValueError(f"{setting}[{prefix!r}] must be the http(s) URL of a DataLink {{links}} "
                             f"endpoint, like 'https://example.org/survey/dlmeta', not {url!r}")
        out.append((prefix, url))
    return tuple(sorted(out, key=lambda p: -len(p[0])))


def with_id(service: str, ident: str) -> str:
    return f"{service}{'&' if '?' in service else '?'}{urlencode({'ID': ident}, quote_via=quote)}"


class DataLinkResolver:
    """Reads DataLink documents for the broker, keeping answers ``ttl`` seconds."""

    def __init__(self, services: Sequence[tuple[str, str]] = (), registry: str | None = None,
                 ttl: float = 60.0, guard: NetGuard | None = None) -> None:
        self.services, self.registry, self.ttl = tuple(services), registry, ttl
        self.guard = guard
        self._cache: dict[tuple[str, str], tuple[float, res.Resolution]] = {}
        self._registry_cache: dict[str, tuple[float, str | None]] = {}

    # -- the request as a whole ----------------------------------------------------------------

    async def resolve(self, request: ExecutionRequest, config: DataConfig, timeout: float,
                      content_types: Mapping[str, Probe] | None = None) -> dict[str, Probe]:
        """The resolutions of every data resource that wants one, under :func:`.resolution.key`;
        each takes at most ``timeout`` seconds, all of them concurrently. With ``content_types`` (the
        HEADs' answers), only those whose URL answered with a DataLink document (the others were
        asked before the HEADs)."""

        def wanted_now(d: DataSpec) -> bool:
            if content_types is None:
                return res.wants(d)
            head = content_types.get(d.location or "", Probe()).content_type
            return res.wants(d, head) and not res.wants(d)

        wanted = [(i, d) for i, d in enumerate(request.data)
                  if match(d, config.collections) is None and wanted_now(d)]
        if not wanted:
            return {}
        transport = GuardedTransport(self.guard or guard_for(config), tls_context())
        async with httpx.AsyncClient(timeout=timeout, follow_redirects=False, transport=transport,
                                     headers={"User-Agent": USER_AGENT}) as client:
            found = await asyncio.gather(*(self._timed(client, d, config, timeout)
                                           for _, d in wanted[:MAX_RESOLVED]))
        out = {res.key(i): Probe(resolution=r) for (i, _), r in zip(wanted, found, strict=False)}
        for i, _ in wanted[MAX_RESOLVED:]:
            out[res.key(i)] = Probe(resolution=res.Resolution(None, problem=(
                f"this hub reads the DataLink documents of at most {MAX_RESOLVED} data resources of a "
                "request"), fix="ask for fewer datasets at a time"))
        return out

    async def _timed(self, client: httpx.AsyncClient, d: DataSpec, config: DataConfig,
                     timeout: float) -> res.Resolution:
        try:
            return await asyncio.wait_for(self.resolve_one(client, d, config), timeout)
        except asyncio.TimeoutError:
            return res.Resolution(None, problem=f"its DataLink document did not come within {timeout:g} s",
                                  fix="try again later, or ask a hub closer to the data centre")

    async def resolve_one(self, client: httpx.AsyncClient, d: DataSpec, config: DataConfig) -> res.Resolution:
        semantics = res.semantics_of(d)
        given = dig(d.extra, "ivoa", "datalink", "error_message")
        if isinstance(given, str) and given.strip():
            return res.Resolution(_text(dig(d.extra, "ivoa", "datalink", "access_url")),
                                  semantics=semantics, error=given.strip())
        where = await self.document(client, d, config)
        if where.url is None:
            return res.Resolution(None, semantics=semantics, problem=where.problem, fix=where.fix)
        cached = self._cache.get((where.url, semantics))
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        try:
            body = await fetch(client, where.url, config)
        except Unreadable as e:
            return res.Resolution(where.url, semantics=semantics, problem=str(e), fix=e.fix)
        found = read_document(body, where.url, semantics, where.ident)
        _keep(self._cache, (where.url, semantics), (time.monotonic() + self.ttl, found))
        return found

    # -- where the document is -----------------------------------------------------------------

    async def document(self, client: httpx.AsyncClient, d: DataSpec, config: DataConfig) -> Where:
        row = dig(d.extra, "ivoa", "datalink")
        row = row if isinstance(row, dict) else {}
        obscore_url = _text(dig(d.extra, "ivoa", "obscore", "access_url"))
        if res.is_datalink_type(dig(d.extra, "ivoa", "obscore", "access_format")) and obscore_url:
            return Where(obscore_url, _text(dig(d.extra, "ivoa", "ivoid")))
        if res.is_datalink_type(row.get("content_type")) and _text(row.get("access_url")):
            return Where(_text(row.get("access_url")), _text(row.get("ID")))
        ident = _text(row.get("ID")) or _text(dig(d.extra, "ivoa", "ivoid"))
        service_def = _text(row.get("service_def"))
        if ident and service_def and service_def.startswith(("http://", "https://")):
            return Where(with_id(service_def, ident), ident)
        if not ident:
            if d.location:  # a URL that answered with a DataLink document
                return Where(d.location)
            return Where(None, problem="it names no dataset: give ivoa.ivoid, ivoa.obscore.access_url "
                         "or ivoa.datalink.ID")
        service = next((url for prefix, url in self.services if ident.startswith(prefix)), None)
        if service is None and self.registry:
            service = await self.from_registry(client, ident, config)
        if service is None:
            looked = ("neither the DataLink services this hub declares nor its registry know "
                      if self.registry else "this hub declares no DataLink service for ")
            if not self.services and not self.registry:
                looked = "this hub has neither a DataLink service nor a registry to look up "
            return Where(None, problem=f"{looked}{ident}", fix=SETTINGS_FIX)
        return Where(with_id(service, ident), ident)

    async def from_registry(self, client: httpx.AsyncClient, ident: str, config: DataConfig) -> str | None:
        """The first DataLink service the RegTAP registry lists for the identifier's authority."""
        found = _AUTHORITY.match(ident)
        if found is None or self.registry is None:
            return None
        authority = found.group(1).lower()
        cached = self._registry_cache.get(authority)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        query = ("SELECT TOP 1 i.access_url FROM rr.interface AS i NATURAL JOIN rr.capability AS c "
                 f"WHERE c.standard_id LIKE '{DATALINK_STANDARD}%' AND i.intf_role = 'std' "
                 f"AND (i.ivoid = 'ivo://{authority}' OR i.ivoid LIKE 'ivo://{authority}/%') "
                 "ORDER BY i.ivoid")
        url = f"{self.registry.rstrip('/')}/sync?" + urlencode(
            {"REQUEST": "doQuery", "LANG": "ADQL", "QUERY": query}, quote_via=quote)
        service: str | None = None
        try:
            table = _votable(await fetch(client, url, config)).get_first_table().to_table()
            if len(table):
                value = table[0][0]
                service = value.decode() if isinstance(value, bytes) else str(value)
        except (Unreadable, ValueError, IndexError) as e:
            log.warning("The registry %s could not be asked for %s: %s", self.registry, ident, e)
            return None
        _keep(self._registry_cache, authority, (time.monotonic() + self.ttl, service))
        return service


def _keep(cache: dict[Any, tuple[float, Any]], key: Any, value: tuple[float, Any]) -> None:
    """Keep ``value``; past :data:`MAX_CACHED` entries, the expired ones go, then the oldest."""
    if len(cache) >= MAX_CACHED:
        now = time.monotonic()
        for old in [k for k, (expires, _) in cache.items() if expires <= now]:
            del cache[old]
        while len(cache) >= MAX_CACHED:
            del cache[next(iter(cache))]
    cache.pop(key, None)
    cache[key] = value


# -- one document ------------------------------------------------------------------------------------


async def fetch(client: httpx.AsyncClient, url: str, config: DataConfig, limit: int = MAX_DOCUMENT) -> bytes:
    """The body of ``url`` (at most ``limit`` bytes), following redirects the source policy allows;
    Unreadable saying why not."""
    for _ in range(MAX_REDIRECTS + 1):
        if not url.startswith(("http://", "https://")):
            raise Unreadable(f"its DataLink document is at {url}, which is not an http or https URL",
                             "this hub reads DataLink documents over http and https only")
        rule = source_allowed(url, config)
        if rule is not None:
            raise Unreadable(f"its DataLink document is at {url}, a source this hub's policy forbids "
                             f"({rule})", "ask another hub")
        try:
            async with client.stream("GET", url) as response:
                if response.status_code in REDIRECTS and response.headers.get("Location"):
                    url = str(response.url.join(response.headers["Location"]))
                    continue
                if response.status_code >= 400:
                    raise Unreadable(f"its DataLink document at {url} answers HTTP {response.status_code}")
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > limit:
                        raise Unreadable(f"its DataLink document at {url} is larger than {limit} bytes")
                return bytes(body)
        except AddressRefused:
            raise Unreadable(f"its DataLink document is at {url}, an address this hub does not fetch from "
                             "(loopback, private, link-local or the hub's own); the hub's admin may allow "
                             "it with c.ExecPlanner.fetch_allowed_hosts", None) from None
        except httpx.HTTPError as e:
            raise Unreadable(f"its DataLink document at {url} could not be read "
                             f"({type(e).__name__})") from None
    raise Unreadable(f"its DataLink document at {url} was redirected more than {MAX_REDIRECTS} times")


def _votable(body: bytes) -> Any:
    from astropy.io.votable import parse

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # astropy warns about every quirk of a VOTable
        try:
            return parse(io.BytesIO(body), verify="ignore")
        except Exception as e:  # noqa: BLE001 - astropy raises many kinds for a bad document
            raise Unreadable(f"the answer is not a VOTable ({type(e).__name__})") from None


def read_document(body: bytes, url: str, semantics: str, ident: str | None = None) -> res.Resolution:
    """The :class:`~.resolution.Resolution` a DataLink document gives for ``semantics``."""
    from pyvo.dal import DALFormatError, DALQueryError
    from pyvo.dal.adhoc import DatalinkResults

    try:
        votable = _votable(body)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            results = DatalinkResults(votable, url=url)
    except Unreadable as e:
        return res.Resolution(url, semantics=semantics, problem=f"its DataLink document at {url}: {e}")
    except DALQueryError as e:  # QUERY_STATUS ERROR: the data centre's own reason
        return res.Resolution(url, semantics=semantics, error=" ".join(str(e.reason or e).split()))
    except DALFormatError:
        return res.Resolution(url, semantics=semantics,
                              problem=f"the answer at {url} is a VOTable but not a DataLink document")
    # exact terms only: narrower ones would need pyvo to download the vocabulary from ivoa.net,
    # which is no fetch of the hub's (and is not guarded by its address policy)
    rows = list(results.bysemantics(semantics, include_narrower=False))
    if ident is not None and len({_text(r.get("ID", decode=True)) for r in rows}) > 1:
        rows = [r for r in rows if _text(r.get("ID", decode=True)) == ident] or rows
    if not rows:
        return res.Resolution(url, semantics=semantics, problem=(
            f"its DataLink document at {url} has no {semantics} link"),
            fix="name the semantics of a link the document has (ivoa.datalink.semantics)")
    row = rows[0]
    error = _text(row.get("error_message", decode=True))
    if error:
        return res.Resolution(url, semantics=semantics, error=error)
    access = _text(row.get("access_url", decode=True))
    if not access:
        return res.Resolution(url, semantics=semantics, problem=(
            f"the {semantics} link of its DataLink document at {url} is a service, not a file"),
            fix="name a link with an access_url")
    return res.Resolution(url, access, _length(row.get("content_length")),
                          _text(row.get("content_type", decode=True)), semantics)


def _length(value: Any) -> int | None:
    try:
        size = int(value)
    except (TypeError, ValueError):  # masked (no value) or not a number
        return None
    return size if size >= 0 else None


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return value.strip() if isinstance(value, str) and value.strip() else None
