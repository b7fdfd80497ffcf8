"""Per-user limits, so that one user cannot starve the others.

Every hub user (and service) may hold at most ``open_offers`` unexpired offers, ``sessions`` accepted
sessions that have not ended, and ``core_hours`` core-hours of capacity from now on; may make at
most ``requests_per_minute`` requests that plan offers; and may keep at most ``snapshot_bytes`` of
snapshots. A limit of 0 is no limit. Admins of the broker are not limited (an aggregator's account is
one: it asks on behalf of many users).

What a user holds is kept in memory by the :class:`Ledger`, which the session manager updates as it
reserves and releases capacity, so checking a limit costs no database read. Core-hours count an
accepted session in full and, of the offers of one offerset, only the largest: at most one of them
can become a session.

Past a limit the answer says which setting it is and what the user can do: a ``NO`` for a request
(the limit is a reason like any other), ``429`` with ``Retry-After`` for a call that cannot wait.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from ..model import messages as msg
from ..model.messages import Message

LIMIT = "urn:execplanner:user-limit"  # the kind of a NO message for a limit


@dataclass(frozen=True)
class Limits:
    open_offers: int = 20
    sessions: int = 4
    core_hours: float = 512.0
    requests_per_minute: int = 60
    snapshot_bytes: int = 100 * 1024 * 1024

    @property
    def on_requests(self) -> bool:
        """Whether a limit applies to a new request (open offers or core-hours): when none does,
        what a user holds need not be counted to answer one."""
        return bool(self.open_offers or self.core_hours)


NO_LIMITS = Limits(0, 0, 0.0, 0, 0)


class LimitExceeded(Exception):
    """A call past a user's limit (answered 429). ``str()`` names the setting and the fix;
    ``retry_after`` is the seconds after which the same call may succeed."""

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = max(1, int(retry_after))


@dataclass
class Held:
    """What one offer or session holds, for its owner's limits."""

    owner: str
    offerset: str
    offered: bool  # an offer (OFFERED), else an accepted session
    cores: float
    start: datetime  # preparing start
    end: datetime  # releasing end
    expires: datetime | None = None  # an offer's expiry


@dataclass(frozen=True)
class Holdings:
    open_offers: int
    sessions: int
    core_hours: float
    next_offer_expiry: datetime | None
    next_session_end: datetime | None


def core_hours(cores: float, start: datetime, end: datetime, now: datetime) -> float:
    """Core-hours from ``max(start, now)`` to ``end``."""
    seconds = (end - max(start, now)).total_seconds()
    return max(0.0, cores * seconds / 3600.0)


class Ledger:
    """Who holds what: offers and sessions by owner, kept by the session manager."""

    def __init__(self) -> None:
        self._by_uuid: dict[str, Held] = {}
        self._by_owner: dict[str, set[str]] = {}

    def add(self, uuid: str, held: Held) -> None:
        self.remove(uuid)
        self._by_uuid[uuid] = held
        self._by_owner.setdefault(held.owner, set()).add(uuid)

    def owner_of(self, uuid: str) -> tuple[str, bool] | None:
        """``(owner, still an offer)`` of what ``uuid`` holds; None when it holds nothing."""
        held = self._by_uuid.get(uuid)
        return (held.owner, held.offered) if held is not None else None

    def accepted(self, uuid: str) -> None:
        held = self._by_uuid.get(uuid)
        if held is not None:
            held.offered = False

    def remove(self, uuid: str) -> None:
        held = self._by_uuid.pop(uuid, None)
        if held is not None:
            owned = self._by_owner.get(held.owner)
            if owned is not None:
                owned.discard(uuid)
                if not owned:
                    del self._by_owner[held.owner]

    def holdings(self, owner: str, now: datetime) -> Holdings:
        offers = sessions = 0
        hours = 0.0
        largest: dict[str, float] = {}  # offerset -> the largest offer's core-hours
        expiries: list[datetime] = []
        ends: list[datetime] = []
        for uuid in self._by_owner.get(owner, ()):
            held = self._by_uuid[uuid]
            if held.end <= now or (held.offered and held.expires is not None and held.expires <= now):
                continue
            amount = core_hours(held.cores, held.start, held.end, now)
            if held.offered:
                offers += 1
                largest[held.offerset] = max(largest.get(held.offerset, 0.0), amount)
                if held.expires is not None:
                    expiries.append(held.expires)
            else:
                sessions += 1
                hours += amount
                ends.append(held.end)
        return Holdings(offers, sessions, hours + sum(largest.values()), min(expiries, default=None),
                        min(ends, default=None))


