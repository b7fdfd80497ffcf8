"""What should happen to a session now: a pure function of the session, its server and the time.

The phase driver reads a session into :class:`Facts` (with the hub's view of its server as a
:class:`ServerView`), calls :func:`decide`, carries out the :class:`Act` it gets, and asks again. Every
rule of the driver is a row of :func:`decide`; the I/O is all in :mod:`.driver`.

Also pure, and kept here with the rules they serve: the LaunchSpec of a session, the connector of a
ready server, and the messages that mark a session's life.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any
from urllib.parse import urljoin, urlparse

from ..launch import DataItem, LaunchSpec
from ..model import kinds as K
from ..model import messages as msg
from ..model.messages import Message
from ..model.offer import SessionRecord
from ..model.phases import WITH_SERVER, Phase
from ..owners import hub_name, is_user
from ..spawnhook import default_url_for

CONNECTOR_KIND = "urn:execplanner:connector:jupyter"

# message kinds the driver writes (and reads back after a restart)
WAITING = "urn:execplanner:waiting"
PREPARING = "urn:execplanner:preparing"
STARTING = "urn:execplanner:starting-server"
HUB_PROGRESS = "urn:execplanner:hub-progress"
READY = "urn:execplanner:server-ready"
ACTIVE = "urn:execplanner:server-active"
RELEASING = "urn:execplanner:releasing"
STOPPED = "urn:execplanner:server-stopped"  # the server is gone: nothing left to clean up
NO_SERVER = "urn:execplanner:no-server"  # also "nothing left to clean up"
STOP_FAILED = "urn:execplanner:stop-failed"  # gave up stopping: nothing more to try
FAILED = "urn:execplanner:failed"
RETRY = "urn:execplanner:hub-busy"
# the hub restarted (the service saw a new hub boot id): its servers may have been stopped with it
HUB_RESTARTED = "urn:execplanner:hub-restarted"
RESTARTING = "urn:execplanner:restarting"  # back to PREPARING: the hub's restart stopped the server
KEPT = "urn:execplanner:server-kept"  # the server kept running through the hub's restart
# messages the preload reports through POST sessions/{uuid}/progress
REPORT = "urn:execplanner:preload"
REPORT_FAILED = "urn:execplanner:preload-failed"

CLOSED = frozenset({STOPPED, NO_SERVER, STOP_FAILED})
# after a hub restart mark, any of these says the restart was dealt with (or the server seen since)
AFTER_RESTART = (PREPARING, RESTARTING, STARTING, READY, KEPT)

# message times are stored to the second: a ready time read back from a message is taken as the end
# of its second, so that the proxy's stamp of the route (added just before ready) is never "activity"
STORED_TIME_STEP = timedelta(seconds=1)


class ServerState(str, Enum):
    UNKNOWN = "unknown"  # not looked up, or the hub did not answer
    ABSENT = "absent"  # the hub has no such server
    STOPPED = "stopped"  # the hub has it, not running (a failed start leaves one): remove it
    PENDING = "pending"  # starting
    READY = "ready"
    STOPPING = "stopping"


@dataclass(frozen=True)
class ServerView:
    state: ServerState
    last_activity: datetime | None = None
    url: str | None = None


UNKNOWN = ServerView(ServerState.UNKNOWN)
ABSENT = ServerView(ServerState.ABSENT)


def server_view(model: dict[str, Any] | None) -> ServerView:
    """The hub's server model (or None for no server) as the driver sees it."""
    if model is None:
        return ABSENT
    pending = model.get("pending")
    if pending == "stop":
        state = ServerState.STOPPING
    elif model.get("ready"):
        state = ServerState.READY
    elif pending:
        state = ServerState.PENDING
    else:
        state = ServerState.STOPPED
    activity = model.get("last_activity")
    last = None
    if isinstance(activity, str) and activity:
        try:
            last = msg.parse_time(activity)
        except ValueError:
            last = None
    url = model.get("url")
    return ServerView(state, last, url if isinstance(url, str) else None)


class Task(str, Enum):
    """What the driver is doing for a session in this process right now."""

    NONE = "none"
    PREPARE = "prepare"  # starting the server, or following its start
    STOP = "stop"


