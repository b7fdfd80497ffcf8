"""Federation's I/O: ask the peers, and relay reads and changes of the sessions they offered.

:class:`Federation` holds the declared peers and their credentials and does the talking: it asks
every peer at once (:func:`~jupyterhub_execplanner.client.ask_many`, each no longer than
``peer_timeout``), and reads, changes and rejects a relayed session at the peer that made it, with
that peer's credential (or, with ``forward_token``, the caller's own). It holds no state and writes
none: the :class:`~jupyterhub_execplanner.broker.Broker` decides what to ask, merges (:mod:`.merge`)
and has the session manager record what the peers answered.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timezone
from types import MappingProxyType
from typing import Any, TypeVar

from ..client import BrokerClient, BrokerError, HubAnswer, ask_many, broker_url, describe_error
from ..cliformat import parse_instant
from ..model import messages as msg
from ..model.messages import Message
from ..model.phases import Phase
from .merge import (
    SIBLING_NOT_REJECTED,
    TIMEOUT_HEADER,
    VIA_HEADER,
    RelayedSession,
    Route,
    decide_route,
    parse_timeout,
    parse_via,
    stale_note,
    with_messages,
)
from .peerconfig import PeerSpec

log = logging.getLogger(__name__)

T = TypeVar("T")
REFRESH_LIMIT = 50  # relayed sessions refreshed from their peers for one GET sessions
REFRESH_TIMEOUT = 2.0  # seconds, at most, for that refresh
_LONG_AGO = datetime(1970, 1, 1, tzinfo=timezone.utc)
_NO_PROBES: Mapping[str, Any] = MappingProxyType({})


class FederationError(Exception):
    """A relayed call that cannot be answered as asked: ``status`` and a sentence for the client."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Peer:
    """A declared peer with its credential resolved (``problem`` says why it cannot be asked)."""

    def __init__(self, spec: PeerSpec, environ: Mapping[str, str]) -> None:
        self.spec = spec
        self.name = spec.name
        self.problem: str | None = None
        self.token = spec.token
        try:
            self.url = broker_url(spec.url)
        except ValueError as e:
            self.url, self.problem = spec.url, str(e)
        if spec.token_env:
            self.token = environ.get(spec.token_env) or None
            if self.token is None:
                self.problem = (
                    f"its token variable ${spec.token_env} is not set in the broker's environment"
                )
        # linked accounts: the OAuth client secret this broker has on the peer's hub
        self.link_secret: str | None = None
        self.link_problem: str | None = None
        if spec.link is not None:
            self.link_secret = spec.link.secret or (environ.get(spec.link.secret_env or "") or None)
            if self.link_secret is None:
                self.link_problem = (
                    f"its link secret variable ${spec.link.secret_env} is not set in the broker's "
                    "environment"
                )


