"""The session manager: the one owner of offersets, sessions and their reservations.

Handlers call the manager and never touch the store or the calendar. The manager plans offers for a
request, reserves them in the calendar, persists them, and changes phases only through
:func:`~jupyterhub_execplanner.model.phases.transition`. It is synchronous on purpose: planning and
reserving happen without a yield to the event loop in between, so two requests answered at the same
time can never both be given the same capacity.

Capacity is held by every session in a phase that holds capacity (an unexpired offer, an accepted or
running session) over ``[preparing.start, releasing.end)``. An offer stops holding it when it is
rejected, expires, or a sibling is accepted.

Two optional hooks come from the capacity provider (the Kubernetes one sets both): ``health()`` is
asked before planning and, when it returns a reason, the request is answered NO with a PLATFORM
message saying it; ``node_fit(pool, need, want)`` gives the free amounts of the one node that best
holds a session, and each profile is capped to it before planning (:func:`fit_to_nodes`), so no
offer is larger than what one node has free. A batch scheduler (Slurm) adds two more: ``start_facts``
(its earliest start of a job, passed to the planner) and ``annotate`` (notes on each offer, such as
"this start is an estimate"); its promises are kept by a phase listener (``listeners``).
"""

from __future__ import annotations

import heapq
import logging
import uuid as uuidlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from ..model import messages as msg
from ..model.lookup import is_uuid
from ..model.messages import Message
from ..model.offer import OfferPlan, OfferSetRecord, SessionRecord, offer_names, request_name
from ..model.parse import ParseResult
from ..model.phases import CLIENT, HOLDING, IN_FLIGHT, SERVICE, Phase, TransitionError, transition
from ..owners import hub_name, owner_key
from ..planning.holders import NO_SERVERS, ServerHolds, holders_from
from ..planning.nodefit import NodeFit, fit_to_nodes, platform_unavailable
from ..planning.planner import StartFacts, plan
from ..planning.policy import PlannerPolicy
from ..platform.calendar import Calendar
from ..platform.datasets import EMPTY, Probe
from ..platform.profiles import Profile
from .limits import (
    Held,
    Holdings,
    Ledger,
    Limits,
    RateWindow,
    core_hours,
    core_hours_refusal,
    request_refusal,
    session_refusal,
)
from .relayed import RelayedBook
from .store import Store, StoreUnavailable

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Identity:
    """Who is asking: a hub user or service, and whether they may see everybody's sessions."""

    name: str
    kind: str = "user"
    admin: bool = False

    @property
    def owner(self) -> str:
        """The key of what this caller owns (see :mod:`~jupyterhub_execplanner.owners`)."""
        return owner_key(self.kind, self.name)


class NotFound(LookupError):
    """No such offerset or session, or not the caller's (the two are not told apart)."""


class Conflict(Exception):
    """A change the phase table forbids (answered 409). ``str()`` is a sentence for the client."""


Listener = Callable[[SessionRecord, Phase], None]
# None when the platform's capacity figures can be trusted, else why not (a clause for a message)
Health = Callable[[], "str | None"]