@dataclass(frozen=True)
class Facts:
    phase: Phase
    user_owner: bool  # a hub user (a service cannot have a server)
    can_start: bool  # the broker has a launch secret and the hub's API
    prepare_start: datetime
    end: datetime
    has_server: bool  # a server name was given to the session (a start was asked for)
    closed: bool  # its server is known to be gone (or stopping was given up)
    preparing_since: datetime | None = None
    ready_at: datetime | None = None
    task: Task = Task.NONE
    server: ServerView = UNKNOWN
    retry_at: datetime | None = None
    failure_reported: bool = False  # the preload reported a failure during the latest start
    hub_restarted: bool = False  # the hub restarted since the server was last started or seen


class Act(str, Enum):
    NOTHING = "nothing"
    WAIT = "wait"  # ACCEPTED -> WAITING
    PREPARE = "prepare"  # -> PREPARING
    START = "start"  # ask the hub to start the server, then follow it
    FOLLOW = "follow"  # follow a start already under way
    AVAILABLE = "available"  # PREPARING -> AVAILABLE, with the connector
    RUNNING = "running"  # AVAILABLE -> RUNNING
    RELEASE = "release"  # -> RELEASING, then stop the server
    STOP = "stop"  # (RELEASING) stop the server (again)
    COMPLETE = "complete"  # RELEASING -> COMPLETED
    VANISHED = "vanished"  # the server went away by itself: -> RELEASING -> COMPLETED
    RESTART = "restart"  # the hub's restart stopped the server: -> PREPARING, to start it again
    KEEP = "keep"  # the server kept running through the hub's restart: note it
    FAIL_SERVICE = "fail-service"  # -> FAILED: a service cannot have a server
    FAIL_SETUP = "fail-setup"  # -> FAILED: the broker cannot start servers
    FAIL_REPORTED = "fail-reported"  # -> FAILED: the preload reported a failure (then clean up)
    TIMEOUT = "timeout"  # -> FAILED: not ready in time (the server is then cleaned up)
    CLEAN_UP = "clean-up"  # an ended session still has a server (or a start): stop it
    CLOSE = "close"  # an ended session's server is gone: note it, stop looking


# Offer starts are rounded up to whole seconds, so an as-soon-as-possible session's preparing start
# is up to a second after its acceptance: starting that little early costs nothing (reservations
# cover whole calendar buckets) and saves a pass of the driver.
EARLY = timedelta(seconds=1)


def decide(f: Facts, now: datetime, spawn_timeout: timedelta) -> Act:
    """The one thing to do next for a session (the driver asks again after each change)."""
    view = f.server.state
    if view is ServerState.UNKNOWN and not f.has_server:
        view = ServerState.ABSENT  # the broker never asked for a server: there is none
    waiting = f.retry_at is not None and now < f.retry_at
    if f.phase.is_terminal:
        if f.closed or not f.has_server:
            return Act.NOTHING
        if f.task is Task.PREPARE:
            return Act.CLEAN_UP
        if f.task is Task.STOP or waiting or view in (ServerState.UNKNOWN, ServerState.STOPPING):
            return Act.NOTHING
        return Act.CLOSE if view is ServerState.ABSENT else Act.CLEAN_UP
    if f.phase in (Phase.INITIAL, Phase.OFFERED) or f.task is Task.STOP:
        return Act.NOTHING

    if f.phase in (Phase.ACCEPTED, Phase.WAITING):
        if not f.user_owner:
            return Act.FAIL_SERVICE
        if not f.can_start:
            return Act.FAIL_SETUP
        if now < f.prepare_start - EARLY:
            return Act.WAIT if f.phase is Phase.ACCEPTED else Act.NOTHING
        return Act.PREPARE

    if f.phase is Phase.PREPARING:
        since = f.preparing_since or f.prepare_start
        late = now >= since + spawn_timeout
        if f.failure_reported:
            return Act.FAIL_REPORTED  # the hub may not notice the server's end for a long while
        if f.task is Task.PREPARE:
            return Act.TIMEOUT if late else Act.NOTHING
        if view is ServerState.READY:
            return Act.AVAILABLE
        if late:
            return Act.TIMEOUT
        if view is ServerState.PENDING:
            return Act.FOLLOW
        if view in (ServerState.UNKNOWN, ServerState.STOPPING):
            return Act.NOTHING  # ask again; or an old server is still stopping
        if not f.user_owner:
            return Act.FAIL_SERVICE
        if not f.can_start:
            return Act.FAIL_SETUP
        return Act.NOTHING if waiting else Act.START  # absent, or stopped after a failed start

    if f.phase in (Phase.AVAILABLE, Phase.RUNNING):
        if now >= f.end:
            return Act.RELEASE
        if f.hub_restarted:  # its server may have stopped with the hub, not by a person
            if view in (ServerState.ABSENT, ServerState.STOPPED):
                return Act.RESTART if f.user_owner and f.can_start else Act.VANISHED
            return Act.KEEP if view is ServerState.READY else Act.NOTHING
        if view in (ServerState.ABSENT, ServerState.STOPPED):
            # ended by the platform with a reason (a batch job Slurm killed): FAILED; else stopped
            # by its owner or an admin: the session ends
            return Act.FAIL_REPORTED if f.failure_reported else Act.VANISHED
        if (
            f.phase is Phase.AVAILABLE
            and view is ServerState.READY
            and f.server.last_activity is not None
            and f.ready_at is not None
            and f.server.last_activity > f.ready_at
        ):
            return Act.RUNNING
        return Act.NOTHING

    if f.phase is Phase.RELEASING:
        if view is ServerState.ABSENT:
            return Act.COMPLETE
        if waiting or view in (ServerState.UNKNOWN, ServerState.STOPPING):
            return Act.NOTHING
        return Act.STOP  # ready, pending or stopped-not-removed: stop and remove it
    return Act.NOTHING


