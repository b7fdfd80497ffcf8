"""The linked hubs of ``GET links``, read and shown for the ``execplanner`` command (issue 13): pure,
as :mod:`.cliformat`, so it is tested with canned answers.

:func:`parse_links` checks each entry against the contract (names as peers' names, URLs http(s), times
ISO 8601, texts short and printable: they reach a terminal); a hostile or foreign answer is a
:class:`LinksError` naming the entry and the field. :func:`format_links_table` is ``execplanner hubs``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

from .client import BrokerError, broker_url
from .cliformat import NONE, UsageError, format_instant, format_table, parse_instant

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")  # a peer's name, as federation.peerconfig checks it
LINK_COLUMNS = ("NAME", "STATE", "USER", "EXPIRES")
MAX_TEXT = 500  # characters of a text shown at most
NOT_LINKED = {"unlinked": "not linked", "expired": "expired: link again"}


class LinksError(BrokerError):
    """The own hub's answer to ``GET links`` (or ``DELETE links/{hub}``) is not what this command
    understands: no usable answer (status 0), with the entry and field that is wrong."""

    def __init__(self, message: str) -> None:
        super().__init__(0, message)


@dataclass(frozen=True)
class Link:
    """One hub that can be linked to the caller's account on the own hub (an entry of ``GET links``)."""

    hub: str
    state: str  # "linked" | "unlinked" | "expired"
    user: str | None = None  # the caller's name on that hub, when linked
    url: str | None = None  # that hub's broker
    relay: str | None = None  # the own hub's relay to it
    authorize: str | None = None  # open in a browser to link
    linked_at: str | None = None
    expires_at: str | None = None
    message: str = ""
    owner: str | None = None  # admins' ?all=1: whose link it is

    @property
    def linked(self) -> bool:
        return self.state == "linked"


# -- reading GET links (pure) ---------------------------------------------------------------------


def _text(value: Any, where: str, *, required: bool = False) -> str | None:
    """A short printable string (control characters would reach the terminal), or None."""
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value.strip()):
        raise LinksError(f"{where} is {_kind(value)}, not a text")
    if len(value) > MAX_TEXT or not value.isprintable():
        raise LinksError(f"{where} is not a short line of printable text")
    return value


def shown_text(value: Any, where: str) -> str:
    """A message to show: a long one is cut (not an error), control characters become spaces."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise LinksError(f"{where} is {_kind(value)}, not a text")
    text = "".join(c if c.isprintable() else " " for c in value)
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def _kind(value: Any) -> str:
    return "missing" if value is None else f"a {type(value).__name__}"


def _url(value: Any, where: str) -> str | None:
    text = _text(value, where)
    if text is None:
        return None
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise LinksError(f"{where} is not an http(s) URL: {text!r}")
    return text


def _instant(value: Any, where: str) -> str | None:
    text = _text(value, where)
    if text is not None and parse_instant(text) is None:
        raise LinksError(f"{where} is not an ISO 8601 time: {text!r}")
    return text


def parse_links(body: Any) -> list[Link]:
    """The entries of a ``GET links`` answer, checked: :class:`LinksError` names the first entry and
    field that is not as the contract says (names as peers' names, URLs http(s), times ISO 8601,
    texts short and printable)."""
    items = body.get("links") if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise LinksError(f"the answer is {_kind(body) if not isinstance(body, dict) else 'an object'} "
                         "without a 'links' list")
    links, seen = [], set()
    for i, item in enumerate(items):
        where = f"links[{i}]"
        if not isinstance(item, dict):
            raise LinksError(f"{where} is {_kind(item)}, not an object")
        hub = _text(item.get("hub"), f"{where}.hub", required=True) or ""
        if not NAME.match(hub):
            raise LinksError(f"{where}.hub {hub!r} is not a hub's name (letters, digits, '.', '_', '-')")
        state = _text(item.get("state"), f"{where}.state", required=True) or ""
        if state not in ("linked", *NOT_LINKED):
            raise LinksError(f"{where}.state {state!r} is not one of linked, unlinked, expired")
        owner = _text(item.get("owner"), f"{where}.owner")
        if (owner, hub) in seen:
            raise LinksError(f"{where}.hub {hub!r} is listed twice")
        seen.add((owner, hub))
        links.append(Link(
            hub=hub, state=state, user=_text(item.get("user"), f"{where}.user"),
            url=_url(item.get("url"), f"{where}.url"), relay=_url(item.get("relay"), f"{where}.relay"),
            authorize=_url(item.get("authorize"), f"{where}.authorize"),
            linked_at=_instant(item.get("linked_at"), f"{where}.linked_at"),
            expires_at=_instant(item.get("expires_at"), f"{where}.expires_at"),
            message=shown_text(item.get("message"), f"{where}.message"), owner=owner,
        ))
    return links


def find_link(links: Sequence[Link], name: str, own: str) -> Link:
    """The entry of hub ``name``; a :class:`UsageError` listing the names there are otherwise."""
    for link in links:
        if link.hub == name:
            return link
    names = ", ".join(link.hub for link in links) or "none"
    raise UsageError(f"{own} has no hub named {name!r} to link (its hubs: {names}); "
                     "give a hub that is not linked by its URL")


def relay_url(own: str, link: Link) -> str:
    """Where to call ``link``'s hub through the own broker ``own``: the answer's ``relay`` when it is
    on the own hub's host, else the contract's ``{own}peers/{name}/``. Your own hub's token is sent
    there, so never to another host than the one you named."""
    if link.relay and _origin(link.relay) == _origin(own):
        return broker_url(link.relay)
    return urljoin(own, f"peers/{quote(link.hub, safe='')}/")


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc.lower()


def relay_name(url: str) -> str | None:
    """The linked hub's name when ``url`` is a relay (``…/services/<svc>/peers/<name>/``)."""
    segments = urlsplit(url).path.rstrip("/").split("/")
    if len(segments) >= 5 and segments[-4] == "services" and segments[-2] == "peers":
        return segments[-1] if NAME.match(segments[-1]) else None
    return None


# -- showing them (pure) --------------------------------------------------------------------------


def format_links_table(links: Sequence[Link], own: str) -> str:
    """The hubs you can link through ``own``, then, for each not linked, the URL to open."""
    if not links:
        return (f"No hubs to link: {own} has no peers declared for linked accounts "
                "(see docs/linked-accounts.md).")
    owners = any(link.owner for link in links)
    rows = []
    for link in links:
        rows.append(([link.owner or NONE] if owners else []) + [
            link.hub,
            link.state if link.linked else NOT_LINKED.get(link.state, link.state),
            link.user or NONE,
            format_instant(parse_instant(link.expires_at)),
        ])
    parts = [format_table((("OWNER",) if owners else ()) + LINK_COLUMNS, rows)]
    todo = [link for link in links if not link.linked and not owners]
    if todo:
        parts.append("\n".join(link_line(link, own) for link in todo))
    return "\n\n".join(parts)


def link_line(link: Link, own: str) -> str:
    """How to link ``link`` (again): the URL to open in a browser."""
    again = " again" if link.state == "expired" or link.linked else ""
    if link.authorize:
        return f"{link.hub}: open {link.authorize} in a browser to link{again}"
    return f"{link.hub}: link{again} in the panel of {own} (the hub gave no URL to open)"


def links_document(links: Sequence[Link]) -> dict[str, Any]:
    return {"links": [asdict(link) for link in links]}
