"""The user's linked accounts, as the own hub's broker lists them (``GET {own}links``): each peer of
the own hub that can be linked becomes a :class:`~.hubs.Hub` of kind ``linked`` whose URL is the
own broker's relay for that peer (``{own}peers/{name}/``) and whose token is the server's own hub
token. The tokens of the linked accounts stay with the own hub's broker: neither this server nor
the browser ever sees them.

:func:`parse_links` is pure and total: each entry is checked by :mod:`..links.listing` (as the
command line checks it); a hostile or malformed answer gives no peer (or fewer) and a message
saying what was wrong, never an exception. :func:`fetch_links` and :func:`unlink` are
the two calls to the own broker; :func:`link_state` reads the relay's "not linked" answer (409 with
``link``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

from ..client import BrokerClient, BrokerError, describe_error
from ..links import listing
from ..links.listing import LinkEntry, ListingError
from .hubs import Hub, Link

PEERS_HEADER = "X-Execplanner-Peers"  # "none": the own hub answers alone (the panel asks each peer)


@dataclass
class Found:
    """What :func:`fetch_links` found: the peers, and what went wrong (None: nothing)."""

    peers: list[Hub] = field(default_factory=list)
    error: str | None = None


def _hub(entry: LinkEntry, own: Hub) -> Hub:
    link = Link(
        state=entry.state,
        user=entry.user if entry.linked else None,
        authorize=entry.authorize,
        expires_at=entry.expires_at,
        message=entry.message or None,
        url=entry.url,
    )
    return Hub(entry.hub, listing.relay_for(own.url, entry.hub, entry.relay), own.token, link=link)


def _taken(name: str, own: Hub) -> str:
    if name == own.name:
        return f"{name}: a peer of your hub has your own hub's name; ask the hub's admin to rename it"
    return (f"{name}: a hub you added has this name; remove or rename it (Remove, then add it again "
            "under another name) to link your account there")


def parse_links(doc: Any, own: Hub, taken: Iterable[str] = ()) -> Found:
    """The peers of a ``GET {own}links`` answer, in its order (each entry checked by
    :func:`.links.listing.read_links`, as the command line does); ``taken``: names already in the
    list (the own hub's, the added hubs'), which a peer may not take. Each entry that cannot be used
    is left out and named in ``error``."""
    try:
        entries, problems = listing.read_links(doc)
    except ListingError as e:
        what = "text, not JSON (a login page?)" if isinstance(doc, str) else str(e)
        return Found(error=f"{own.name}: your linked accounts could not be listed: {what}; check "
                     f"that {own.url} is the hub's broker")
    names = set(taken) | {own.name}
    found = Found()
    for entry in entries:
        if entry.hub in names:
            problems.append(_taken(entry.hub, own))
            continue
        names.add(entry.hub)
        found.peers.append(_hub(entry, own))
    if problems:
        found.error = f"{own.name}: some linked accounts are not shown: " + "; ".join(problems[:5])
    return found


def link_state(error: BaseException) -> str | None:
    """``unlinked`` or ``expired`` when ``error`` is the relay's "your account there is not linked"
    (409 with ``link``); else None."""
    if not isinstance(error, BrokerError) or error.status != 409 or not isinstance(error.body, dict):
        return None
    state = error.body.get("link")
    return state if state in ("unlinked", "expired") else None


class LinksClient(BrokerClient):
    """The own broker, for the user's linked accounts."""

    async def links(self) -> Any:
        """``GET links``."""
        return await self._call("GET", self.url_for("links"))

    async def unlink(self, name: str) -> Any:
        """``DELETE links/{name}``."""
        return await self._call("DELETE", self.url_for(f"links/{quote(name, safe='')}"))


def _client(own: Hub, timeout: float) -> LinksClient:
    return LinksClient(own.url, own.token, timeout=timeout, name=own.name)


async def fetch_links(own: Hub | None, timeout: float, taken: Iterable[str] = ()) -> Found:
    """The own hub's linkable peers (``GET {own}links``, bounded by ``timeout``). A broker without
    linked accounts (404) has none; a failure is in ``error``, naming the hub."""
    if own is None or own.refusal or not own.token:
        return Found()
    try:
        async with _client(own, timeout) as broker:
            doc = await asyncio.wait_for(broker.links(), timeout)
    except BrokerError as e:
        if e.status == 404:
            return Found()
        return Found(error=f"{own.name}: your linked accounts could not be listed: {describe_error(e)}")
    except (asyncio.TimeoutError, httpx.HTTPError, ValueError, OSError) as e:
        return Found(
            error=f"{own.name}: your linked accounts could not be listed: {describe_error(e, timeout)}"
        )
    return parse_links(doc, own, taken)


async def unlink(own: Hub, name: str, timeout: float) -> Any:
    """``DELETE {own}links/{name}``: the broker's answer (raises BrokerError, httpx or timeout)."""
    async with _client(own, timeout) as broker:
        return await asyncio.wait_for(broker.unlink(name), timeout)