def needs_server(f: Facts) -> bool:
    """Whether :func:`decide` would use the hub's view of the server (so it is worth asking)."""
    if f.task is not Task.NONE or not f.has_server:
        return False
    if f.phase.is_terminal:
        return not f.closed
    return f.phase in WITH_SERVER


# ---- reading a session ----------------------------------------------------------------------------


def newest(record: SessionRecord, *kinds: str) -> Message | None:
    for message in reversed(record.messages):
        if message.kind in kinds:
            return message
    return None


def _position(record: SessionRecord, *kinds: str) -> int:
    """The index of the newest message of ``kinds``, -1 when there is none."""
    for index in range(len(record.messages) - 1, -1, -1):
        if record.messages[index].kind in kinds:
            return index
    return -1


def hub_restarted(record: SessionRecord) -> bool:
    """Whether the service marked the session after a hub restart and nothing since dealt with it
    (no start, ready server or note that the server kept running came after the mark)."""
    return _position(record, HUB_RESTARTED) > _position(record, *AFTER_RESTART)


def facts(
    record: SessionRecord,
    *,
    can_start: bool,
    task: Task = Task.NONE,
    server: ServerView = UNKNOWN,
    retry_at: datetime | None = None,
    ready_at: datetime | None = None,
) -> Facts:
    """The facts about a session. A ready time the driver kept in memory wins over the one in the
    session's messages (which is to the second, so it counts as the end of that second)."""
    preparing = newest(record, PREPARING, RESTARTING)
    ready = newest(record, READY)
    return Facts(
        phase=record.phase,
        user_owner=is_user(record.owner),
        can_start=can_start,
        prepare_start=record.offer.prepare_start,
        end=record.offer.end,
        has_server=record.server_name is not None,
        closed=newest(record, *CLOSED) is not None,
        preparing_since=preparing.time if preparing is not None else None,
        ready_at=ready_at
        or (ready.time + STORED_TIME_STEP if ready is not None and ready.time is not None else None),
        task=task,
        server=server,
        retry_at=retry_at,
        failure_reported=reported_failure(record) is not None,
        hub_restarted=hub_restarted(record),
    )


def start_time(record: SessionRecord) -> datetime | None:
    """When the latest start of the session's server was asked for (else when preparing began)."""
    started = newest(record, STARTING, PREPARING, RESTARTING)
    return started.time if started is not None else None


def reported_failure(record: SessionRecord) -> Message | None:
    """The failure the preload reported during the latest start, if it did."""
    reported = newest(record, REPORT_FAILED)
    since = start_time(record)
    if reported is None or (since is not None and reported.time is not None and reported.time < since):
        return None
    return reported


# ---- what the hub is asked to start ---------------------------------------------------------------


