"""Linking a user's account on a peer hub, and using it: what the ``links`` endpoints do.

:class:`Linker` starts the OAuth flow (a pending link bound to the user and to their browser),
finishes it (the code traded for a token, sealed, kept in the :class:`~.book.LinkBook`), lists and
removes links (revoking the token on the peer), and hands the federation and the relay the token
to use for a user on a peer. A token is only ever sent to the peer whose hub issued it.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from ..federation.peers import Peer
from ..model.messages import format_time
from ..sessions.store import Store
from . import oauth
from .book import EXPIRED, LINKED, UNLINKED, Link, LinkBook
from .oauth import LinkFlowError, Pending
from .sealing import Sealer, SealingUnavailable

FLOW_TIMEOUT = timedelta(minutes=10)  # how long a user has to log in and consent on the peer
MAX_PENDING_PER_USER = 5
MAX_PENDING = 10_000
KEY_CHANGED = "this hub's encryption key changed"  # a token it cannot decrypt: "link again"


class Linker:
    def __init__(self, peers: Sequence[Peer], book: LinkBook, sealer: Sealer | None, *,
                 clock: Callable[[], datetime], timeout: float = 10.0,
                 sealing_problem: str | None = None) -> None:
        self.peers = [p for p in peers if p.spec.link is not None]
        self.book, self.sealer, self.clock, self.timeout = book, sealer, clock, timeout
        self.sealing_problem = sealing_problem
        self._pending: dict[str, Pending] = {}

    @property
    def active(self) -> bool:
        return bool(self.peers)

    def peer(self, name: str) -> Peer:
        found = next((p for p in self.peers if p.name == name), None)
        if found is None:
            names = ", ".join(p.name for p in self.peers) or "none"
            raise LinkFlowError(
                404, f"No peer named {name!r} can be linked here (peers with a link: {names})."
            )
        return found

    def _problem(self, peer: Peer) -> str | None:
        return self.sealing_problem if self.sealer is None else peer.link_problem

    # -- listing ------------------------------------------------------------------------------------

    def describe(self, owner: str | None, base: str) -> list[dict[str, Any]]:
        """The links of ``owner`` (everybody's for None: an admin's listing), one entry per peer
        that can be linked (for a user) or per link (for everybody)."""
        now = self.clock()
        if owner is None:
            return [self._entry(self.peer_or_none(link.peer), link.peer, link, base, now, owner=link.owner)
                    for link in self.book.of(None)]
        held = {link.peer: link for link in self.book.of(owner)}
        return [self._entry(p, p.name, held.get(p.name), base, now) for p in self.peers]

    def peer_or_none(self, name: str) -> Peer | None:
        return next((p for p in self.peers if p.name == name), None)

    def _entry(self, peer: Peer | None, name: str, link: Link | None, base: str, now: datetime,
               owner: str | None = None) -> dict[str, Any]:
        state = link.state(now) if link is not None else UNLINKED
        if link is not None and state == LINKED and self.sealer is not None \
                and self.sealer.open(link.token) is None:
            state, link = EXPIRED, replace(link, broken=KEY_CHANGED)
        entry: dict[str, Any] = {
            "hub": name,
            "url": peer.url if peer is not None else None,
            "relay": f"{base}peers/{name}/",
            "authorize": f"{base}links/{name}/authorize",
            "state": state,
            "user": link.remote_user if link is not None else None,
            "linked_at": format_time(link.created) if link is not None else None,
            "expires_at": format_time(link.expires) if link is not None and link.expires else None,
        }
        if owner is not None:
            entry["owner"] = owner
        problem = self._problem(peer) if peer is not None else "it is no longer a peer of this hub"
        if state == LINKED:
            entry["message"] = f"Linked as {link.remote_user} on {name}." if link else ""
        elif state == EXPIRED:
            why = link.broken if link is not None and link.broken else "the link expired"
            entry["message"] = f"{name}: {why}; link again to act there as yourself."
        else:
            entry["message"] = f"Not linked: link your account on {name} to act there as yourself."
        if problem:
            entry["message"] += f" Linking is unavailable now: {problem}."
        return entry

    # -- linking ------------------------------------------------------------------------------------

    def start(self, owner: str, name: str, base: str) -> tuple[str, str]:
        """Begin linking ``owner``'s account on peer ``name``: the peer's authorize URL to send the
        browser to, and the nonce to set as the browser's cookie (the flow is bound to it)."""
        peer = self.peer(name)
        problem = self._problem(peer)
        if problem:
            raise LinkFlowError(503, f"{name} cannot be linked now: {problem}; tell this hub's admin.")
        assert peer.spec.link is not None
        now = self.clock()
        self._expire(now)
        mine = [s for s, p in self._pending.items() if p.owner == owner]
        for state in mine[: max(0, len(mine) - MAX_PENDING_PER_USER + 1)]:  # the oldest go first
            del self._pending[state]
        if len(self._pending) >= MAX_PENDING:
            raise LinkFlowError(
                503, "Too many links are being made at once on this hub; try again in a minute."
            )
        state, nonce, verifier = oauth.new_secret(), oauth.new_secret(), oauth.new_secret(48)
        redirect = peer.spec.link.redirect_uri or f"{base}links/callback"
        self._pending[state] = Pending(owner=owner, peer=name, verifier=verifier, redirect_uri=redirect,
                                       binding=oauth.digest(nonce), started=now)
        url = oauth.authorize_url(oauth.hub_root(peer.url), peer.spec.link.client_id, redirect, state,
                                  verifier)
        return url, nonce

    def _expire(self, now: datetime) -> None:
        for state in [s for s, p in self._pending.items() if now - p.started > FLOW_TIMEOUT]:
            del self._pending[state]

    async def finish(self, owner: str, state: str, code: str | None, nonce: str | None,
                     error: str | None) -> Link:
        """The peer sent the browser back with ``code`` (or ``error``) and ``state``. The state must
        be one this broker made, unused, for this user, in this browser (``nonce``, its cookie)."""
        pending = self._pending.get(state)
        if pending is None or self.clock() - pending.started > FLOW_TIMEOUT:
            self._pending.pop(state, None)
            raise LinkFlowError(400, "This link attempt is unknown or too old (each may be used once, "
                                f"within {int(FLOW_TIMEOUT.total_seconds() // 60)} minutes): start again.")
        if pending.owner != owner or not nonce or not hmac.compare_digest(pending.binding,
                                                                           oauth.digest(nonce)):
            raise LinkFlowError(403, "This link attempt was started by another user or in another "
                                "browser: start linking again from your own panel.")
        del self._pending[state]  # used once, whatever happens next
        peer = self.peer(pending.peer)
        if error:
            raise LinkFlowError(400, f"{peer.name} did not link your account: {error[:200]}.")
        if not code:
            raise LinkFlowError(400, f"{peer.name} sent no code back: start linking again.")
        assert peer.spec.link is not None and peer.link_secret is not None and self.sealer is not None
        granted = await oauth.exchange(oauth.hub_root(peer.url), peer.spec.link.client_id,
                                       peer.link_secret, code, pending, peer=peer.name,
                                       timeout=self.timeout, now=self.clock())
        link = Link(owner=owner, peer=peer.name, remote_user=granted.user,
                    token=self.sealer.seal(granted.token), token_id=granted.token_id,
                    scopes=granted.scopes, created=self.clock(), expires=granted.expires)
        previous = self.book.get(owner, peer.name)
        self.book.put(link)
        if previous is not None:  # linked again: the old token goes (best effort)
            await self._revoke(peer, previous)
        return link

    # -- using and removing -------------------------------------------------------------------------

    def token(self, owner: str, name: str) -> tuple[str, Link] | None:
        """The token of ``owner``'s usable link to peer ``name`` (None: no link, or it expired)."""
        if self.sealer is None or self.peer_or_none(name) is None:
            return None
        link = self.book.get(owner, name)
        if link is None or link.state(self.clock()) != LINKED:
            return None
        token = self.sealer.open(link.token)
        if token is None:
            self.book.mark_broken(link, KEY_CHANGED)
            return None
        return token, link

    def link_of(self, owner: str, name: str) -> Link | None:
        return self.book.get(owner, name) if self.peer_or_none(name) is not None else None

    def refused(self, link: Link, status: int) -> None:
        """The peer answered 401/403 to the link's token: it expired or was revoked there."""
        self.book.mark_broken(
            link, f"{link.peer} no longer accepts the link (HTTP {status}: revoked or expired)"
        )

    async def unlink(self, owner: str, name: str) -> dict[str, Any]:
        """Revoke ``owner``'s token on peer ``name`` and forget it (forgotten even when the peer
        cannot be reached: the answer then says how to revoke it there)."""
        peer = self.peer(name)
        link = self.book.forget(owner, name)
        if link is None:
            return {"hub": name, "state": UNLINKED, "revoked": False,
                    "message": f"There was no link to {name}."}
        problem = await self._revoke(peer, link)
        if problem is None:
            return {"hub": name, "state": UNLINKED, "revoked": True,
                    "message": f"Unlinked: the token of {link.remote_user} on {name} is revoked there."}
        return {"hub": name, "state": UNLINKED, "revoked": False,
                "message": f"Unlinked here, but {name} could not revoke the token ({problem}): revoke "
                           f"it on {oauth.hub_root(peer.url)}hub/token as {link.remote_user}."}

    async def _revoke(self, peer: Peer, link: Link) -> str | None:
        token = self.sealer.open(link.token) if self.sealer is not None else None
        if token is None:
            return "this hub cannot decrypt it any more"
        try:
            await oauth.revoke(peer.url, token, peer=peer.name, timeout=self.timeout)
        except LinkFlowError as e:
            return str(e)
        return None


def linker_for(peers: Sequence[Peer], store: Store, clock: Callable[[], datetime],
               environ: Mapping[str, str], *, timeout: float, log: logging.Logger) -> Linker | None:
    """The broker's linker when some peer has a ``link``; None otherwise. Without an encryption key
    it still lists the links, and says why linking is unavailable (the log says it at start)."""
    if not any(p.spec.link is not None for p in peers):
        return None
    sealer, problem = None, None
    try:
        sealer = Sealer(environ)
    except SealingUnavailable as e:
        problem = str(e)
        log.warning("Linked accounts are unavailable: %s", problem)
    for peer in peers:
        if peer.link_problem:
            log.warning("Peer %s cannot be linked: %s", peer.name, peer.link_problem)
    return Linker(peers, LinkBook(store, clock), sealer, clock=clock, timeout=timeout,
                  sealing_problem=problem)
