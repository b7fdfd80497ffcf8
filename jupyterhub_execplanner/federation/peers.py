"""Federation's I/O: ask the peers, relay reads and changes of the sessions they offered.

:class:`Federation` sits beside the session manager. For ``POST requests`` it plans locally through
the manager, asks the peers at the same time (:func:`~jupyterhub_execplanner.client.ask_many`, each
no longer than ``peer_timeout``), merges (:mod:`.merge`) and records the peers' offers, so that
``GET/POST sessions/{uuid}`` here works for them too: those calls go to the peer that made the offer,
with that peer's credential, and the answer is the peer's own document. The caller's identity here
decides who may see a relayed offer (its owner, or an admin); the peer sees this broker's credential
(or, with ``forward_token``, the caller's own).
"""

from __future__ import annotations

import asyncio
import logging
import os
import uuid as uuidlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timezone
from types import MappingProxyType
from typing import Any, TypeVar

from ..client import BrokerClient, BrokerError, HubAnswer, ask_many, broker_url, describe_error
from ..cliformat import parse_instant
from ..model import messages as msg
from ..model.messages import Message
from ..model.offer import OfferSetRecord, SessionRecord
from ..model.parse import ParseResult
from ..model.phases import Phase
from ..model.render import render_direct_failure, render_offerset, render_session
from ..sessions.manager import Identity, NotFound, SessionManager
from ..sessions.store import Store
from .merge import (
    NOT_SESSIONS,
    SIBLING_NOT_REJECTED,
    TIMEOUT_HEADER,
    VIA_HEADER,
    RelayedSession,
    Route,
    budget,
    decide_route,
    in_order,
    merge,
    parse_timeout,
    parse_via,
    relayed_from,
    stale_note,
    with_messages,
    worth_refreshing,
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


class Federation:
    def __init__(
        self,
        manager: SessionManager,
        store: Store,
        peers: Sequence[PeerSpec],
        *,
        broker_id: str | None = None,
        peer_timeout: float = 5.0,
        max_hops: int = 2,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.manager, self.store = manager, store
        self.peers = [Peer(p, os.environ if environ is None else environ) for p in peers]
        self.broker_id = broker_id or store.broker_id(uuidlib.uuid4)
        self.peer_timeout, self.max_hops = peer_timeout, max_hops
        for peer in self.peers:
            if peer.problem:
                log.warning("Peer %s cannot be asked: %s", peer.name, peer.problem)
        self._has_relayed = store.has_relayed()

    @property
    def active(self) -> bool:
        """Whether this broker aggregates (has peers to ask)."""
        return bool(self.peers)

    def peer(self, name: str) -> Peer | None:
        return next((p for p in self.peers if p.name == name), None)

    # -- clients ------------------------------------------------------------------------------

    def client(
        self, peer: Peer, auth: str | None, headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> BrokerClient:
        """A client for ``peer`` with its credential; FederationError(502) when it has none."""
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
        wait = (timeout or self.peer_timeout) + 1.0
        return BrokerClient(peer.url, token, timeout=wait, name=peer.name, headers=extra)

    async def _call(self, client: BrokerClient, call: Callable[[BrokerClient], Awaitable[T]],
                    timeout: float | None = None) -> T:
        try:
            return await asyncio.wait_for(call(client), timeout or self.peer_timeout)
        finally:
            await client.aclose()

    # -- requests ------------------------------------------------------------------------------

    def known(self, uuid: str) -> bool:
        """Whether this broker already holds an offer or session with this uuid (ours or relayed)."""
        return self.store.relayed_session(uuid) is not None or self.manager.record(uuid) is not None

    def route(self, headers: Mapping[str, str]) -> Route:
        return decide_route(
            self.broker_id,
            parse_via(headers.get(VIA_HEADER)),
            has_peers=self.active,
            max_hops=self.max_hops,
            peer_timeout=self.peer_timeout,
            caller_timeout=parse_timeout(headers.get(TIMEOUT_HEADER)),
        )

    async def ask(self, doc: Any, route: Route, auth: str | None) -> list[HubAnswer]:
        """Every peer's answer to ``doc`` (in the order they are declared), within ``route.timeout``."""
        headers = {VIA_HEADER: route.via, TIMEOUT_HEADER: f"{route.timeout:.3f}"}
        clients: list[BrokerClient] = []
        answers: list[HubAnswer | None] = []
        for peer in self.peers:
            try:
                clients.append(self.client(peer, auth, headers, route.timeout))
                answers.append(None)
            except FederationError as e:
                answers.append(HubAnswer(peer.name, False, None, str(e).rstrip("."), 0.0))
        try:
            asked = iter(await ask_many(clients, doc, timeout=route.timeout))
        finally:
            await asyncio.gather(*(c.aclose() for c in clients))
        return [a if a is not None else next(asked) for a in answers]

    async def request(
        self, who: Identity, body: Any, parsed: ParseResult, headers: Mapping[str, str], base: str,
    ) -> tuple[OfferSetRecord, list[SessionRecord], dict[str, Any]]:
        """``POST requests``: our offers and the peers', merged, recorded, rendered. The route comes
        first: a loop visit is a NO without measuring anything; otherwise the size of the remote
        data (:meth:`SessionManager.measure`) is measured within the caller's budget, while the
        peers are asked."""
        route = self.route(headers)
        if route.message is not None:  # a loop (NO), or a note on why the peers were not asked
            parsed = ParseResult(parsed.request, (*parsed.messages, route.message))
        forward = route.forward and isinstance(body, dict)
        probes: Mapping[str, Any] = _NO_PROBES
        answers: list[HubAnswer] = []
        if not route.loop:
            caller = parse_timeout(headers.get(TIMEOUT_HEADER))
            measuring = self.manager.measure(parsed, budget(self.manager.policy.data.probe_timeout, caller))
            if forward:
                probes, answers = await asyncio.gather(
                    measuring, self.ask(body, route, headers.get("Authorization"))
                )
            else:
                probes = await measuring
        offerset, sessions = self.manager.request(who, parsed, probes)  # type: ignore[arg-type]
        doc = render_offerset(offerset, sessions, base)
        if not forward:
            return offerset, sessions, doc
        merged = merge(doc["offers"], answers, known=self.known)
        now = self.manager.clock()
        offerset.result = merged.result
        offerset.messages = [*offerset.messages, *merged.messages]
        offerset.sessions = [m.uuid for m in merged.offers]
        rows = [relayed_from(m, offerset.uuid, who.owner, now) for m in merged.offers if m.peer]
        self.store.add_relayed(offerset, rows)
        self._has_relayed = self._has_relayed or bool(rows)
        doc = render_offerset(offerset, sessions, base)
        doc["offers"] = [m.doc for m in merged.offers]
        return offerset, sessions, doc

    async def direct(
        self, who: Identity, body: Any, parsed: ParseResult, headers: Mapping[str, str], base: str,
    ) -> tuple[int, dict[str, Any], OfferSetRecord]:
        """``POST direct``: the merged offers (peers asked with ``POST requests``), then accept the
        first, wherever it lives. (status, session document, offerset)."""
        offerset, sessions, _ = await self.request(who, body, parsed, headers, base)
        if not offerset.sessions:
            return 400, render_direct_failure(offerset.messages, base), offerset
        first = offerset.sessions[0]
        auth = headers.get("Authorization")
        if any(s.uuid == first for s in sessions):
            record = self.manager.update(who, first, Phase.ACCEPTED)
            await self.after_local_accept(record, auth)
            return 200, render_session(self.manager.session(who, first), base), offerset
        return 200, await self.update(who, first, Phase.ACCEPTED, auth), offerset

    # -- reads and changes of relayed sessions ---------------------------------------------------------

    def relayed(self, who: Identity, uuid: str) -> RelayedSession:
        row = self.store.relayed_session(uuid) if self._has_relayed else None
        if row is None or not (who.admin or who.owner == row.owner):
            raise NotFound(f"session {uuid} not found")
        return row

    def _peer_of(self, row: RelayedSession) -> Peer:
        peer = self.peer(row.peer)
        if peer is None:
            raise FederationError(
                502, f"Session {row.uuid} lives on peer {row.peer}, which is no longer one of this "
                f"broker's peers: use it there, at {row.remote_url}.",
            )
        return peer

    def _remember(self, row: RelayedSession, doc: Any) -> None:
        if isinstance(doc, dict) and isinstance(doc.get("phase"), str):
            row.doc, row.phase, row.modified = doc, doc["phase"], self.manager.clock()
            self.store.save_relayed([row])

    async def session(self, who: Identity, uuid: str, auth: str | None) -> dict[str, Any]:
        """``GET sessions/{uuid}`` of a relayed session: the peer's document, fresh; the last known
        one with a message saying so when the peer does not answer."""
        row = self.relayed(who, uuid)
        peer = self._peer_of(row)
        try:
            doc = await self._call(self.client(peer, auth), lambda c: c.session(row.uuid))
        except BrokerError as e:
            if 400 <= e.status < 500:
                raise FederationError(e.status, f"Peer {peer.name}: {e.message}") from e
            return with_messages(row.doc, [stale_note(peer.name, describe_error(e), row.modified)])
        except FederationError as e:
            return with_messages(row.doc, [stale_note(peer.name, str(e), row.modified)])
        except Exception as e:  # timeout, connection: the last known document
            reason = describe_error(e, self.peer_timeout)
            return with_messages(row.doc, [stale_note(peer.name, reason, row.modified)])
        self._remember(row, doc)
        return doc

    async def update(self, who: Identity, uuid: str, target: Phase, auth: str | None) -> dict[str, Any]:
        """``POST sessions/{uuid}`` of a relayed session, done by its peer. Accepting it rejects its
        siblings here and on the other peers (those failures become messages)."""
        row = self.relayed(who, uuid)
        peer = self._peer_of(row)
        try:
            doc = await self._call(self.client(peer, auth), lambda c: c.update(row.uuid, target.value))
        except BrokerError as e:
            status = e.status if 400 <= e.status < 500 else 502
            raise FederationError(status, f"Peer {peer.name}: {e.message}") from e
        except FederationError:
            raise
        except Exception as e:
            reason = describe_error(e, self.peer_timeout)
            raise FederationError(502, f"Peer {peer.name} did not answer: {reason}.") from e
        self._remember(row, doc)
        if target is Phase.ACCEPTED:
            self.manager.sibling_accepted(row.offerset, row.uuid)
            others = [r for r in self.store.relayed_of(row.offerset)
                      if r.uuid != row.uuid and r.peer != row.peer and r.phase == "OFFERED"]
            doc = with_messages(doc, await self._reject(others, row.uuid, auth))
        return doc

    async def after_local_accept(self, record: SessionRecord, auth: str | None) -> None:
        """One of our offers was accepted: reject the peers' offers of the same merged set (best
        effort; what fails becomes a message of the accepted session)."""
        if not self._has_relayed:
            return
        others = [r for r in self.store.relayed_of(record.offerset) if r.phase == "OFFERED"]
        for note in await self._reject(others, record.uuid, auth):
            self.manager.report(record.uuid, note)

    async def _reject(self, rows: Sequence[RelayedSession], accepted: str, auth: str | None
                      ) -> list[Message]:
        async def one(row: RelayedSession) -> Message | None:
            try:
                peer = self._peer_of(row)
                doc = await self._call(self.client(peer, auth), lambda c: c.reject(row.uuid))
            except Exception as e:  # best effort: the offer expires by itself on the peer
                reason = str(e) if isinstance(e, FederationError) else describe_error(e, self.peer_timeout)
                return msg.warn(
                    SIBLING_NOT_REJECTED,
                    "Offer ${uuid} of peer ${peer} (same offerset as ${accepted}) was not rejected: "
                    "${reason}. It expires by itself at ${expires}.",
                    uuid=row.uuid, peer=row.peer, accepted=accepted, reason=reason.rstrip("."),
                    expires=str(row.doc.get("expires") or "its expiry"),
                )  # fmt: skip
            self._remember(row, doc)
            return None

        notes = await asyncio.gather(*(one(r) for r in rows))
        return [n for n in notes if n is not None]

    async def sessions(
        self, who: Identity, *, owner: str | None, include_offers: bool, auth: str | None
    ) -> list[dict[str, Any]]:
        """The relayed sessions for ``GET sessions``. Those still in flight are refreshed from their
        peers (at most :data:`REFRESH_LIMIT`, within :data:`REFRESH_TIMEOUT`); the others, and any
        a peer does not answer for in time, are shown as last known."""
        if not self._has_relayed:
            return []
        if not who.admin:
            owner = who.owner
        rows = self.store.list_relayed(owner=owner, exclude=() if include_offers else NOT_SESSIONS)
        now = self.manager.clock()
        stale = [r for r in rows if worth_refreshing(r, now)][:REFRESH_LIMIT]
        wait = min(self.peer_timeout, REFRESH_TIMEOUT)

        async def refresh(row: RelayedSession) -> None:
            peer = self.peer(row.peer)
            if peer is None:
                return
            try:
                doc = await self._call(self.client(peer, auth, timeout=wait), lambda c: c.session(row.uuid),
                                       wait)
            except Exception as e:  # keep the last known document
                log.debug("Could not refresh relayed session %s from %s: %s", row.uuid, row.peer, e)
                return
            self._remember(row, doc)

        await asyncio.gather(*(refresh(r) for r in stale))
        return [r.doc for r in rows if include_offers or r.phase not in NOT_SESSIONS]

    def offerset_offers(self, offerset: OfferSetRecord, local: Sequence[dict[str, Any]]
                        ) -> list[dict[str, Any]]:
        """``GET offersets/{uuid}``: our offers and the peers' (as last known), in the merged order."""
        rows = self.store.relayed_of(offerset.uuid) if self._has_relayed else []
        return in_order(offerset.sessions, [*local, *(r.doc for r in rows)]) if rows else list(local)


def newest_first(docs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Session documents (ours and relayed), newest ``meta.created`` first."""
    def created(doc: dict[str, Any]) -> datetime:
        return parse_instant((doc.get("meta") or {}).get("created")) or _LONG_AGO

    return sorted(docs, key=created, reverse=True)