class SessionManager:
    def __init__(
        self,
        store: Store,
        profiles: Sequence[Profile],
        calendar: Calendar,
        policy: PlannerPolicy,
        *,
        offer_expiry: timedelta,
        clock: Callable[[], datetime] = msg.utcnow,
        health: Health | None = None,
        node_fit: NodeFit | None = None,
        limits: Limits | None = None,
    ):
        self.store = store
        self.profiles = list(profiles)
        self.calendar = calendar
        self.policy = policy
        self.offer_expiry = offer_expiry
        self.clock = clock
        self.health, self.node_fit = health, node_fit
        self.server_holds: ServerHolds = NO_SERVERS  # the hub's other servers, for a NO's message
        # platform hooks (Slurm): the scheduler's earliest starts, and notes added to each offer
        self.start_facts: StartFacts | None = None
        self.annotate: Callable[[OfferPlan, datetime], OfferPlan] | None = None
        # (expires, uuid) of every offer that may still be OFFERED, earliest first
        self._expiry: list[tuple[datetime, str]] = []
        # called as listener(record, previous_phase) after every committed change of phase
        self.listeners: list[Listener] = []
        # per-user limits (admins have none), what each owner holds, and requests per minute
        self.limits = limits if limits is not None else Limits()
        self.ledger = Ledger()
        self.rate = RateWindow(self.limits.requests_per_minute)
        # the peers' offers and sessions this broker relays (federation): kept here too
        self.relayed = RelayedBook(store, lambda: self.clock())

    # -- start-up -------------------------------------------------------------------------------

    def load(self) -> int:
        """Rebuild the calendar from the store after a (re)start. Returns the sessions holding capacity."""
        now = self.clock()
        self.calendar.advance(now)
        expired: list[SessionRecord] = []
        holding: list[SessionRecord] = []
        for record in self.store.sessions_in(HOLDING):
            if record.phase is Phase.OFFERED and record.expires <= now:
                expired.append(self._set(record, Phase.EXPIRED, SERVICE, now))
            else:
                holding.append(record)
        try:
            self.store.save_sessions(expired)
        except StoreUnavailable as e:  # a read-only database: they expire when it can be written
            log.warning("Could not mark %d expired offer(s) EXPIRED yet: %s", len(expired), e)
            holding += [r for r in expired if r.phase is Phase.EXPIRED]
            for record in expired:
                record.phase = Phase.OFFERED
            expired = []
        for record in holding:
            self._reserve(record)
            if record.phase is Phase.OFFERED:
                heapq.heappush(self._expiry, (record.expires, record.uuid))
        self._notify(expired, Phase.OFFERED)
        return len(holding)

    # -- requests -------------------------------------------------------------------------------

    def request(
        self, who: Identity, parsed: ParseResult, probes: Mapping[str, Probe] = EMPTY
    ) -> tuple[OfferSetRecord, list[SessionRecord]]:
        """Answer a parsed request with an offerset, reserving every offer until it expires.
        ``probes`` are the sizes :meth:`measure` found."""
        now = self.clock()
        self.expire_due(now)
        self.calendar.advance(now)
        notes = [m for m in parsed.messages if not m.is_error]
        offers: Sequence[OfferPlan] = ()
        unhealthy = self.health() if self.health is not None else None
        limited = (request_refusal(self.limits, self.holdings(who), now)
                   if self.limits.on_requests and not who.admin else None)
        if parsed.ok and parsed.request is not None and unhealthy:
            notes = [*notes, platform_unavailable(unhealthy, now=now)]
        elif parsed.ok and parsed.request is not None and limited is not None:
            notes = [*notes, limited]
        elif parsed.ok and parsed.request is not None:
            profiles, short = self.profiles, list[Message]()
            if self.node_fit is not None:
                profiles, short = fit_to_nodes(parsed.request, self.profiles, self.node_fit, now=now)
            result = plan(parsed.request, profiles, self.calendar, now=now, policy=self.policy,
                          probes=probes, start_facts=self.start_facts, holders=lambda: holders_from(
                              who.owner, self.calendar.reservations(), self.ledger.owner_of,
                              self.server_holds, now))
            offers, notes = result.offers, [*notes, *result.messages]
            if self.annotate is not None:
                offers = tuple(self.annotate(offer, now) for offer in offers)
            if not offers:
                notes += short
            elif not who.admin and self.limits.core_hours:
                offers, refusal = self._within_core_hours(who, offers, now)
                if refusal is not None:
                    notes = [m for m in notes if not m.is_error] + [refusal]
        else:
            notes = list(parsed.messages)
        request = parsed.request
        base = request_name(request) if request is not None else "offerset"
        offerset = OfferSetRecord(
            uuid=str(uuidlib.uuid4()),
            owner=who.owner,
            name=base,
            created=now,
            result="YES" if offers else "NO",
            messages=notes,
        )
        expires = now + self.offer_expiry
        records = [
            SessionRecord(
                uuid=str(uuidlib.uuid4()),
                offerset=offerset.uuid,
                owner=who.owner,
                name=name,
                phase=Phase.OFFERED,
                created=now,
                modified=now,
                expires=expires,
                request=request,
                offer=offer,
                messages=list(offer.notes),
            )
            for offer, name in zip(offers, offer_names(base, offers), strict=True)
            if request is not None  # always, when there are offers: they come from a parsed request
        ]
        offerset.sessions = [r.uuid for r in records]
        # stored first (one transaction): if that fails, nothing is reserved and nothing is lost
        self.store.add_offerset(offerset, records)
        for record in records:
            self._reserve(record)
            heapq.heappush(self._expiry, (record.expires, record.uuid))
        return offerset, records

    def direct(
        self, who: Identity, parsed: ParseResult, probes: Mapping[str, Probe] = EMPTY
    ) -> tuple[SessionRecord | None, OfferSetRecord]:
        """Request and accept the first offer. Returns (accepted session or None, offerset).
        LimitExceeded, before anything is planned, for a user who has as many sessions as allowed."""
        self.check_session_limit(who)
        offerset, records = self.request(who, parsed, probes)
        if not records:
            return None, offerset
        return self.update(who, records[0].uuid, Phase.ACCEPTED), offerset

    # -- reads ----------------------------------------------------------------------------------

    def offerset(self, who: Identity, uuid: str) -> tuple[OfferSetRecord, list[SessionRecord]]:
        record = self.store.offerset(uuid) if is_uuid(uuid) else None
        if record is None or not _visible(who, record.owner):
            raise NotFound(f"offerset {uuid} not found")
        self._expire_quietly()
        by_uuid = {s.uuid: s for s in self.store.sessions_of(uuid)}
        return record, [by_uuid[u] for u in record.sessions if u in by_uuid]

    def session(self, who: Identity, uuid: str) -> SessionRecord:
        record = self.store.session(uuid) if is_uuid(uuid) else None
        if record is None or not _visible(who, record.owner):
            raise NotFound(f"session {uuid} not found")
        return self._expire_if_due(record)

    def sessions(
        self, who: Identity, *, owner: str | None = None, include_offers: bool = False
    ) -> list[SessionRecord]:
        """The caller's sessions, newest first; an admin sees everybody's (or ``owner``'s)."""
        if not who.admin:
            owner = who.owner
        self._expire_quietly()
        return self.store.list_sessions(owner=owner, include_offers=include_offers)

    def phase_counts(self) -> dict[str, int]:
        return self.store.phase_counts()

    # -- for the phase driver (no identity: the service's own reads and notes) ---------------------

    def knows(self, uuid: str) -> bool:
        """Whether this broker holds an offer or session with this uuid, its own or relayed."""
        return self.relayed.get(uuid) is not None or self.record(uuid) is not None

    def record(self, uuid: str) -> SessionRecord | None:
        """A session as stored, whoever owns it."""
        return self.store.session(uuid) if is_uuid(uuid) else None

    def in_flight(self) -> list[SessionRecord]:
        """Every accepted session that has not ended (ACCEPTED to RELEASING)."""
        return self.store.sessions_in(IN_FLIGHT)

    def held_servers(self) -> set[tuple[str, str]]:
        """``(hub user name, server name)`` of every server the calendar already holds: the servers
        of accepted sessions that have not ended. Any other running server holds capacity of its own."""
        return {
            (hub_name(r.owner), r.server_name)
            for r in self.store.sessions_in(IN_FLIGHT)
            if r.server_name
        }

    def ended_with_server(self) -> list[SessionRecord]:
        """Cancelled and failed sessions that were given a server (it may still need stopping)."""
        ended = self.store.sessions_in((Phase.CANCELLED, Phase.FAILED))
        return [r for r in ended if r.server_name]

    def report(self, uuid: str, message: Message, *, limit: int = 1000) -> bool:
        """Append a message to a session (a progress report) without changing its phase. Returns
        False, and keeps nothing, when the session already has ``limit`` messages."""
        record = self.record(uuid)
        if record is None:
            raise NotFound(f"session {uuid} not found")
        if len(record.messages) >= limit:
            return False
        record.messages.append(message)
        record.modified = self.clock()
        self.store.save_sessions([record])
        return True

    # -- changes --------------------------------------------------------------------------------

    def update(self, who: Identity, uuid: str, target: Phase) -> SessionRecord:
        """A client's change of phase: ACCEPTED, REJECTED or CANCELLED. LimitExceeded for accepting
        one session more than the owner may have."""
        record = self.session(who, uuid)
        if target is Phase.ACCEPTED and record.phase is Phase.OFFERED:
            self.check_session_limit(who)
        now = self.clock()
        previous = record.phase
        try:
            self._set(record, target, CLIENT, now)
        except TransitionError as e:
            hint = ""
            if record.phase is Phase.EXPIRED:
                hint = (
                    f" The offer expired at {msg.format_time(record.expires)}; ask for new offers."
                )
            raise Conflict(f"{e}{hint}") from e
        record.messages.append(
            msg.info(
                "urn:phase-change",
                "${who} set the phase to ${phase}.",
                who=who.name,
                phase=target.value,
                at=now,
            )
        )
        changed = [record]
        if target is Phase.ACCEPTED:
            changed += self._reject_siblings(record.offerset, record.uuid, now)
        self._commit(changed)
        self._notify(changed[1:], Phase.OFFERED)
        self._notify([record], previous)
        return record

    def sibling_accepted(self, offerset: str, accepted: str) -> list[SessionRecord]:
        """Reject our offers in ``offerset`` because ``accepted``, an offer of the same merged set
        that a peer broker made, was accepted there (federation)."""
        changed = self._reject_siblings(offerset, accepted, self.clock())
        self._commit(changed)
        self._notify(changed, Phase.OFFERED)
        return changed

    def _reject_siblings(self, offerset: str, accepted: str, now: datetime) -> list[SessionRecord]:
        changed = []
        for sibling in self.store.sessions_of(offerset):
            if sibling.uuid != accepted and sibling.phase is Phase.OFFERED:
                self._set(sibling, Phase.REJECTED, SERVICE, now)
                sibling.messages.append(
                    msg.info(
                        "urn:sibling-accepted",
                        "Offer ${uuid} of the same offerset was accepted.",
                        uuid=accepted,
                        at=now,
                    )
                )
                changed.append(sibling)
        return changed

    def advance(
        self, uuid: str, target: Phase, message: Message | None = None, **changes: object
    ) -> SessionRecord:
        """The service's own change of phase (used by the phase driver). Raises TransitionError."""
        record = self.store.session(uuid)
        if record is None:
            raise NotFound(f"session {uuid} not found")
        previous = record.phase
        if target is not previous:
            self._set(record, target, SERVICE, self.clock())
        for key, value in changes.items():
            setattr(record, key, value)
        if message is not None:
            record.messages.append(message)
        record.modified = self.clock()
        self._commit([record])
        if target is not previous:
            self._notify([record], previous)
        return record

    def expire_due(self, now: datetime) -> int:
        """Mark every offer whose expiry has passed EXPIRED and release what it held."""
        due: list[tuple[datetime, str]] = []
        while self._expiry and self._expiry[0][0] <= now:
            due.append(heapq.heappop(self._expiry))
        if not due:
            return 0
        expired: list[SessionRecord] = []
        try:
            for _, uuid in due:
                record = self.store.session(uuid)
                if record is not None and record.phase is Phase.OFFERED:
                    expired.append(self._set(record, Phase.EXPIRED, SERVICE, now))
            self._commit(expired)
        except StoreUnavailable:
            for entry in due:  # still due: the next pass tries again, and they hold until then
                heapq.heappush(self._expiry, entry)
            raise
        self._notify(expired, Phase.OFFERED)
        return len(expired)

    def set_external_usage(
        self, usage: Mapping[str, Mapping[str, float]], each: ServerHolds = NO_SERVERS
    ) -> None:
        """What servers this service did not start hold now, per pool (from the hub's API), and
        ``(owner, pool, amounts)`` of each, which a NO for lack of room sums up."""
        self.server_holds = each
        for pool, amounts in usage.items():
            self.calendar.set_external(pool, amounts)

    # -- limits ---------------------------------------------------------------------------------

    def holdings(self, who: Identity) -> Holdings:
        """What ``who`` holds now: open offers, sessions not ended, core-hours from now on."""
        return self.ledger.holdings(who.owner, self.clock())

    def check_rate(self, who: Identity) -> None:
        """Count one request that plans offers; LimitExceeded past ``requests_per_minute``."""
        if not who.admin:
            self.rate.hit(who.owner)

    def check_session_limit(self, who: Identity) -> None:
        if who.admin:
            return
        refusal = session_refusal(self.limits, self.holdings(who), self.clock())
        if refusal is not None:
            raise refusal

    def _within_core_hours(
        self, who: Identity, offers: Sequence[OfferPlan], now: datetime
    ) -> tuple[list[OfferPlan], Message | None]:
        """The offers that keep ``who`` within ``limit_core_hours`` (of one offerset only the largest
        counts), or a NO message when none does."""
        held = self.holdings(who).core_hours
        room = self.limits.core_hours - held
        kept = [o for o in offers
                if core_hours(o.cores, o.prepare_start, o.release_end, now) <= room + 1e-9]
        if kept:
            return kept, None
        smallest = min(core_hours(o.cores, o.prepare_start, o.release_end, now) for o in offers)
        return [], core_hours_refusal(self.limits, held, smallest, now=now)

    # -- internals ------------------------------------------------------------------------------

    def _set(
        self, record: SessionRecord, target: Phase, actor: str, now: datetime
    ) -> SessionRecord:
        record.phase = transition(record.phase, target, actor)
        record.modified = now
        return record

    def _expire_quietly(self) -> None:
        """Expire what is due before a read; a database that cannot be written now does not stop
        the read (the offers expire at the next pass that can write)."""
        try:
            self.expire_due(self.clock())
        except StoreUnavailable as e:
            log.debug("Offers not expired before a read: %s", e)

    def _commit(self, changed: Sequence[SessionRecord]) -> None:
        """Write changed sessions (one transaction), then release what those that stopped holding
        capacity held. A failed write raises StoreUnavailable and leaves the calendar as it was: the
        records are fresh copies from the store, so nothing in memory changed either."""
        self.store.save_sessions(changed)
        for record in changed:
            if not record.phase.holds_capacity:
                self.calendar.release(record.uuid)
                self.ledger.remove(record.uuid)
            elif record.phase is not Phase.OFFERED:
                self.ledger.accepted(record.uuid)

    def _expire_if_due(self, record: SessionRecord) -> SessionRecord:
        now = self.clock()
        if record.phase is Phase.OFFERED and record.expires <= now:
            self._set(record, Phase.EXPIRED, SERVICE, now)
            try:
                self._commit([record])
            except StoreUnavailable:  # shown as expired; stored as such when the database is back
                return record
            self._notify([record], Phase.OFFERED)
        return record

    def _reserve(self, record: SessionRecord) -> None:
        offer = record.offer
        self.ledger.add(record.uuid, Held(
            owner=record.owner, offerset=record.offerset, offered=record.phase is Phase.OFFERED,
            cores=float(offer.cores), start=offer.prepare_start, end=offer.release_end,
            expires=record.expires if record.phase is Phase.OFFERED else None,
        ))
        if self.calendar.has(record.uuid):
            return
        try:
            self.calendar.reserve(
                record.uuid, offer.pool, offer.prepare_start, offer.release_end, offer.amounts()
            )
        except ValueError as e:
            # a pool or resource that the configuration no longer has: keep the session, say so
            log.warning("Session %s holds no reservation: %s", record.uuid, e)

    def _notify(self, records: Sequence[SessionRecord], previous: Phase) -> None:
        for record in records:
            for listener in self.listeners:
                try:
                    listener(record, previous)
                except Exception:
                    log.exception("Listener failed for session %s", record.uuid)


def _visible(who: Identity, owner: str) -> bool:
    return who.admin or who.owner == owner

