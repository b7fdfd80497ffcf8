"""How the phase driver keeps sessions from being lost: it backs off from a session it cannot process,
and marks sessions after a hub restart.

A session whose record makes the driver raise (a bug, a record the code does not expect) must neither
be retried in a tight loop nor stop the other sessions. The driver counts its consecutive failures
here: after the n-th it leaves the session alone for ``base * 2**(n-1)`` seconds (at most ``cap``),
and after ``limit`` failures it gives up on it (the driver moves it to FAILED with the reason). A pass
that settles the session (nothing left to do, no task running) or a task that ends without an error
resets its count.

Time is the monotonic clock (``clock``), not the manager's: tests move that one by hours.

A hub restart (another hub boot id than the one kept) with JupyterHub's default ``cleanup_servers``
stopped every server: :func:`mark_hub_restart` notes it on every session whose server may have
stopped with the hub, and :func:`.decide.decide` starts such a server again instead of ending the
session.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeAlias

from ..model.offer import SessionRecord
from ..model.phases import WITH_SERVER, Phase
from ..sessions.launches import LaunchStore
from ..sessions.manager import SessionManager
from ..sessions.store import StoreUnavailable
from . import decide as D

BASE = 1.0  # seconds before the first retry
CAP = 60.0  # the longest wait between two retries
LIMIT = 5  # failures in a row after which the session goes FAILED

# what the driver logs to: a logger, or the application's adapter of one
Log: TypeAlias = "logging.Logger | logging.LoggerAdapter[Any]"


@dataclass(frozen=True)
class Failure:
    count: int  # consecutive failures, this one included
    delay: float  # seconds until the session is tried again
    give_up: bool  # the limit is reached: the session goes FAILED (if it has not ended)


class Backoff:
    """Consecutive failures per session, and when each may be tried again."""

    def __init__(self, base: float = BASE, cap: float = CAP, limit: int = LIMIT,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.base, self.cap, self.limit, self.clock = base, cap, limit, clock
        self._counts: dict[str, int] = {}
        self._until: dict[str, float] = {}

    def failed(self, uuid: str) -> Failure:
        count = self._counts.get(uuid, 0) + 1
        self._counts[uuid] = count
        delay = min(self.cap, self.base * 2 ** (count - 1))
        self._until[uuid] = self.clock() + delay
        return Failure(count, delay, count >= self.limit)

    def waiting(self, uuid: str) -> bool:
        """Whether the session is still backed off (the driver leaves it alone)."""
        until = self._until.get(uuid)
        return until is not None and self.clock() < until

    def count(self, uuid: str) -> int:
        return self._counts.get(uuid, 0)

    def succeeded(self, uuid: str) -> None:
        self._counts.pop(uuid, None)
        self._until.pop(uuid, None)


Failed = Callable[[str, Exception], None]


def read_sessions(manager: SessionManager, uuids: Iterable[str], skip: Callable[[str], bool],
                  failed: Failed) -> dict[str, SessionRecord]:
    """The records of ``uuids`` that can be read; ``failed(uuid, error)`` is told of each that
    cannot (the store leaves out rows it cannot read; any other error counts), and ``skip(uuid)``
    leaves a session out (it is backed off)."""
    records: dict[str, SessionRecord] = {}
    for uuid in uuids:
        if skip(uuid):
            continue
        try:
            record = manager.record(uuid)
        except Exception as e:
            failed(uuid, e)
            continue
        if record is not None:
            records[uuid] = record
    return records


# the phases in which a session's server may have stopped with the hub (and is started again)
MARKED = WITH_SERVER - {Phase.RELEASING}


def mark_hub_restart(manager: SessionManager, launches: LaunchStore, boot: str | None,
                     now: datetime) -> int | None:
    """When ``boot`` is not the hub boot id kept (or none is kept yet), note the hub's restart on
    each session in PREPARING, AVAILABLE or RUNNING and keep ``boot``: how many were noted.
    None when there is nothing to do: no boot id (the service is not the hub's managed service) or the
    same one (only the service restarted, so a server that is gone was stopped by a person). The id is
    kept only after the notes, so a service that dies in between notes them again."""
    if not boot or launches.hub_boot() == boot:
        return None
    marked = 0
    for record in manager.in_flight():
        if record.phase in MARKED:
            manager.report(record.uuid, D.note(
                D.HUB_RESTARTED, "WARN", "The hub restarted; if that stopped server ${server}, the "
                "broker starts it again for the rest of the session.", now,
                server=record.server_name or ""))
            marked += 1
    launches.set_hub_boot(boot)
    return marked


def log_failure(log: Log, uuid: str, error: BaseException, failure: Failure) -> None:
    """One line a failure (the first with its traceback); a database fault is a warning, no trace."""
    if isinstance(error, StoreUnavailable):
        log.warning("Session %s waits for the database (%s); trying again in %.0f s", uuid, error,
                    failure.delay)
    elif failure.count == 1:
        log.error("Could not process session %s; trying again in %.0f s", uuid, failure.delay,
                  exc_info=error)
    else:
        log.warning("Could not process session %s (%s: %s), %d failures in a row; trying again in "
                    "%.0f s", uuid, type(error).__name__, error, failure.count, failure.delay)


def give_up(manager: SessionManager, log: Log, uuid: str, error: BaseException,
            failure: Failure, fail: Callable[..., object]) -> None:
    """The session failed ``failure.count`` times in a row: FAILED with the reason (``fail``, the
    driver's own, with a template and its values), unless it has ended meanwhile."""
    try:
        record = manager.record(uuid)
        if record is not None and not record.phase.is_terminal:
            fail(uuid, "The broker could not process this session: ${error}; see the service log.",
                 error=type(error).__name__)
            log.error("Session %s FAILED after %d failures in a row", uuid, failure.count)
    except Exception as e:
        log.error("Could not mark session %s FAILED (%s: %s); it is left alone for %.0f s at a time",
                  uuid, type(e).__name__, e, failure.delay)
