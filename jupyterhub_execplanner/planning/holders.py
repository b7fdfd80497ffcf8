"""What holds a hub's room, for a NO that says more than "no room" (pure).

A NO for lack of room names what holds the room now: running servers, sessions and open offers,
the asker's own or other users' (never naming them), with how much each kind holds and until when,
e.g. "2 of 2 cores are held: 1 by your running server (with no end), 1 by another user's running
server (with no end)". The facts come from the session manager (:func:`holders_from`): the calendar's
reservations with their owners, and what the hub's other servers hold per user.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from ..model import messages as msg
from ..model.messages import Message
from ..platform.calendar import Reservation

SERVER, SESSION, OFFER = "server", "session", "offer"
_NOUNS = {SERVER: ("running server", "running servers"), SESSION: ("session", "sessions"),
          OFFER: ("open offer", "open offers")}
EPS = 1e-9


@dataclass(frozen=True)
class Holder:
    """Something that holds room in a pool: a running server, a session or an open offer."""

    kind: str  # SERVER, SESSION or OFFER
    mine: bool  # the asker's own
    pool: str
    amounts: Mapping[str, float]
    until: datetime | None = None  # when it lets go; None: no end (a running server)
    count: int = 1  # how many it stands for (the servers of one user are summed)


Holders = Callable[[], Sequence[Holder]]  # asked for only when the answer is a NO for lack of room
# (owner, pool, what it holds) of each of the hub's running servers that is not a session's
ServerHolds = Sequence[tuple[str, str, Mapping[str, float]]]
NO_SERVERS: ServerHolds = ()


def holders_from(
    owner: str,
    reservations: Iterable[Reservation],
    owner_of: Callable[[str], tuple[str, bool] | None],
    servers: ServerHolds,
    now: datetime,
) -> list[Holder]:
    """The holders seen by ``owner``: the calendar's ``reservations`` (keyed by session uuid),
    ``owner_of(uuid)``: ``(owner, still an offer)`` or None, and ``servers``: ``(owner, pool,
    amounts)`` of each of the hub's other running servers (summed here: yours, and the others')."""
    found = []
    for reservation in reservations:
        known = owner_of(reservation.key)
        if reservation.end <= now or known is None:
            continue
        who, offered = known
        found.append(Holder(OFFER if offered else SESSION, who == owner, reservation.pool,
                            dict(reservation.amounts), reservation.end))
    summed: dict[tuple[bool, str], tuple[int, dict[str, float]]] = {}
    for who, pool, amounts in servers:
        count, total = summed.get((who == owner, pool), (0, {}))
        summed[(who == owner, pool)] = (count + 1, {k: total.get(k, 0.0) + amounts.get(k, 0.0)
                                                    for k in {*total, *amounts}})
    for (mine, pool), (count, total) in summed.items():
        found.append(Holder(SERVER, mine, pool, total, None, count))
    return found


def _amount(value: float) -> str:
    return f"{value:g}"


def _cores(value: float) -> str:
    return f"{value:g} core" + ("" if abs(value - 1) < EPS else "s")


def room_held(holders: Sequence[Holder], pool: str, totals: Mapping[str, float], *,
              now: datetime) -> Message | None:
    """What holds ``pool``'s cores and memory now (None when nothing does), yours first."""
    now_held = [h for h in holders if h.pool == pool and (h.until is None or h.until > now)]
    if not now_held:
        return None
    groups: dict[tuple[bool, str], list[Holder]] = {}
    for holder in now_held:
        groups.setdefault((not holder.mine, holder.kind), []).append(holder)
    parts = []
    order = list(_NOUNS)
    for (others, kind), members in sorted(groups.items(), key=lambda g: (g[0][0], order.index(g[0][1]))):
        cores = sum(h.amounts.get("cores", 0.0) for h in members)
        memory = sum(h.amounts.get("memory", 0.0) for h in members)
        count = sum(h.count for h in members)
        noun = _NOUNS[kind][count != 1]
        if others:
            what = f"another user's {noun}" if count == 1 else f"{count} {noun} of others"
        else:
            what = f"your {noun}" if count == 1 else f"your {count} {noun}"
        ends = [h.until for h in members if h.until is not None]
        until = ("with no end" if len(ends) < len(members)
                 else f"until {max(ends).strftime('%Y-%m-%dT%H:%M:%SZ')}")
        parts.append(f"{_cores(cores)} and {_amount(memory)} GiB by {what} ({until})")
    held_cores = sum(h.amounts.get("cores", 0.0) for h in now_held)
    advice = ""
    if any(h.mine for h in now_held):
        advice = (" Yours make room when you stop a running server, end a session or reject an "
                  "open offer.")
    return msg.warn(
        msg.NO_CAPACITY,
        "${held} of ${total} cores of this hub are held now: ${holders}.${advice}",
        at=now,
        path="compute.cores",
        held=_amount(held_cores),
        total=_amount(float(totals.get("cores", 0.0))),
        holders="; ".join(parts),
        advice=advice,
    )
