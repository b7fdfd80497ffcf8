"""How big remote data is: an HTTP HEAD of each URL, all at once, each bounded by a timeout.

The manager measures the data a request would download before it plans (the planner stays pure and
gets the answers). A URL that does not answer in time, answers without ``Content-Length`` or with an
error has an unknown size (a 404 or 410 is kept as the status, and the planner says NO for it).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import httpx

from ..client import tls_context
from .datasets import Probe

USER_AGENT = "jupyterhub-execplanner-probe"


async def probe_one(client: httpx.AsyncClient, url: str, timeout: float) -> Probe:
    try:
        response = await asyncio.wait_for(client.head(url), timeout)
    except asyncio.TimeoutError:
        return Probe(error=f"no answer to HEAD within {timeout:g} s")
    except httpx.HTTPError as e:
        return Probe(error=f"HEAD failed: {type(e).__name__}")
    if response.status_code >= 400:
        return Probe(status=response.status_code, error=f"HEAD answered HTTP {response.status_code}")
    length = response.headers.get("Content-Length", "")
    if not length.isdigit():
        return Probe(status=response.status_code, error="HEAD gave no Content-Length")
    return Probe(size=int(length), status=response.status_code)


async def probe_sizes(urls: Iterable[str], *, timeout: float = 5.0) -> dict[str, Probe]:
    """The :class:`Probe` of each URL, asked concurrently; the whole takes at most ~``timeout``."""
    wanted = list(dict.fromkeys(urls))
    if not wanted:
        return {}
    async with httpx.AsyncClient(
        timeout=timeout, follow_redirects=True, max_redirects=5, headers={"User-Agent": USER_AGENT},
        verify=tls_context(),
    ) as client:
        found = await asyncio.gather(*(probe_one(client, url, timeout) for url in wanted))
    return dict(zip(wanted, found, strict=True))
