"""How big remote data is: an HTTP HEAD of each URL, all at once, each bounded by a timeout.

The manager measures the data a request would download before it plans (the planner stays pure and
gets the answers). A URL that does not answer in time, answers without ``Content-Length`` or with an
error has an unknown size (a 404 or 410 is kept as the status, and the planner says NO for it).

Redirects are followed by hand, at most :data:`MAX_REDIRECTS`, and each new location is checked
against the hub's source policy (``data_denied_sources``, ``data_allowed_sources``) before it is
asked: a redirect to a forbidden source leaves the size unknown, with the rule as the reason. At most
:data:`MAX_PROBES` URLs of one request are measured, so a request cannot make the broker send
hundreds of HEADs; the others have an unknown size, saying so.

Every connection goes through the hub's address policy (:mod:`.netguard`): the HEAD's connection pool
has a network backend that resolves the host, checks every address and connects to a checked one (TLS
still verifies the URL's host name), so a URL, a redirect or a second DNS answer on a loopback, private
or hub address is never asked. The caller then learns only :data:`NOT_ALLOWED`: no status, error or
size, and the same whether anything listens there or not. The probe connects directly: an HTTP proxy
from the environment is not used (through one, the address checked would be the proxy's).
"""

from __future__ import annotations

import asyncio
import os
import ssl
from collections.abc import Iterable, Mapping

import httpcore
import httpx

from ..client import tls_context
from .datasets import DataConfig, Probe, source_allowed
from .netguard import AddressRefused, NetGuard, hub_urls_from_env

USER_AGENT = "jupyterhub-execplanner-probe"
MAX_REDIRECTS = 5
MAX_PROBES = 20  # URLs measured for one request
MIN_TIMEOUT = 0.05  # seconds; with less, nothing is asked
REDIRECTS = frozenset({301, 302, 303, 307, 308})
NOT_ALLOWED = "not measured (address not allowed)"


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend, connecting only to addresses the guard has checked."""

    def __init__(self, guard: NetGuard, inner: httpcore.AsyncNetworkBackend | None = None) -> None:
        self.guard, self.inner = guard, inner or httpcore.AnyIOBackend()

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
                          ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:  # DNS blocks: in a thread; AddressRefused goes up as it is
            addresses = await loop.run_in_executor(None, self.guard.checked_addresses, host, port)
        except OSError as e:
            raise httpcore.ConnectError(f"{host} does not resolve: {e}") from e
        error: Exception | None = None
        for ip in addresses:
            try:
                return await self.inner.connect_tcp(str(ip), port, timeout=timeout,
                                                    local_address=local_address,
                                                    socket_options=socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as e:
                error = e
        assert error is not None
        raise error

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
                                  ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not fetched")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport (its requests, responses and error mapping) over a connection pool with
    the :class:`GuardedBackend` (httpx has no argument for a network backend, so its pool is
    replaced; tests/service/test_probe.py fails if that stops pinning)."""

    def __init__(self, guard: NetGuard, verify: ssl.SSLContext) -> None:
        super().__init__(verify=verify, trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=verify, max_connections=100, max_keepalive_connections=20, keepalive_expiry=5.0,
            network_backend=GuardedBackend(guard),
        )


def guard_for(config: DataConfig | None, environ: Mapping[str, str] = os.environ) -> NetGuard:
    """The service's guard: ``fetch_allowed_hosts`` from ``config``; the hub's own hosts from the
    service's environment and the broker's public URL."""
    config = config or DataConfig()
    return NetGuard.build(config.fetch_allowed_hosts, (*hub_urls_from_env(environ), *config.own_urls))


def redirect_problem(url: str, config: DataConfig | None) -> str | None:
    """Why a redirect to ``url`` is not followed, or None."""
    parsed = httpx.URL(url)
    if parsed.scheme not in ("http", "https") or not parsed.host:
        return f"HEAD was redirected to {url}, which is not an http or https URL"
    rule = source_allowed(url, config) if config is not None else None
    if rule is not None:
        return f"HEAD was redirected to {url}, a source this hub's policy forbids: {rule}"
    return None


async def _head(client: httpx.AsyncClient, url: str, config: DataConfig | None) -> Probe:
    for hop in range(MAX_REDIRECTS + 1):
        response = await client.head(url)
        if response.status_code not in REDIRECTS:
            break
        location = response.headers.get("Location")
        if not location:
            return Probe(status=response.status_code,
                         error=f"HEAD answered HTTP {response.status_code} without a Location")
        if hop == MAX_REDIRECTS:
            return Probe(error=f"HEAD was redirected more than {MAX_REDIRECTS} times")
        target = str(response.url.join(location))
        problem = redirect_problem(target, config)
        if problem is not None:
            return Probe(error=problem)
        url = target
    if response.status_code >= 400:
        return Probe(status=response.status_code, error=f"HEAD answered HTTP {response.status_code}")
    length, kind = response.headers.get("Content-Length", ""), response.headers.get("Content-Type")
    if not length.isdigit():
        return Probe(status=response.status_code, error="HEAD gave no Content-Length", content_type=kind)
    return Probe(size=int(length), status=response.status_code, content_type=kind)


async def probe_one(
    client: httpx.AsyncClient, url: str, timeout: float, config: DataConfig | None = None
) -> Probe:
    """The :class:`Probe` of ``url``; the whole chain of redirects takes at most ``timeout``."""
    try:
        return await asyncio.wait_for(_head(client, url, config), timeout)
    except AddressRefused:
        return Probe(error=NOT_ALLOWED, refused=True)
    except asyncio.TimeoutError:
        return Probe(error=f"no answer to HEAD within {timeout:g} s")
    except httpx.HTTPError as e:
        return Probe(error=f"HEAD failed: {type(e).__name__}")


async def probe_sizes(
    urls: Iterable[str], *, timeout: float = 5.0, config: DataConfig | None = None,
    limit: int = MAX_PROBES, guard: NetGuard | None = None,
) -> dict[str, Probe]:
    """The :class:`Probe` of each URL, asked concurrently; the whole takes at most ~``timeout``.
    Redirects are checked against ``config``'s source policy, every connection against ``guard``
    (default: :func:`guard_for` ``config``); only the first ``limit`` URLs are asked."""
    wanted = list(dict.fromkeys(urls))
    if not wanted:
        return {}
    if timeout < MIN_TIMEOUT:
        return {u: Probe(error="not measured: the caller's timeout leaves no time for it") for u in wanted}
    asked, skipped = wanted[:limit], wanted[limit:]
    transport = GuardedTransport(guard or guard_for(config), tls_context())
    async with httpx.AsyncClient(
        timeout=timeout, follow_redirects=False, headers={"User-Agent": USER_AGENT}, transport=transport,
    ) as client:
        found = await asyncio.gather(*(probe_one(client, url, timeout, config) for url in asked))
    probes = dict(zip(asked, found, strict=True))
    for url in skipped:
        probes[url] = Probe(error=f"not measured: this hub measures at most {limit} URLs of a request")
    return probes