class Federation:
    def __init__(
        self,
        peers: Sequence[PeerSpec],
        *,
        broker_id: str,
        peer_timeout: float = 5.0,
        max_hops: int = 2,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.peers = [Peer(p, os.environ if environ is None else environ) for p in peers]
        self.broker_id = broker_id
        self.peer_timeout, self.max_hops = peer_timeout, max_hops
        for peer in self.peers:
            if peer.problem:
                log.warning("Peer %s cannot be asked: %s", peer.name, peer.problem)

    @property
    def active(self) -> bool:
        """Whether this broker aggregates (has peers to ask)."""
        return bool(self.peers)

    def peer(self, name: str) -> Peer | None:
        return next((p for p in self.peers if p.name == name), None)

    # -- clients ------------------------------------------------------------------------------

    def client(
        self, peer: Peer, auth: str | None, headers: Mapping[str, str] | None = None,
        timeout: float | None = None, linked: str | None = None,
    ) -> BrokerClient:
        """A client for ``peer`` with its credential (or, given ``linked``, with that token of the
        caller's linked account there); FederationError(502) when it has none."""
        wait = (timeout or self.peer_timeout) + 1.0
        if linked is not None:
            return BrokerClient(peer.url, linked, timeout=wait, name=peer.name, headers=dict(headers or {}))
        if not peer.spec.has_credential:
            raise FederationError(
                409, f"Peer {peer.name} is reached only through linked accounts, and this one is not "
                "linked (any more): link your account on it again.",
            )
        if peer.problem:
            raise FederationError(502, f"Peer {peer.name} cannot be asked: {peer.problem}.")
        extra = dict(headers or {})
        token = peer.token
        if peer.spec.forward_token:
            if not auth:
                raise FederationError(
                    502, f"Peer {peer.name} takes the caller's own token, and this call has no "
                    "'Authorization' header (a browser cookie cannot be forwarded): send a token.",
                )
            extra["Authorization"], token = auth, None
        return BrokerClient(peer.url, token, timeout=wait, name=peer.name, headers=extra)

    async def _call(self, client: BrokerClient, call: Callable[[BrokerClient], Awaitable[T]],
                    timeout: float | None = None) -> T:
        try:
            return await asyncio.wait_for(call(client), timeout or self.peer_timeout)
        finally:
            await client.aclose()

    # -- asking -------------------------------------------------------------------------------------

    def route(self, via: str | None, caller_timeout: str | None) -> Route:
        """What to do with a request that came with these ``X-Execplanner-Via`` and ``-Timeout``
        headers: ask the peers within a time, or not (a loop, too many hops, no time left)."""
        return decide_route(
            self.broker_id,
            parse_via(via),
            has_peers=self.active,
            max_hops=self.max_hops,
            peer_timeout=self.peer_timeout,
            caller_timeout=parse_timeout(caller_timeout),
        )

    async def ask(self, doc: Any, route: Route, auth: str | None,
                  linked: Mapping[str, str] | None = None) -> list[HubAnswer]:
        """Every peer's answer to ``doc`` (in the order they are declared), within ``route.timeout``;
        a peer in ``linked`` (peer name: token) is asked as the caller's linked account there, a
        peer reached only by linked accounts and not in it is not asked."""
        headers = {VIA_HEADER: route.via, TIMEOUT_HEADER: f"{route.timeout:.3f}"}
        linked = linked or {}
        clients: list[BrokerClient] = []
        answers: list[HubAnswer | None] = []
        for peer in self.peers:
            if peer.name not in linked and not peer.spec.has_credential:
                answers.append(HubAnswer(peer.name, False, None, "not asked: it is reached only "
                                         "through linked accounts, and yours there is not linked", 0.0))
                continue
            try:
                clients.append(self.client(peer, auth, headers, route.timeout, linked.get(peer.name)))
                answers.append(None)
            except FederationError as e:
                answers.append(HubAnswer(peer.name, False, None, str(e).rstrip("."), 0.0))
        try:
            asked = iter(await ask_many(clients, doc, timeout=route.timeout))
        finally:
            await asyncio.gather(*(c.aclose() for c in clients))
        return [a if a is not None else next(asked) for a in answers]

    # -- relayed sessions: reads and changes, done by the peer that made them --------------------------

    def _peer_of(self, row: RelayedSession) -> Peer:
        peer = self.peer(row.peer)
        if peer is None:
            raise FederationError(
                502, f"Session {row.uuid} lives on peer {row.peer}, which is no longer one of this "
                f"broker's peers: use it there, at {row.remote_url}.",
            )
        return peer

    async def read(self, row: RelayedSession, auth: str | None, linked: str | None = None
                   ) -> tuple[dict[str, Any], bool]:
        """The peer's document of a relayed session and True; or, when the peer does not answer,
        the last known one with a message saying so, and False. FederationError for a peer's 4xx.
        ``linked``: the token of the owner's linked account the session was made with."""
        peer = self._peer_of(row)
        try:
            doc = await self._call(self.client(peer, auth, linked=linked), lambda c: c.session(row.uuid))
        except BrokerError as e:
            if 400 <= e.status < 500:
                raise FederationError(e.status, f"Peer {peer.name}: {e.message}") from e
            return with_messages(row.doc, [stale_note(peer.name, describe_error(e), row.modified)]), False
        except FederationError as e:
            return with_messages(row.doc, [stale_note(peer.name, str(e), row.modified)]), False
        except Exception as e:  # timeout, connection: the last known document
            reason = describe_error(e, self.peer_timeout)
            return with_messages(row.doc, [stale_note(peer.name, reason, row.modified)]), False
        return doc, True

    async def change(self, row: RelayedSession, target: Phase, auth: str | None,
                     linked: str | None = None) -> dict[str, Any]:
        """Ask the peer to move a relayed session to ``target``; its answer. FederationError (the
        peer's 4xx, or 502) when it cannot be done."""
        peer = self._peer_of(row)
        try:
            client = self.client(peer, auth, linked=linked)
            return await self._call(client, lambda c: c.update(row.uuid, target.value))
        except BrokerError as e:
            status = e.status if 400 <= e.status < 500 else 502
            raise FederationError(status, f"Peer {peer.name}: {e.message}") from e
        except FederationError:
            raise
        except Exception as e:
            reason = describe_error(e, self.peer_timeout)
            raise FederationError(502, f"Peer {peer.name} did not answer: {reason}.") from e

    async def reject(self, rows: Sequence[RelayedSession], accepted: str, auth: str | None,
                     linked: Mapping[str, str] | None = None
                     ) -> tuple[list[tuple[RelayedSession, dict[str, Any]]], list[Message]]:
        """Reject the peers' offers ``rows`` because ``accepted``, of the same merged set, was
        accepted (best effort): the peers' answers, and a message for each that failed. ``linked``:
        the linked accounts' tokens by row uuid, for the rows made with one."""
        linked = linked or {}

        async def one(row: RelayedSession) -> dict[str, Any] | Message:
            try:
                peer = self._peer_of(row)
                client = self.client(peer, auth, linked=linked.get(row.uuid))
                return await self._call(client, lambda c: c.reject(row.uuid))
            except Exception as e:  # best effort: the offer expires by itself on the peer
                reason = str(e) if isinstance(e, FederationError) else describe_error(e, self.peer_timeout)
                return msg.warn(
                    SIBLING_NOT_REJECTED,
                    "Offer ${uuid} of peer ${peer} (same offerset as ${accepted}) was not rejected: "
                    "${reason}. It expires by itself at ${expires}.",
                    uuid=row.uuid, peer=row.peer, accepted=accepted, reason=reason.rstrip("."),
                    expires=str(row.doc.get("expires") or "its expiry"),
                )  # fmt: skip

        results = await asyncio.gather(*(one(r) for r in rows))
        done = [(row, doc) for row, doc in zip(rows, results, strict=True) if isinstance(doc, dict)]
        return done, [r for r in results if isinstance(r, Message)]

    async def refresh(self, rows: Sequence[RelayedSession], auth: str | None,
                      linked: Mapping[str, str] | None = None
                      ) -> list[tuple[RelayedSession, dict[str, Any]]]:
        """The newest documents of relayed sessions still in flight (at most :data:`REFRESH_LIMIT`,
        within :data:`REFRESH_TIMEOUT`); those a peer does not answer for in time are left out."""
        wait = min(self.peer_timeout, REFRESH_TIMEOUT)
        linked = linked or {}

        async def one(row: RelayedSession) -> dict[str, Any] | None:
            peer = self.peer(row.peer)
            if peer is None:
                return None
            try:
                client = self.client(peer, auth, timeout=wait, linked=linked.get(row.uuid))
                return await self._call(client, lambda c: c.session(row.uuid), wait)
            except Exception as e:  # keep the last known document
                log.debug("Could not refresh relayed session %s from %s: %s", row.uuid, row.peer, e)
                return None

        asked = list(rows)[:REFRESH_LIMIT]
        docs = await asyncio.gather(*(one(r) for r in asked))
        return [(row, doc) for row, doc in zip(asked, docs, strict=True) if doc is not None]


def newest_first(docs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Session documents (ours and relayed), newest ``meta.created`` first."""
    def created(doc: dict[str, Any]) -> datetime:
        return parse_instant((doc.get("meta") or {}).get("created")) or _LONG_AGO

    return sorted(docs, key=created, reverse=True)