def _wait(until: datetime | None, now: datetime, fallback: int = 60) -> int:
    if until is None:
        return fallback
    return max(1, int((until - now).total_seconds()) + 1)


def request_refusal(limits: Limits, holdings: Holdings, now: datetime) -> Message | None:
    """The NO message for a new request from a user who holds ``holdings``, or None."""
    if limits.open_offers and holdings.open_offers >= limits.open_offers:
        return msg.error(
            LIMIT,
            "You hold ${held} open offers, this hub's limit per user (ExecPlanner.limit_open_offers"
            " = ${limit}): accept or reject the offers you asked for before, or wait for them to "
            "expire (the next in ${seconds} s).",
            path="$", held=holdings.open_offers, limit=limits.open_offers,
            seconds=_wait(holdings.next_offer_expiry, now), at=now,
        )
    if limits.core_hours and holdings.core_hours >= limits.core_hours:
        return core_hours_refusal(limits, holdings.core_hours, now=now)
    return None


def core_hours_refusal(limits: Limits, held: float, offer: float | None = None, *,
                       now: datetime | None = None) -> Message:
    more = "" if offer is None else " and the smallest offer would add ${offer}"
    return msg.error(
        LIMIT,
        "You hold ${held} core-hours of this hub's capacity from now on" + more + ", past its limit "
        "per user (ExecPlanner.limit_core_hours = ${limit}): cancel sessions or reject offers you do "
        "not need, or ask for fewer cores or a shorter duration.",
        path="$", held=f"{held:.1f}", limit=f"{limits.core_hours:g}", at=now,
        **({} if offer is None else {"offer": f"{offer:.1f}"}),
    )


def session_refusal(limits: Limits, holdings: Holdings, now: datetime) -> LimitExceeded | None:
    """The 429 for accepting one more session, or None."""
    if limits.sessions and holdings.sessions >= limits.sessions:
        return LimitExceeded(
            f"You have {holdings.sessions} sessions that have not ended, this hub's limit per user "
            f"(ExecPlanner.limit_sessions = {limits.sessions}): cancel one you do not need, or wait "
            "for one to end.",
            _wait(holdings.next_session_end, now),
        )
    return None


class RateWindow:
    """At most ``per_minute`` events per key in any 60 seconds (a sliding window, in memory)."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic):
        self.per_minute = per_minute
        self.clock = clock
        self._events: dict[str, deque[float]] = {}

    def hit(self, key: str, setting: str = "ExecPlanner.limit_requests_per_minute") -> None:
        """Count one event for ``key``; LimitExceeded when it would pass the limit (not counted)."""
        if self.per_minute <= 0:
            return
        now = self.clock()
        events = self._events.setdefault(key, deque())
        while events and events[0] <= now - 60:
            events.popleft()
        if len(events) >= self.per_minute:
            raise LimitExceeded(
                f"You made {len(events)} requests in the last minute, this hub's limit per user "
                f"({setting} = {self.per_minute}): wait and try again.",
                int(events[0] + 60 - now) + 1,
            )
        events.append(now)
        if len(self._events) > 10_000:  # forget keys that have been quiet for a minute
            self._events = {k: v for k, v in self._events.items() if v and v[-1] > now - 60}
