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
offer is larger than what one node has free.
"""

from __future__ import annotations

import heapq
import logging
import math
import uuid as uuidlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from types import MappingProxyType

from ..eligibility import EPS, match_accelerator
from ..model import messages as msg
from ..model.messages import Message
from ..model.offer import OfferPlan, OfferSetRecord, SessionRecord
from ..model.parse import ParseResult
from ..model.phases import CLIENT, HOLDING, SERVICE, Phase, TransitionError, transition
from ..model.request import ExecutionRequest
from ..planner import PlannerPolicy, plan
from ..platform.calendar import Calendar
from ..platform.datasets import EMPTY, Probe, to_probe
from ..platform.probe import probe_sizes
from ..platform.profiles import Profile, profile_label
from .store import Store

log = logging.getLogger(__name__)

# the phases of an accepted session the phase driver still drives
IN_FLIGHT = (
    Phase.ACCEPTED,
    Phase.WAITING,
    Phase.PREPARING,
    Phase.AVAILABLE,
    Phase.RUNNING,
    Phase.RELEASING,
)


@dataclass(frozen=True)
class Identity:
    """Who is asking: a hub user or service, and whether they may see everybody's sessions."""

    name: str
    kind: str = "user"
    admin: bool = False

    @property
    def owner(self) -> str:
        return self.name if self.kind == "user" else f"{self.kind}:{self.name}"


class NotFound(LookupError):
    """No such offerset or session, or not the caller's (the two are not told apart)."""


class Conflict(Exception):
    """A change the phase table forbids (answered 409). ``str()`` is a sentence for the client."""


