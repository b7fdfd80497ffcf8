"""The linked hubs of ``GET links``, read and shown for the ``execplanner`` command (issue 13): pure,
as :mod:`.cliformat`, so it is tested with canned answers.

:func:`parse_links` checks each entry against the contract with :mod:`.links.listing`, as the lab
server does (names as peers' names, URLs http(s), times ISO 8601, texts short and printable: they
reach a terminal); a hostile or foreign answer is a :class:`LinksError` naming the entry and the
field. :func:`format_links_table` is ``execplanner hubs``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any
from urllib.parse import urlsplit

from .client import BrokerError, broker_url
from .cliformat import NONE, UsageError, format_instant, format_table, parse_instant
from .links import listing
from .links.listing import NAME, LinkEntry, ListingError

LINK_COLUMNS = ("NAME", "STATE", "USER", "EXPIRES")
NOT_LINKED = {"unlinked": "not linked", "expired": "expired: link again"}


class LinksError(BrokerError):
    """The own hub's answer to ``GET links`` (or ``DELETE links/{hub}``) is not what this command
    understands: no usable answer (status 0), with the entry and field that is wrong."""

    def __init__(self, message: str) -> None:
        super().__init__(0, message)


Link = LinkEntry  # one hub that can be linked to the caller's account (an entry of GET links)


# -- reading GET links (pure; the checks are links.listing's, shared with the lab server) -----------


def shown_text(value: Any, where: str) -> str:
    """A message to show: a long one is cut, control characters become spaces; not a text is a
    :class:`LinksError`."""
    try:
        return listing.shown_text(value, where)
    except ListingError as e:
        raise LinksError(str(e)) from None


def parse_links(body: Any) -> list[Link]:
    """The entries of a ``GET links`` answer, checked (:func:`.links.listing.read_links`): a
    :class:`LinksError` names the first entry and field that is not as the contract says."""
    try:
        links, problems = listing.read_links(body)
    except ListingError as e:
        raise LinksError(str(e)) from None
    if problems:
        raise LinksError(problems[0])
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
    under ``own``, else the contract's ``{own}peers/{name}/``. Your own hub's token is sent there, so
    never anywhere else than the broker you named."""
    return listing.relay_for(broker_url(own), link.hub, link.relay)


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
