"""Linked accounts on the command line (issue 13): ``execplanner hubs``, ``link``, ``unlink``, and
reaching a linked hub by its name through your own hub.

    execplanner hubs --hub https://hub-a.example.org
    execplanner link hub-b --hub https://hub-a.example.org        # prints the URL to open in a browser
    execplanner ask request.yaml --via https://hub-a.example.org --hub https://hub-a.example.org --hub hub-b
    execplanner accept 0f3c1d2e --via https://hub-a.example.org --hub hub-b
    execplanner unlink hub-b --hub https://hub-a.example.org

Your own hub holds your tokens for the hubs you linked: a ``--hub`` given as a *name* (not an
``http(s)://`` URL) is looked up in your own hub's ``GET links`` (the ``--via`` hub) and called
through its relay (``{own}peers/{name}/``) with your own hub's token; the linked hub sees you as your
account there. No token of the linked hub is ever on the command line or in this process.

When an ``ask`` goes to your own hub and to hubs linked through it, your own hub is asked with
``X-Execplanner-Peers: none``, so that it does not also ask (and list again) its peers.

The ``GET links`` answer is read and shown by :mod:`.clilinkformat` (pure).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urljoin

from . import clistate
from .client import BrokerClient, BrokerError, broker_url, split_session_url
from .cliformat import TOKEN_ENV, UsageError, _dump, format_instant, parse_instant
from .clilinkformat import (
    NOT_LINKED,
    Link,
    LinksError,
    find_link,
    format_links_table,
    link_line,
    links_document,
    parse_links,
    relay_name,
    relay_url,
)
from .clilinkformat import shown_text as _message

PEERS_HEADER = "X-Execplanner-Peers"  # "none": ask this hub alone, not its peers (federation.merge's)


def env_token() -> str | None:
    return os.environ.get(TOKEN_ENV) or None


class LinkError(BrokerError):
    """A linked hub's relay answered 409: the caller's account there is not linked, or the link
    expired (or was revoked). Says which command links it (again)."""

    def __init__(self, peer: str, own: str, state: str, body: Any = None) -> None:
        what = "your link expired (or was revoked)" if state == "expired" else "your account is not linked"
        self.advice = f"{what}: run `execplanner link {peer} --hub {own}`"
        super().__init__(409, f"{peer}: {self.advice}", body)
        self.args = (self.message,)  # shown without "HTTP 409": the message says what to do

    def __str__(self) -> str:
        return self.message


# -- reaching hubs by name ------------------------------------------------------------------------


def is_name(hub: str) -> bool:
    return not hub.strip().lower().startswith(("http://", "https://"))


class PeerClient(BrokerClient):
    """A linked hub, called through the own hub's relay as the caller's account there: a 409 answer
    with a ``link`` field becomes a :class:`LinkError` that says how to link."""

    def __init__(self, relay: str, token: str | None, *, peer: str, own: str, timeout: float) -> None:
        super().__init__(relay, token, timeout=timeout, name=peer)
        self.own = own

    async def _call(self, method: str, url: str, doc: Any = None, *, direct: bool = False) -> Any:
        try:
            return await super()._call(method, url, doc, direct=direct)
        except BrokerError as e:
            state = e.body.get("link") if isinstance(e.body, dict) else None
            if e.status == 409 and state in NOT_LINKED:
                raise LinkError(self.name, self.own, str(state), e.body) from None
            raise


class OwnHub(BrokerClient):
    """The own hub's broker, for the caller's linked accounts."""

    async def links(self, *, all_users: bool = False) -> Any:
        """``GET links`` as answered (:func:`parse_links` checks it); ``all_users``: everybody's."""
        return await self._call("GET", self.url_for("links?all=1" if all_users else "links"))

    async def unlink(self, hub: str) -> Any:
        """``DELETE links/{hub}``: revoke the caller's link to ``hub`` there, and forget it."""
        return await self._call("DELETE", self.url_for(f"links/{quote(hub, safe='')}"))


async def fetch_links(own: str, token: str | None, timeout: float, *, all_users: bool = False) -> list[Link]:
    """``GET {own}links``, checked (:class:`LinksError` says what is wrong with a bad answer)."""
    async with OwnHub(own, token, timeout=timeout) as client:
        try:
            body = await client.links(all_users=all_users)
        except BrokerError as e:
            if e.status != 404:
                raise
            raise LinksError(f"{client.url}links: {e.message} (is this your own hub, with accounts on "
                             "other hubs to link? see docs/linked-accounts.md)") from None
    try:
        return parse_links(body)
    except LinksError as e:
        raise LinksError(f"{client.url}links answered something else than linked hubs: {e}") from None