Listener = Callable[[SessionRecord, Phase], None]
# None when the platform's capacity figures can be trusted, else why not (a clause for a message)
Health = Callable[[], "str | None"]
# (pool, need, want) -> the free amounts of the node that best holds it; None: no node to say
NodeFit = Callable[[str, Mapping[str, float], Mapping[str, float]], "Mapping[str, float] | None"]


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
    ):
        self.store = store
        self.profiles = list(profiles)
        self.calendar = calendar
        self.policy = policy
        self.offer_expiry = offer_expiry
        self.clock = clock
        self.health, self.node_fit = health, node_fit
        # (expires, uuid) of every offer that may still be OFFERED, earliest first
        self._expiry: list[tuple[datetime, str]] = []
        # called as listener(record, previous_phase) after every committed change of phase
        self.listeners: list[Listener] = []

    # -- start-up -------------------------------------------------------------------------------

    def load(self) -> int:
        """Rebuild the calendar from the store after a (re)start. Returns the sessions holding capacity."""
        now = self.clock()
        self.calendar.advance(now)
        expired: list[SessionRecord] = []
        held = 0
        for record in self.store.sessions_in(HOLDING):
            if record.phase is Phase.OFFERED and record.expires <= now:
                expired.append(self._set(record, Phase.EXPIRED, SERVICE, now))
                continue
            self._reserve(record)
            held += 1
        self.store.save_sessions(expired)
        self._notify(expired, Phase.OFFERED)
        return held

    # -- requests -------------------------------------------------------------------------------

    async def measure(self, parsed: ParseResult, timeout: float | None = None) -> Mapping[str, Probe]:
        """The sizes of the remote data a request would download (HTTP HEAD, concurrently, bounded
        by ``policy.data.probe_timeout`` and by ``timeout``, the caller's budget, when given;
        redirects re-checked against the source policy), for :meth:`request`; asked before planning
        so that planning stays synchronous and pure. Nothing is asked for a request that is a NO."""
        if not parsed.ok or parsed.request is None or not parsed.request.data:
            return EMPTY
        data = self.policy.data
        urls = to_probe(parsed.request, data)
        limit = data.probe_timeout if timeout is None else min(data.probe_timeout, timeout)
        return await probe_sizes(urls, timeout=limit, config=data)

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
        if parsed.ok and parsed.request is not None and unhealthy:
            notes = [*notes, platform_unavailable(unhealthy)]
        elif parsed.ok and parsed.request is not None:
            profiles, short = self.profiles, []
            if self.node_fit is not None:
                profiles, short = fit_to_nodes(parsed.request, self.profiles, self.node_fit)
            result = plan(parsed.request, profiles, self.calendar, now=now, policy=self.policy,
                          probes=probes)
            offers, notes = result.offers, [*notes, *result.messages]
            if not offers:
                notes += short
        else:
            notes = list(parsed.messages)
        request = parsed.request
        base = _name_of(request) if request is not None else "offerset"
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
                name=f"{base}-offer-{i}",
                phase=Phase.OFFERED,
                created=now,
                modified=now,
                expires=expires,
                request=request,  # type: ignore[arg-type]  # offers exist only for parsed requests
                offer=offer,
                messages=list(offer.notes),
            )
            for i, offer in enumerate(offers)
        ]
        offerset.sessions = [r.uuid for r in records]
        self.store.add_offerset(offerset, records)
        for record in records:
            self._reserve(record)
            heapq.heappush(self._expiry, (record.expires, record.uuid))
        return offerset, records

    def direct(
        self, who: Identity, parsed: ParseResult, probes: Mapping[str, Probe] = EMPTY
    ) -> tuple[SessionRecord | None, OfferSetRecord]:
        """Request and accept the first offer. Returns (accepted session or None, offerset)."""
        offerset, records = self.request(who, parsed, probes)
        if not records:
            return None, offerset
        return self.update(who, records[0].uuid, Phase.ACCEPTED), offerset

    # -- reads ----------------------------------------------------------------------------------

    def offerset(self, who: Identity, uuid: str) -> tuple[OfferSetRecord, list[SessionRecord]]:
        record = self.store.offerset(uuid) if _is_uuid(uuid) else None
        if record is None or not _visible(who, record.owner):
            raise NotFound(f"offerset {uuid} not found")
        self.expire_due(self.clock())
        by_uuid = {s.uuid: s for s in self.store.sessions_of(uuid)}
        return record, [by_uuid[u] for u in record.sessions if u in by_uuid]

    def session(self, who: Identity, uuid: str) -> SessionRecord:
        record = self.store.session(uuid) if _is_uuid(uuid) else None
        if record is None or not _visible(who, record.owner):
            raise NotFound(f"session {uuid} not found")
        return self._expire_if_due(record)

    def sessions(
        self, who: Identity, *, owner: str | None = None, include_offers: bool = False
    ) -> list[SessionRecord]:
        """The caller's sessions, newest first; an admin sees everybody's (or ``owner``'s)."""
        if not who.admin:
            owner = who.owner
        self.expire_due(self.clock())
        return self.store.list_sessions(owner=owner, include_offers=include_offers)

    def phase_counts(self) -> dict[str, int]:
        return self.store.phase_counts()

    # -- for the phase driver (no identity: the service's own reads and notes) ---------------------

    def record(self, uuid: str) -> SessionRecord | None:
        """A session as stored, whoever owns it."""
        return self.store.session(uuid) if _is_uuid(uuid) else None

    def in_flight(self) -> list[SessionRecord]:
        """Every accepted session that has not ended (ACCEPTED to RELEASING)."""
        return self.store.sessions_in(IN_FLIGHT)

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
        """A client's change of phase: ACCEPTED, REJECTED or CANCELLED."""
        record = self.session(who, uuid)
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
            )
        )
        changed = [record]
        if target is Phase.ACCEPTED:
            changed += self._reject_siblings(record.offerset, record.uuid, now)
        self.store.save_sessions(changed)
        self._notify(changed[1:], Phase.OFFERED)
        self._notify([record], previous)
        return record

    def sibling_accepted(self, offerset: str, accepted: str) -> list[SessionRecord]:
        """Reject our offers in ``offerset`` because ``accepted``, an offer of the same merged set
        that a peer broker made, was accepted there (federation)."""
        changed = self._reject_siblings(offerset, accepted, self.clock())
        self.store.save_sessions(changed)
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
        self.store.save_sessions([record])
        if target is not previous:
            self._notify([record], previous)
        return record

    def expire_due(self, now: datetime) -> int:
        """Mark every offer whose expiry has passed EXPIRED and release what it held."""
        due: list[str] = []
        while self._expiry and self._expiry[0][0] <= now:
            due.append(heapq.heappop(self._expiry)[1])
        expired: list[SessionRecord] = []
        for uuid in due:
            record = self.store.session(uuid)
            if record is not None and record.phase is Phase.OFFERED:
                expired.append(self._set(record, Phase.EXPIRED, SERVICE, now))
        self.store.save_sessions(expired)
        self._notify(expired, Phase.OFFERED)
        return len(expired)

    def set_external_usage(self, usage: dict[str, dict[str, float]]) -> None:
        """What servers this service did not start hold now, per pool (from the hub's API)."""
        for pool, amounts in usage.items():
            self.calendar.set_external(pool, amounts)

    # -- internals ------------------------------------------------------------------------------

    def _set(
        self, record: SessionRecord, target: Phase, actor: str, now: datetime
    ) -> SessionRecord:
        record.phase = transition(record.phase, target, actor)
        record.modified = now
        if not target.holds_capacity:
            self.calendar.release(record.uuid)
        return record

    def _expire_if_due(self, record: SessionRecord) -> SessionRecord:
        now = self.clock()
        if record.phase is Phase.OFFERED and record.expires <= now:
            self._set(record, Phase.EXPIRED, SERVICE, now)
            self.store.save_sessions([record])
            self._notify([record], Phase.OFFERED)
        return record

    def _reserve(self, record: SessionRecord) -> None:
        offer = record.offer
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


