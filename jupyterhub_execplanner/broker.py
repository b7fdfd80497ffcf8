"""The broker as an application service: what each endpoint does, whatever carried the call.

The HTTP handlers parse the request (token, body, query) and call one :class:`Broker` method with the
caller's :class:`~jupyterhub_execplanner.sessions.manager.Identity`, the document and a :class:`Call`
(the base URL answers are built on, the credential and the federation headers); they write the
:class:`Answer` it returns. The broker decides whether the peers are asked too (federation) or this
hub answers alone, measures the data a request names, has the session manager plan and record (the
manager and its store are the only ones that write state: offers and sessions, and the peers'
offers it relays), and renders the answer in the standard's v1.0 shape or the 2023 draft's.

A request from a client reads: body -> :func:`~.model.parse.parse_request` (or the 2023 reader) ->
route (:meth:`Federation.route`: ask the peers or not) -> measure the remote data while the peers are
asked -> :meth:`SessionManager.request` (plan against the calendar, store, reserve) -> merge with the
peers' offers and record them -> render.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from .federation.merge import (
    NOT_SESSIONS,
    PEER_IDENTITY,
    budget,
    in_order,
    merge,
    parse_timeout,
    relayed_from,
    with_messages,
    worth_refreshing,
)
from .federation.peers import Federation, FederationError, newest_first
from .links.book import Link
from .links.linker import Linker
from .model import draft2023, render
from .model import messages as msg
from .model.offer import OfferSetRecord, RelayedSession, SessionRecord
from .model.parse import ParseResult, parse_request
from .model.phases import Phase
from .model.render import request_to_doc
from .platform.datalink import DataLinkResolver
from .platform.datasets import EMPTY, Probe, remote_url, to_probe
from .platform.probe import probe_sizes
from .platform.resolution import resolved_request
from .platform.throughput import Throughput
from .sessions.manager import Identity, NotFound, SessionManager

V1 = "v1.0"  # the Execution Broker v1.0 documents
DRAFT_2023 = "2023"  # the 2023 ExecutionPlanner draft's ``request:``/``response:``/``offer:``


@dataclass(frozen=True)
class Call:
    """What a call brings besides its document: ``base`` (the broker's URL, for every ``meta.url``),
    the caller's ``Authorization`` header (forwarded to peers that take it), and the federation
    headers ``X-Execplanner-Via`` and ``X-Execplanner-Timeout`` as received."""

    base: str
    auth: str | None = None
    via: str | None = None
    timeout: str | None = None
    peers: str | None = None  # X-Execplanner-Peers: "none" asks this hub alone (the panel does)


@dataclass
class Answer:
    """The document to answer, its status, its ``Content-Location`` when it has one, and the
    offerset it answers (for the metrics)."""

    doc: Any
    status: int = 200
    location: str | None = None
    offerset: OfferSetRecord | None = None


class Broker:
    def __init__(self, manager: SessionManager, federation: Federation | None = None,
                 linker: Linker | None = None) -> None:
        self.manager = manager
        self.federation = federation if federation is not None and federation.active else None
        self.linker = linker if linker is not None and linker.active else None
        self.datalink: DataLinkResolver | None = None  # reads DataLink documents (platform/datalink)
        self.access: Throughput | None = None  # measured downloads per source (platform/throughput)

    # -- requests -----------------------------------------------------------------------------------

    async def request(self, who: Identity, doc: Any, call: Call, *, style: str = V1) -> Answer:
        """``POST requests`` (``style`` v1.0) or the 2023 ``POST request``: offers from this hub and
        its peers, recorded and rendered."""
        self.manager.check_rate(who)
        offerset, sessions, relayed = await self._offers(who, doc, call, style)
        if style == DRAFT_2023:
            body = draft2023.render_response_2023(offerset, sessions, {r.uuid: r.doc for r in relayed})
            return Answer(body, location=f"{call.base}offersets/{offerset.uuid}", offerset=offerset)
        body = self._offerset_doc(offerset, sessions, relayed, call)
        return Answer(body, location=body["meta"]["url"], offerset=offerset)

    async def direct(self, who: Identity, doc: Any, call: Call) -> Answer:
        """``POST direct``: the first offer (ours or a peer's), accepted; the standard's 400 FAILED
        session when there is none."""
        self.manager.check_rate(who)
        self.manager.check_session_limit(who)
        offerset, sessions, _ = await self._offers(who, doc, call, V1)
        if not offerset.sessions:
            return Answer(render.render_direct_failure(offerset.messages, call.base), 400, offerset=offerset)
        answer = await self.update(who, offerset.sessions[0], Phase.ACCEPTED, call)
        answer.offerset = offerset
        return answer

    def direct_failure(self, problem: str, call: Call) -> Answer:
        """``POST direct`` with a body that is no request at all: the standard's 400 FAILED session."""
        message = msg.error(msg.SYNTAX, "${problem}", path="$", problem=problem)
        return Answer(render.render_direct_failure([message], call.base), 400)

    async def _offers(self, who: Identity, doc: Any, call: Call, style: str
                      ) -> tuple[OfferSetRecord, list[SessionRecord], list[RelayedSession]]:
        parse = draft2023.parse_request_2023 if style == DRAFT_2023 else parse_request
        parsed = parse(doc, now=self.manager.clock())
        fed = self.federation if (call.peers or "").strip().lower() != "none" else None
        route = fed.route(call.via, call.timeout) if fed is not None else None
        if route is not None and route.message is not None:  # a loop (NO), or why peers were not asked
            parsed = ParseResult(parsed.request, (*parsed.messages, route.message))
        # the peers are asked with what we were sent (v1.0), or with what we read (2023)
        read = parsed.request if parsed.ok else None
        forwarded = doc if style == V1 else (request_to_doc(read) if read is not None else None)
        forward = route is not None and route.forward and isinstance(forwarded, dict)
        if route is not None and route.loop:
            probes: Mapping[str, Probe] = EMPTY
            answers: list[Any] = []
        elif forward:
            assert fed is not None and route is not None
            links = self._links_of(who)
            probes, answers = await asyncio.gather(
                self.measure(parsed, call),
                fed.ask(forwarded, route, call.auth, {peer: token for peer, (token, _) in links.items()}))
        else:
            probes, answers = await self.measure(parsed, call), []
        offerset, sessions = self.manager.request(who, parsed, probes)
        if not forward:
            return offerset, sessions, []
        local = render.render_offerset(offerset, sessions, call.base)["offers"]
        merged = merge(local, answers, known=self.manager.knows)
        now = self.manager.clock()
        offerset.result = merged.result
        offerset.messages = [*offerset.messages, *merged.messages, *self._identities(links)]
        offerset.sessions = [m.uuid for m in merged.offers]
        rows = [relayed_from(m, offerset.uuid, who.owner, now) for m in merged.offers if m.peer]
        self.manager.relayed.record(offerset, rows, {p: link.remote_user for p, (_, link) in links.items()})
        return offerset, sessions, rows

    def _links_of(self, who: Identity) -> dict[str, tuple[str, Link]]:
        """The caller's usable linked accounts on the peers: peer -> (token, link)."""
        if self.linker is None or self.federation is None:
            return {}
        found = {p.name: self.linker.token(who.owner, p.name) for p in self.linker.peers}
        return {name: pair for name, pair in found.items() if pair is not None}

    def _identities(self, links: Mapping[str, tuple[str, Link]]) -> list[msg.Message]:
        """Which identity each peer was asked with: the caller's linked account or this hub's own."""
        notes = []
        for peer in self.federation.peers if self.federation is not None else []:
            if peer.name in links:
                notes.append(msg.info(PEER_IDENTITY, "Peer ${peer} was asked as ${user}, your linked account "
                                      "there.", peer=peer.name, user=links[peer.name][1].remote_user))
            elif peer.spec.has_credential:
                notes.append(msg.info(PEER_IDENTITY, "Peer ${peer} was asked as ${auth}"
                                      + (" (link your account there to act as yourself)."
                                         if peer.spec.link is not None else "."),
                                      peer=peer.name, auth=_credential_words(peer.spec.auth)))
        return notes

    def _linked_tokens(self, rows: list[RelayedSession]) -> tuple[dict[str, str], set[str]]:
        """For relayed offers made for a linked account: the token to use by uuid, and the uuids
        whose link is gone (they must not be reached with this hub's own credential instead)."""
        made = self.manager.relayed.linked_as(r.uuid for r in rows)
        tokens: dict[str, str] = {}
        gone: set[str] = set()
        for row in rows:
            if row.uuid not in made:
                continue
            pair = self.linker.token(row.owner, row.peer) if self.linker is not None else None
            if pair is None:
                gone.add(row.uuid)
            else:
                tokens[row.uuid] = pair[0]
        return tokens, gone

    def _linked_token(self, row: RelayedSession) -> str | None:
        tokens, gone = self._linked_tokens([row])
        if row.uuid in gone:
            raise FederationError(409, f"Session {row.uuid} was made on {row.peer} for your linked account "
                                  f"there, which is no longer linked (or expired): link again to reach it.")
        return tokens.get(row.uuid)

    async def measure(self, parsed: ParseResult, call: Call) -> Mapping[str, Probe]:
        """The sizes of the remote data a request would download (HTTP HEAD, concurrently, within
        ``data_probe_timeout`` and the caller's budget, when an aggregator gives one), asked before
        planning so that planning stays synchronous and pure. Nothing is asked for a NO."""
        if not parsed.ok or parsed.request is None or not parsed.request.data:
            return EMPTY
        data = self.manager.policy.data
        timeout = min(data.probe_timeout, budget(data.probe_timeout, parse_timeout(call.timeout)))
        probes: dict[str, Probe] = {}
        if self.datalink is not None:  # DataLink documents first: then the datasets are measured
            probes.update(await self.datalink.resolve(parsed.request, data, timeout))
        request = resolved_request(parsed.request, probes)
        heads = await probe_sizes(to_probe(request, data), timeout=timeout, config=data)
        probes.update(heads)
        if self.datalink is not None:  # URLs that answered with a DataLink document
            more = await self.datalink.resolve(request, data, timeout, content_types=heads)
            if more:
                probes.update(more)
                request = resolved_request(parsed.request, probes)
                probes.update(await probe_sizes([u for u in to_probe(request, data) if u not in probes],
                                                timeout=timeout, config=data))
        if self.access is not None:
            urls = [u for d in request.data if (u := remote_url(d, data))]
            for url, access in self.access.for_urls(urls, self.manager.clock()).items():
                probes[url] = replace(probes.get(url, Probe()), access=access)
        return probes

    # -- reads --------------------------------------------------------------------------------------

    async def offerset(self, who: Identity, uuid: str, call: Call) -> Answer:
        """``GET offersets/{uuid}``: ours and, for a merged one, the peers' offers as last known."""
        offerset, sessions = self.manager.offerset(who, uuid)
        relayed = self.manager.relayed.of(offerset.uuid)
        return Answer(self._offerset_doc(offerset, sessions, relayed, call))

    async def session(self, who: Identity, uuid: str, call: Call, *, style: str = V1) -> Answer:
        """``GET sessions/{uuid}`` (or the 2023 ``GET offers/{uuid}``): ours, or a peer's fresh from
        the peer (the last known document, saying so, when it does not answer)."""
        try:
            record = self.manager.session(who, uuid)
        except NotFound:
            row, fed = self._relayed(who, uuid)
            doc, fresh = await fed.read(row, call.auth, self._linked_token(row))
            if fresh:
                self.manager.relayed.remember(row, doc)
            return Answer(draft2023.offer_2023_from_doc(doc) if style == DRAFT_2023 else doc)
        if style == DRAFT_2023:
            return Answer(draft2023.render_offer_2023(record))
        return Answer(render.render_session(record, call.base))

    async def sessions(self, who: Identity, call: Call, *, owner: str | None = None,
                       include_offers: bool = False) -> Answer:
        """``GET sessions``: the caller's sessions (an admin's: everybody's, or ``owner``'s), ours
        and those peers run for them through us (those in flight refreshed from their peers)."""
        docs = [render.render_session(r, call.base)
                for r in self.manager.sessions(who, owner=owner, include_offers=include_offers)]
        if self.federation is not None:
            rows = self.manager.relayed.listed(who.owner if not who.admin else owner, include_offers)
            now = self.manager.clock()
            due = [r for r in rows if worth_refreshing(r, now)]
            tokens, gone = self._linked_tokens(due)
            for row, doc in await self.federation.refresh([r for r in due if r.uuid not in gone],
                                                          call.auth, tokens):
                self.manager.relayed.remember(row, doc)
            relayed = [r.doc for r in rows if include_offers or r.phase not in NOT_SESSIONS]
            docs = newest_first([*docs, *relayed]) if relayed else docs
        return Answer({"sessions": docs})

    # -- changes ------------------------------------------------------------------------------------

    async def update(self, who: Identity, uuid: str, target: Phase, call: Call, *,
                     style: str = V1) -> Answer:
        """``POST sessions/{uuid}`` (or the 2023 ``POST offers/{uuid}``): ACCEPTED, REJECTED or
        CANCELLED, here or at the peer that made the offer. Accepting an offer rejects its siblings
        everywhere: ours here, the peers' at each peer (what fails there becomes a message)."""
        if self.federation is not None and self.manager.record(uuid) is None:
            row, fed = self._relayed(who, uuid)
            doc = await fed.change(row, target, call.auth, self._linked_token(row))
            self.manager.relayed.remember(row, doc)
            if target is Phase.ACCEPTED:
                self.manager.sibling_accepted(row.offerset, row.uuid)
                others = [r for r in self.manager.relayed.of(row.offerset)
                          if r.uuid != row.uuid and r.peer != row.peer and r.phase == "OFFERED"]
                doc = with_messages(doc, await self._reject(others, row.uuid, call))
            if style == DRAFT_2023:
                return Answer(draft2023.offer_2023_from_doc(doc))
            return Answer(doc, location=str((doc.get("meta") or {}).get("url") or "") or None)
        record = self.manager.update(who, uuid, target)
        if self.federation is not None and target is Phase.ACCEPTED:
            others = [r for r in self.manager.relayed.of(record.offerset) if r.phase == "OFFERED"]
            for note in await self._reject(others, record.uuid, call):
                self.manager.report(record.uuid, note)
            record = self.manager.session(who, uuid)
        if style == DRAFT_2023:
            return Answer(draft2023.render_offer_2023(record))
        doc = render.render_session(record, call.base)
        return Answer(doc, location=doc["meta"]["url"])

    async def _reject(self, rows: list[RelayedSession], accepted: str, call: Call) -> list[msg.Message]:
        if not rows or self.federation is None:
            return []
        tokens, gone = self._linked_tokens(rows)
        done, notes = await self.federation.reject([r for r in rows if r.uuid not in gone], accepted,
                                                   call.auth, tokens)
        for row, doc in done:
            self.manager.relayed.remember(row, doc)
        return notes

    # -- helpers ------------------------------------------------------------------------------------

    def _relayed(self, who: Identity, uuid: str) -> tuple[RelayedSession, Federation]:
        """A relayed session the caller may see (its owner, or an admin), with the federation that
        reaches its peer; NotFound otherwise (and when this broker has no peers any more)."""
        fed = self.federation
        row = self.manager.relayed.get(uuid) if fed is not None else None
        if fed is None or row is None or not (who.admin or who.owner == row.owner):
            raise NotFound(f"session {uuid} not found")
        return row, fed

    def _offerset_doc(self, offerset: OfferSetRecord, sessions: list[SessionRecord],
                      relayed: list[RelayedSession], call: Call) -> dict[str, Any]:
        doc = render.render_offerset(offerset, sessions, call.base)
        if relayed:  # a merged offerset: the peers' offers too, in the merged order
            doc["offers"] = in_order(offerset.sessions, [*doc["offers"], *(r.doc for r in relayed)])
        return doc


def _credential_words(auth: str) -> str:
    """``PeerSpec.auth`` as the identity a peer saw (for the message that says which was used)."""
    if auth == "the caller's own token":
        return "you, with your own token"
    return f"this hub's own account ({auth})"