@dataclass(frozen=True)
class Target:
    """A hub of the command line: its broker URL, or a linked hub's relay on the own hub."""

    hub: str  # as given
    url: str  # what is called
    peer: str | None = None  # the linked hub's name
    own: str | None = None  # the own hub, as given with --via


def _via(via: str | None, name: str) -> str:
    if not via:
        raise UsageError(f"--hub {name!r} is not a URL: give a hub's http(s) URL, or give your own hub "
                         f"with --via URL to reach {name!r} as one of the hubs linked to your account there")
    try:
        return broker_url(via)
    except ValueError as e:
        raise UsageError(f"--via: {e}") from None


async def targets(hubs: Sequence[str], tokens: Sequence[str | None], via: str | None,
                  timeout: float) -> list[Target]:
    """Each ``--hub``: a URL as it is, a name resolved through the ``--via`` hub's ``GET links``
    (with the token given for the first name: your own hub's)."""
    named = [i for i, hub in enumerate(hubs) if is_name(hub)]
    if not named:
        return [Target(hub, hub) for hub in hubs]
    own = _via(via, hubs[named[0]])
    shown = via or own  # as the user wrote it, for messages
    links = await fetch_links(own, tokens[named[0]], timeout)
    found = {i: find_link(links, hubs[i].strip(), shown) for i in named}
    return [Target(hub, relay_url(own, found[i]), found[i].hub, shown) if i in found else Target(hub, hub)
            for i, hub in enumerate(hubs)]


def clients(found: Sequence[Target], tokens: Sequence[str | None], timeout: float, *,
            ask: bool = False) -> list[BrokerClient]:
    """A client for each target; with ``ask``, the own hub (when also a target) is asked alone."""
    owns = {broker_url(t.own) for t in found if t.own}
    out: list[BrokerClient] = []
    for target, token in zip(found, tokens, strict=True):
        if target.peer and target.own:
            out.append(PeerClient(target.url, token, peer=target.peer, own=target.own, timeout=timeout))
            continue
        alone = ask and _broker_or_none(target.url) in owns
        out.append(BrokerClient(target.url, token, timeout=timeout,
                                headers={PEERS_HEADER: "none"} if alone else None))
    return out


def _broker_or_none(url: str) -> str | None:
    try:
        return broker_url(url)
    except ValueError:
        return None


# -- one session's hub ----------------------------------------------------------------------------


def remembered(ref: str, env: dict[str, str] | None = None) -> clistate.AskedOffer | None:
    """The last ask's offer ``ref`` (its URL, uuid or a unique start of its uuid), with the broker
    that made it: a linked hub's offer is reached through the relay it was asked through."""
    offers = clistate.load_last_ask(clistate.state_path(env)).offers
    ref = ref.strip()
    if clistate.is_prefix(ref):
        try:
            ref = clistate.match_prefix(ref, [o.uuid for o in offers])
        except clistate.PrefixError:
            return None
    return next((o for o in offers if ref in (o.url, o.uuid)), None)


def client_for(broker: str, token: str | None, timeout: float) -> BrokerClient:
    """A client for a remembered broker: a linked hub's relay is named as the hub."""
    peer = relay_name(broker)
    if peer:  # a remembered relay: its own hub is what comes before /peers/
        own = broker.rstrip("/").rsplit("/peers/", 1)[0] + "/"
        return PeerClient(broker, token, peer=peer, own=own, timeout=timeout)
    return BrokerClient(broker, token, timeout=timeout)


async def session_client(args: argparse.Namespace, token: str | None = None) -> BrokerClient:
    """The broker of the command's session: ``--hub`` (a URL, or a linked hub's name with ``--via``),
    else the one that offered it in the last ask (``args.session`` then becomes its whole uuid),
    else the one in the session's URL."""
    token = token or (args.token or [None])[0] or env_token()
    if args.hub:
        (target,) = await targets([args.hub], [token], getattr(args, "via", None), args.timeout)
        return clients([target], [token], args.timeout)[0]
    offer = remembered(args.session)
    if offer:
        args.session = offer.uuid
        return client_for(offer.broker, token, args.timeout)
    if args.session.startswith(("http://", "https://")):
        try:
            base, _ = split_session_url(args.session)
        except ValueError as e:
            raise UsageError(str(e)) from e
        return BrokerClient(base, token, timeout=args.timeout)
    raise UsageError("give the session's full URL, or its uuid (or the start of it) with --hub URL "
                     "(or --hub NAME --via URL for a linked hub)")


