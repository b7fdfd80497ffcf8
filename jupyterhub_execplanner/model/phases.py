"""The phases of an execution session, and the one function that changes them.

An offer is a session in phase OFFERED. A client may accept, reject or cancel it; after acceptance
the broker drives it through WAITING, PREPARING, AVAILABLE, RUNNING and RELEASING to COMPLETED, or to
FAILED or CANCELLED (and from AVAILABLE or RUNNING back to PREPARING when the hub's restart stopped the
session's server, to start it again). Terminal phases are never left. Every change of phase in the
service goes through :func:`transition`, which raises :class:`TransitionError` (answered 409) for a
change the table forbids.
"""

from __future__ import annotations

from enum import Enum


class Phase(str, Enum):
    INITIAL = "INITIAL"
    OFFERED = "OFFERED"
    ACCEPTED = "ACCEPTED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"
    WAITING = "WAITING"
    PREPARING = "PREPARING"
    AVAILABLE = "AVAILABLE"
    RUNNING = "RUNNING"
    RELEASING = "RELEASING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL

    @property
    def holds_capacity(self) -> bool:
        """Whether a session in this phase keeps its reservation in the calendar."""
        return self in HOLDING


# Who may ask for a change: a client through POST sessions/{uuid}, or the service itself.
CLIENT = "client"
SERVICE = "service"

# accepted and not yet releasing: what a client may cancel, what may fail or be released
_LIVE = (Phase.ACCEPTED, Phase.WAITING, Phase.PREPARING, Phase.AVAILABLE, Phase.RUNNING)

ALLOWED: dict[tuple[Phase, str], frozenset[Phase]] = {
    # target, actor -> the phases it may be reached from
    (Phase.ACCEPTED, CLIENT): frozenset({Phase.OFFERED}),
    (Phase.REJECTED, CLIENT): frozenset({Phase.OFFERED}),
    (Phase.CANCELLED, CLIENT): frozenset({Phase.INITIAL, Phase.OFFERED, *_LIVE}),
    (Phase.REJECTED, SERVICE): frozenset({Phase.OFFERED}),
    (Phase.EXPIRED, SERVICE): frozenset({Phase.OFFERED}),
    (Phase.OFFERED, SERVICE): frozenset({Phase.INITIAL}),
    (Phase.ACCEPTED, SERVICE): frozenset({Phase.OFFERED}),
    (Phase.WAITING, SERVICE): frozenset({Phase.ACCEPTED}),
    # and back from AVAILABLE or RUNNING when a hub restart stopped the server: it is started again
    (Phase.PREPARING, SERVICE): frozenset({Phase.ACCEPTED, Phase.WAITING, Phase.AVAILABLE, Phase.RUNNING}),
    (Phase.AVAILABLE, SERVICE): frozenset({Phase.PREPARING}),
    (Phase.RUNNING, SERVICE): frozenset({Phase.AVAILABLE}),
    (Phase.RELEASING, SERVICE): frozenset({*_LIVE}),
    (Phase.COMPLETED, SERVICE): frozenset({Phase.RELEASING}),
    (Phase.FAILED, SERVICE): frozenset({*_LIVE, Phase.RELEASING}),
    (Phase.CANCELLED, SERVICE): frozenset({Phase.INITIAL, Phase.OFFERED, *_LIVE}),
}


def _reachable(start: Phase) -> frozenset[Phase]:
    """``start`` and every phase the table can lead a session to from it, terminal ones left out."""
    seen, todo = {start}, [start]
    while todo:
        current = todo.pop()
        for (target, _), sources in ALLOWED.items():
            if current in sources and target not in seen:
                seen.add(target)
                todo.append(target)
    return frozenset(p for p in seen if p not in TERMINAL)


# The sets of phases the service asks about, all read from the table above (the one definition).
# Terminal: no change leaves them.
TERMINAL = frozenset(p for p in Phase if not any(p in sources for sources in ALLOWED.values()))
# In flight: accepted and not ended (ACCEPTED to RELEASING), the sessions the phase driver drives.
IN_FLIGHT = _reachable(Phase.ACCEPTED)
# Holding capacity: an offer, and every session in flight (see Phase.holds_capacity).
HOLDING = frozenset({Phase.OFFERED, *IN_FLIGHT})
# With a server: from the first start of the session's server (PREPARING) until it ends.
WITH_SERVER = _reachable(Phase.PREPARING)

# The values a client may set, and so the EnumValueOption a session advertises in each phase.
CLIENT_TARGETS = (Phase.ACCEPTED, Phase.REJECTED, Phase.CANCELLED)


class TransitionError(Exception):
    """A change of phase that the table forbids. ``str()`` is a sentence for the client."""

    def __init__(self, current: Phase, target: Phase, actor: str):
        self.current, self.target, self.actor = current, target, actor
        allowed = client_options(current) if actor == CLIENT else []
        hint = (
            f" From {current.value} a client may set: {', '.join(p.value for p in allowed)}."
            if allowed
            else f" {current.value} is a terminal phase." if current.is_terminal else ""
        )
        super().__init__(f"Cannot change phase from {current.value} to {target.value}.{hint}")


def can_transition(current: Phase, target: Phase, actor: str = SERVICE) -> bool:
    return current in ALLOWED.get((target, actor), frozenset())


def transition(current: Phase, target: Phase, actor: str = SERVICE) -> Phase:
    """Return ``target`` if ``current -> target`` is allowed for ``actor``; raise TransitionError if not."""
    if not can_transition(current, target, actor):
        raise TransitionError(current, target, actor)
    return target


def client_options(current: Phase) -> list[Phase]:
    """The phases a client may move a session to from ``current`` (for ``meta.options``)."""
    return [p for p in CLIENT_TARGETS if can_transition(current, p, CLIENT)]


def parse_phase(value: object) -> Phase | None:
    """The Phase named by ``value`` (case-insensitive), or None."""
    if not isinstance(value, str):
        return None
    try:
        return Phase(value.strip().upper())
    except ValueError:
        return None
