"""The user's linked accounts, as the own hub's broker lists them (``GET {own}links``): each peer of
the own hub that can be linked becomes a :class:`~.hubs.Hub` of kind ``linked`` whose URL is the
own broker's relay for that peer (``{own}peers/{name}/``) and whose token is the server's own hub
token. The tokens of the linked accounts stay with the own hub's broker: neither this server nor
the browser ever sees them.

:func:`parse_links` is pure and total: a hostile or malformed answer gives no peer (or fewer) and
a message saying what was wrong, never an exception. :func:`fetch_links` and :func:`unlink` are
the two calls to the own broker; :func:`link_state` reads the relay's "not linked" answer (409 with
``link``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from ..client import BrokerClient, BrokerError, describe_error
from .hubs import NAME_PATTERN, Hub, Link

LINK_STATES = ("linked", "unlinked", "expired")
MAX_TEXT = 500  # characters of a message or a name kept from the broker's answer
PEERS_HEADER = "X-Execplanner-Peers"  # "none": the own hub answers alone (the panel asks each peer)


@dataclass
class Found:
    """What :func:`fetch_links` found: the peers, and what went wrong (None: nothing)."""

    peers: list[Hub] = field(default_factory=list)
    error: str | None = None


def _shown(value: Any, size: int = 64) -> str:
    """``value`` as Python shows it, cut to ``size`` characters (for messages)."""
    text = repr(value)
    return text if len(text) <= size else text[: size - 1] + "…"


def _text(value: Any) -> str | None:
    return value[:MAX_TEXT] if isinstance(value, str) and value.strip() else None


def _http_url(value: Any) -> str | None:
    """``value`` when it is an absolute http(s) URL (never ``javascript:`` and the like)."""
    if not isinstance(value, str) or len(value) > 2000:
        return None
    try:
        parts = urlsplit(value.strip())
    except ValueError:
        return None
    return value.strip() if parts.scheme in ("http", "https") and parts.netloc else None


def relay_url(own: Hub, name: str) -> str:
    """The own broker's relay for peer ``name``: ``{own}peers/{name}/``."""
    return f"{own.url}peers/{quote(name, safe='')}/"


def _relay(own: Hub, name: str, given: Any) -> str:
    """The relay the broker named when it is on the own broker (the own hub's token goes there),
    else the one built from the own broker's URL."""
    url = _http_url(given)
    if url and url.startswith(own.url) and ".." not in urlsplit(url).path.split("/"):
        return url if url.endswith("/") else url + "/"
    return relay_url(own, name)


def _peer(item: Any, index: int, own: Hub, taken: set[str]) -> tuple[Hub | None, str | None]:
    where = f"links[{index}]"
    if not isinstance(item, dict):
        return None, f"{where} is not an object"
    name = item.get("hub")
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        return None, f"{where}.hub {_shown(name)} is not a hub name"
    if name in taken:
        return None, (
            f"{name}: a hub you added has this name; remove or rename it (Remove, then add it "
            "again under another name) to link your account there"
            if name != own.name
            else f"{name}: a peer of your hub has your own hub's name; ask the hub's admin to rename it"
        )
    state = item.get("state")
    if state not in LINK_STATES:
        return None, f"{name}: state {_shown(state, 32)} is not one of {', '.join(LINK_STATES)}"
    link = Link(
        state=state,
        user=_text(item.get("user")) if state == "linked" else None,
        authorize=_http_url(item.get("authorize")),
        expires_at=_text(item.get("expires_at")),
        message=_text(item.get("message")),
        url=_http_url(item.get("url")),
    )
    return Hub(name, _relay(own, name, item.get("relay")), own.token, link=link), None


def parse_links(doc: Any, own: Hub, taken: Iterable[str] = ()) -> Found:
    """The peers of a ``GET {own}links`` answer, in its order; ``taken``: names already in the list
    (the own hub's, the added hubs'), which a peer may not take. Each entry that cannot be used is
    left out and named in ``error``."""
    if not isinstance(doc, dict) or not isinstance(doc.get("links"), list):
        what = "text, not JSON (a login page?)" if isinstance(doc, str) else f"a JSON {type(doc).__name__}"
        return Found(error=f"{own.name}: your linked accounts could not be listed: the answer to GET "
                     f"links is {what} with no 'links' list; check that {own.url} is the hub's broker")
    names = set(taken) | {own.name}
    found = Found()
    problems = []
    for index, item in enumerate(doc["links"]):
        hub, problem = _peer(item, index, own, names)
        if problem:
            problems.append(problem)
        if hub is not None:
            names.add(hub.name)
            found.peers.append(hub)
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