def session_broker(args: argparse.Namespace) -> str:
    """Which broker ``session_client`` will call, without calling any (to pick the token of the
    last ask's hub when several ``--token`` are given); ValueError when it cannot say."""
    if args.hub and is_name(args.hub):
        own = _via(getattr(args, "via", None), args.hub)
        return urljoin(own, f"peers/{quote(args.hub.strip(), safe='')}/")
    if args.hub:
        return broker_url(args.hub)
    offer = remembered(args.session)
    return offer.broker if offer else split_session_url(args.session)[0]


# -- the commands ---------------------------------------------------------------------------------


def _own(args: argparse.Namespace) -> str:
    try:
        return broker_url(args.hub)
    except ValueError as e:
        raise UsageError(f"--hub: {e}") from None


def _token(args: argparse.Namespace) -> str | None:
    return (args.token or [None])[0] or env_token()


def _note(text: str) -> None:
    print(f"execplanner: {text}", file=sys.stderr)


async def hubs_command(args: argparse.Namespace) -> int:
    links = await fetch_links(_own(args), _token(args), args.timeout, all_users=args.all)
    if args.format == "table":
        print(format_links_table(links, args.hub))
    else:
        print(_dump(links_document(links), args.format))
    return 0


async def link_command(args: argparse.Namespace) -> int:
    link = find_link(await fetch_links(_own(args), _token(args), args.timeout), args.name, args.hub)
    if not link.authorize:
        _note(link_line(link, args.hub))
        return 1
    if link.linked:
        until = f" until {format_instant(parse_instant(link.expires_at))}" if link.expires_at else ""
        _note(f"{link.hub}: linked already as {link.user or '?'}{until}; opening this URL links again")
    print(link.authorize)  # alone on standard output: `xdg-open "$(execplanner link ...)"`
    _note(f"open this URL in a browser to link your account on {link.hub} (you log in there as "
          f"yourself); then `execplanner hubs --hub {args.hub}` shows it linked")
    return 0


async def unlink_command(args: argparse.Namespace) -> int:
    own, token = _own(args), _token(args)
    link = find_link(await fetch_links(own, token, args.timeout), args.name, args.hub)
    async with OwnHub(own, token, timeout=args.timeout) as client:
        body = await client.unlink(link.hub)
    if not isinstance(body, dict) or not isinstance(body.get("revoked"), bool):
        raise LinksError(f"{client.url}links/{link.hub} answered no 'revoked' true or false")
    message = _message(body.get("message"), "message")
    print(message or f"{link.hub}: unlinked.")
    if body["revoked"] or link.state == "unlinked":  # revoked, or there was no link to revoke
        return 0
    if not message:  # the hub's message says where to revoke it; without one, say it here
        where = f" at {link.url.split('/services/', 1)[0]}/hub/token" if link.url else ""
        _note(f"{link.hub} may still accept the token of this link: log in there and revoke it{where}")
    return 1


VIA_HELP = ("your own hub's URL: a --hub given as a name (a hub linked to your account there, see "
            "`execplanner hubs`) is reached through it, as your account on that hub, with your own "
            "hub's token")


def add_commands(sub: argparse._SubParsersAction,
                 add_common: Callable[[argparse.ArgumentParser], None]) -> None:
    """``hubs``, ``link`` and ``unlink``."""
    hubs = sub.add_parser(
        "hubs", help="list the hubs linked (or to link) to your account on your own hub",
        description="List the hubs your own hub can reach as your account there: linked, not linked "
                    "or expired, as whom, until when, and the URL to open in a browser to link.")
    hubs.add_argument("--hub", required=True, metavar="URL", help="your own hub (or its broker) URL")
    hubs.add_argument("--all", action="store_true", help="admins: every user's links")
    hubs.add_argument("--format", choices=("table", "json", "yaml"), default="table")
    add_common(hubs)
    hubs.set_defaults(func=hubs_command)

    link = sub.add_parser(
        "link", help="print the URL that links your account on another hub",
        description="Print the URL to open in a browser: the other hub's own login and consent page; "
                    "your own hub then holds a token for your account there (never this command).")
    link.add_argument("name", metavar="NAME", help="the hub's name, as `execplanner hubs` lists it")
    link.add_argument("--hub", required=True, metavar="URL", help="your own hub (or its broker) URL")
    add_common(link)
    link.set_defaults(func=link_command)

    unlink = sub.add_parser(
        "unlink", help="revoke and forget the link to your account on another hub",
        description="Your own hub revokes its token for your account on hub NAME and forgets it. "
                    "Exit status 1 when it could not be revoked there (the message says what to do).")
    unlink.add_argument("name", metavar="NAME", help="the hub's name, as `execplanner hubs` lists it")
    unlink.add_argument("--hub", required=True, metavar="URL", help="your own hub (or its broker) URL")
    add_common(unlink)
    unlink.set_defaults(func=unlink_command)
