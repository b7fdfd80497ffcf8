"""The answer to ``GET links`` as its two readers take it: the lab server (the panel's hubs) and the
``execplanner`` command (``hubs``, ``--via``). Pure, so both read it the same way and are tested with
canned answers.

:func:`read_links` checks each entry against the contract (docs/api.md): a peer's name as
:mod:`~..federation.peerconfig` allows it, a known state, URLs http(s) only (never ``javascript:``:
the authorize URL reaches a browser), times ISO 8601, names short and printable (they reach a
terminal). An entry that is not so is left out and named with its field (``links[2].relay is not an
http(s) URL``), so a reader can show the others and say why one is missing, or refuse them all.

:func:`relay_for` is where the own hub's token goes for a linked hub: the relay the answer names only
when it is under the own broker's URL, else the contract's ``{own}peers/{name}/``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from ..model import timing

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")  # a peer's name, as federation.peerconfig says
STATES = ("linked", "unlinked", "expired")
MAX_TEXT = 500  # characters of a text kept at most


class ListingError(ValueError):
    """What is wrong with an answer or an entry, naming the field (``links[0].hub ...``)."""


@dataclass(frozen=True)
class LinkEntry:
    """One peer of the own hub that the caller can link (an entry of ``GET links``)."""

    hub: str
    state: str  # "linked" | "unlinked" | "expired" (expired or revoked: link again)
    user: str | None = None  # the caller's name on that hub, when linked
    url: str | None = None  # that hub's broker (shown; calls go through the relay)
    relay: str | None = None  # the own hub's relay to it, as the answer names it
    authorize: str | None = None  # what a browser opens to link (again)
    linked_at: str | None = None
    expires_at: str | None = None
    message: str = ""
    owner: str | None = None  # an admin's ``?all=true``: whose link it is

    @property
    def linked(self) -> bool:
        return self.state == "linked"


def kind(value: Any) -> str:
    """What ``value`` is, for a message (``missing``, ``a str``, ...)."""
    return "missing" if value is None else f"a {type(value).__name__}"


def text(value: Any, where: str, *, required: bool = False) -> str | None:
    """A short printable string (control characters would reach a terminal), or None when absent."""
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value.strip()):
        raise ListingError(f"{where} is {kind(value)}, not a text")
    if len(value) > MAX_TEXT or not value.isprintable():
        raise ListingError(f"{where} is not a short line of printable text")
    return value


def shown_text(value: Any, where: str) -> str:
    """A message to show: a long one is cut (not an error), control characters become spaces."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ListingError(f"{where} is {kind(value)}, not a text")
    shown = "".join(c if c.isprintable() else " " for c in value)
    return shown if len(shown) <= MAX_TEXT else shown[: MAX_TEXT - 1] + "…"


def http_url(value: Any, where: str) -> str | None:
    """An absolute http(s) URL, or None when absent."""
    url = text(value, where)
    if url is None:
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        raise ListingError(f"{where} is not an http(s) URL: {url!r}")
    return url


def instant(value: Any, where: str) -> str | None:
    """An ISO 8601 time as the answer wrote it, or None when absent."""
    when = text(value, where)
    if when is not None and _parse_instant(when) is None:
        raise ListingError(f"{where} is not an ISO 8601 time: {when!r}")
    return when


def _parse_instant(value: str) -> datetime | None:
    try:
        return timing.parse_instant(value)
    except ValueError:
        return None


def read_entry(item: Any, where: str) -> LinkEntry:
    """One entry, checked; :class:`ListingError` names the first field that is wrong."""
    if not isinstance(item, dict):
        raise ListingError(f"{where} is {kind(item)}, not an object")
    hub = text(item.get("hub"), f"{where}.hub", required=True) or ""
    if not NAME.match(hub):
        raise ListingError(f"{where}.hub {hub!r} is not a hub's name (letters, digits, '.', '_', '-')")
    state = text(item.get("state"), f"{where}.state", required=True) or ""
    if state not in STATES:
        raise ListingError(f"{where}.state {state!r} is not one of {', '.join(STATES)}")
    return LinkEntry(
        hub=hub, state=state, user=text(item.get("user"), f"{where}.user"),
        url=http_url(item.get("url"), f"{where}.url"),
        relay=http_url(item.get("relay"), f"{where}.relay"),
        authorize=http_url(item.get("authorize"), f"{where}.authorize"),
        linked_at=instant(item.get("linked_at"), f"{where}.linked_at"),
        expires_at=instant(item.get("expires_at"), f"{where}.expires_at"),
        message=shown_text(item.get("message"), f"{where}.message"),
        owner=text(item.get("owner"), f"{where}.owner"),
    )


def read_links(body: Any) -> tuple[list[LinkEntry], list[str]]:
    """The entries of a ``GET links`` answer that are as the contract says, in order, and what is
    wrong with each of the others (a hub listed twice for one owner is wrong the second time).
    :class:`ListingError` when the answer has no ``links`` list at all."""
    items = body.get("links") if isinstance(body, dict) else None
    if not isinstance(items, list):
        what = "an object" if isinstance(body, dict) else kind(body)
        raise ListingError(f"the answer is {what} without a 'links' list")
    entries: list[LinkEntry] = []
    problems: list[str] = []
    seen: set[tuple[str | None, str]] = set()
    for index, item in enumerate(items):
        where = f"links[{index}]"
        try:
            entry = read_entry(item, where)
        except ListingError as e:
            problems.append(str(e))
            continue
        if (entry.owner, entry.hub) in seen:
            problems.append(f"{where}.hub {entry.hub!r} is listed twice")
            continue
        seen.add((entry.owner, entry.hub))
        entries.append(entry)
    return entries, problems


def relay_for(own: str, name: str, given: str | None = None) -> str:
    """Where to call hub ``name`` through the own broker ``own`` (its URL, ending in ``/``): the relay
    the answer gave when it lies under ``own`` (the own hub's token is sent there), else the
    contract's ``{own}peers/{name}/``."""
    if given and given.startswith(own) and ".." not in unquote(urlsplit(given).path).split("/"):
        return given if given.endswith("/") else given + "/"
    return f"{own}peers/{quote(name, safe='')}/"