def platform_unavailable(reason: str) -> Message:
    return msg.error(
        msg.PLATFORM,
        "This hub cannot plan sessions now: ${reason}. Try again in a minute.",
        path="$",
        reason=reason,
    )


def fit_to_nodes(
    request: ExecutionRequest, profiles: Sequence[Profile], node_fit: NodeFit
) -> tuple[list[Profile], list[Message]]:
    """Each profile capped to the free amounts of the node of its pool that best holds the request
    on it (at least the request's and the profile's minimum, as much of their maximum as it can),
    and a message for each profile whose minimum no node has free now."""
    compute = request.compute
    capped: list[Profile] = []
    short: list[Message] = []
    for p in profiles:
        need = {"cores": max(compute.cores.min, p.cores_min),
                "memory": max(compute.memory.min, p.memory_min)}
        want = {"cores": min(compute.cores.max, math.inf if p.cores_max is None else p.cores_max),
                "memory": min(compute.memory.max, math.inf if p.memory_max is None else p.memory_max)}
        for accel in compute.accelerators:
            key = match_accelerator(accel.resource, p.accelerators)
            if accel.count.max > 0 and key is not None:
                need[key] = need.get(key, 0) + accel.count.min
                want[key] = min(p.accelerators[key], want.get(key, 0) + accel.count.max)
        free = node_fit(p.pool, need, want)
        if free is None:
            capped.append(p)
            continue
        capped.append(replace(
            p,
            cores_max=min(free.get("cores", 0.0), math.inf if p.cores_max is None else p.cores_max),
            memory_max=min(free.get("memory", 0.0),
                           math.inf if p.memory_max is None else p.memory_max),
            accelerators=MappingProxyType(
                {k: min(v, math.floor(free.get(k, 0.0) + EPS)) for k, v in p.accelerators.items()}
            ),
        ))  # fmt: skip
        missing = [k for k, v in need.items() if free.get(k, 0.0) + EPS < v]
        if missing:
            short.append(msg.warn(
                msg.NO_CAPACITY,
                "Profile ${profile}: no node of its pool has ${need} free now (the node with the "
                "most has ${largest}); a session runs on one node.",
                path="compute",
                profile=profile_label(p),
                need=_amounts({k: need[k] for k in missing}),
                largest=_amounts({k: free.get(k, 0.0) for k in missing}),
            ))  # fmt: skip
    return capped, short


def _amounts(amounts: Mapping[str, float]) -> str:
    unit = {"cores": " cores", "memory": " GiB"}
    return ", ".join(f"{v:g}{unit.get(k, ' ' + k)}" for k, v in amounts.items())


def _visible(who: Identity, owner: str) -> bool:
    return who.admin or who.owner == owner


def _is_uuid(value: str) -> bool:
    try:
        uuidlib.UUID(value)
    except (ValueError, AttributeError, TypeError):
        return False
    return True


def _name_of(request: object) -> str:
    executable = getattr(request, "executable", None)
    name = getattr(executable, "name", None) or getattr(request, "name", None) or "offerset"
    return str(name)[:100]