def launch_spec(record: SessionRecord, server_name: str) -> LaunchSpec:
    """The LaunchSpec of a session: the offer's resources and the request's notebook and data."""
    req, offer = record.request, record.offer
    exe = req.executable
    notebook = exe.location if exe.kind == K.JUPYTER_NOTEBOOK and exe.location else None
    requirements = None
    if exe.kind == K.JUPYTER_NOTEBOOK and exe.requirements:
        requirements = urljoin(notebook, exe.requirements) if notebook else exe.requirements
    data = tuple(
        DataItem(name=d.name or f"data-{i}", location=d.location)
        for i, d in enumerate(req.data)
        if d.kind == K.SIMPLE_DATA and d.location
    )
    if offer.data:  # the offer placed every data resource (issue 6): local links and downloads
        data = tuple(DataItem(p.name, p.location, p.mode, p.mount, p.source, p.size, p.seconds,
                              p.collection) for p in offer.data if p.mode in ("local", "stage"))
    return LaunchSpec(
        session=record.uuid,
        owner=hub_name(record.owner),
        server_name=server_name,
        profile=offer.profile,
        cores=offer.cores,
        memory=offer.memory,
        end=msg.format_time(offer.end),
        accelerators={str(k): int(v) for k, v in dict(offer.accelerators).items()},
        notebook=notebook,
        requirements=requirements,
        data=data,
        image=offer.image,
        options={str(k): str(v) for k, v in dict(offer.options).items()},
    )


# ---- the connector of a ready server --------------------------------------------------------------


def notebook_location(server_url: str, spec: LaunchSpec) -> str:
    """Where the session opens: the server's URL plus the default URL the spawner hook gave it
    (``lab/tree/<notebook path>``, or ``lab`` for a plain session)."""
    return server_url.rstrip("/") + default_url_for(spec)


def connector(location: str, status: str = "AVAILABLE") -> dict[str, Any]:
    """The session's connector. A location that is a path is made absolute when rendered."""
    scheme = urlparse(location).scheme
    return {
        "kind": CONNECTOR_KIND,
        "status": status,
        "protocol": "HTTPS" if scheme == "https" else "HTTP",
        "location": location,
    }


def finished(connectors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The connectors of a session whose server is gone."""
    return [{**c, "status": "FINISHED"} for c in connectors]


def preparing(connectors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The connectors of a session whose server is being started again."""
    return [{**c, "status": "PREPARING"} for c in connectors]


# ---- messages ------------------------------------------------------------------------------------


def note(kind: str, level: str, template: str, now: datetime, **values: Any) -> Message:
    """A message stamped with the driver's clock."""
    return msg.make(kind, level, template, at=now, **values)


def failure_reason(record: SessionRecord, hub_message: str | None = None) -> str:
    """Why a start failed: the failure the preload reported during the latest start, else the hub's
    message."""
    reported = reported_failure(record)
    if reported is not None:
        return reported.message
    return hub_message or "the hub gave no reason"


# ---- the preload's reports ------------------------------------------------------------------------

MAX_REPORT_LENGTH = 2000


class ReportError(ValueError):
    """A report body that is not ``{level, message, failed}``; ``str()`` says what is wrong."""


def parse_report(doc: Any, now: datetime) -> Message:
    """A progress report from a session's preload, ``{level?, message, failed?}``, as a session
    message. A failed report is an ERROR; a long message is cut."""
    if not isinstance(doc, dict):
        raise ReportError("A report is an object: {level, message, failed}.")
    text = doc.get("message")
    if not isinstance(text, str) or not text.strip():
        raise ReportError("message must be a non-empty string.")
    failed = doc.get("failed", False)
    if not isinstance(failed, bool):
        raise ReportError("failed must be true or false.")
    level = doc.get("level", "INFO")
    level = {"WARNING": "WARN", "CRITICAL": "ERROR"}.get(str(level).upper(), str(level).upper())
    if level not in msg.LEVELS:
        raise ReportError(f"level must be one of {', '.join(msg.LEVELS)}.")
    text = text.strip()
    if len(text) > MAX_REPORT_LENGTH:
        text = text[: MAX_REPORT_LENGTH - 1] + "…"
    values = {"message": text}
    if failed:
        return note(REPORT_FAILED, "ERROR", "${message}", now, **values)
    return note(REPORT, level, "${message}", now, **values)

