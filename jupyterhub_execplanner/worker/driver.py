"""The phase driver: after a client accepts an offer, the service does the work.

One owner of the phases after acceptance. A loop wakes when a session is accepted or cancelled (a
manager listener) and every ``interval`` seconds; each time, it reads every session in flight (and
every ended session that may still have a server) from the database, asks the hub about their
servers, and carries out what :func:`.decide.decide` says. Starting a server, following its
progress and stopping it run as one asyncio task per session, so the loop never waits on the hub;
at most ``max_spawns`` starts run at once.

Nothing lives only in memory: the phase, the server name and the messages are in the database, and
the hub knows the servers, so after a restart the first pass reconciles every session with the
hub's real state. A session's server name is derived from its uuid, so a server is never started
twice for one session.

Each start gets a new launch nonce, recorded (:class:`~..sessions.launches.LaunchStore`) before the
hub is asked, which the hub's pre-spawn hook claims once. When the service starts and finds a new hub
boot id (``$EXECPLANNER_HUB_BOOT``), the hub has restarted since: sessions whose server may have
stopped with it are marked, and :func:`.decide.decide` starts them again instead of ending them.

A session the driver cannot process (an exception) is backed off (:mod:`.failures`) and, after a few
failures in a row, FAILED with the reason; the other sessions are driven meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from ..launch import HUB_BOOT_ENV, issue, server_name_for, to_user_options
from ..model.offer import SessionRecord
from ..model.phases import Phase, TransitionError
from ..owners import hub_name
from ..sessions.launches import LaunchStore
from ..sessions.manager import NotFound, SessionManager
from ..sessions.store import StoreUnavailable
from . import decide as D
from .decide import Act, ServerState, ServerView, Task
from .hubapi import HubAPI, HubAPIError
from .recovery import Backoff, give_up, log_failure, mark_hub_restart, read_sessions

log = logging.getLogger(__name__)

RETRY_AFTER = timedelta(seconds=5)  # after the hub was busy or did not answer
STOP_WAIT = 120.0  # seconds to wait for a stopped server to disappear from the hub
POST_WAIT = 5.0  # seconds a stop waits for the hub to answer the start it interrupts


class PhaseDriver:
    def __init__(
        self,
        manager: SessionManager,
        hub: HubAPI | None,
        secret: str | None,
        *,
        interval: float = 1.0,
        max_spawns: int = 4,
        spawn_timeout: float = 300.0,
        logger: logging.Logger | logging.LoggerAdapter[Any] | None = None,
        launches: LaunchStore | None = None,
        hub_boot: str | None = None,
        backoff: Backoff | None = None,
    ):
        """``launches`` default to the table on the manager's database; ``hub_boot`` to
        ``$EXECPLANNER_HUB_BOOT`` (given by the hub to a managed service)."""
        self.manager = manager
        self.hub = hub
        self.secret = secret
        self.launches = launches if launches is not None else LaunchStore(manager.store.engine)
        self.hub_boot = hub_boot if hub_boot is not None else os.environ.get(HUB_BOOT_ENV) or None
        self.backoff = backoff if backoff is not None else Backoff()
        self.interval = interval
        self.spawn_timeout = timedelta(seconds=spawn_timeout)
        self.log = logger or log
        self._slots = asyncio.Semaphore(max_spawns)
        self._tasks: dict[str, tuple[Task, asyncio.Task[None]]] = {}
        self._posts: dict[str, asyncio.Future[int]] = {}  # starts the hub is answering
        self._retry: dict[str, datetime] = {}
        self._ready_at: dict[str, datetime] = {}  # to the microsecond, unlike the stored messages
        self._watch: set[str] = set()  # ended sessions whose server may still need stopping
        self._wake = asyncio.Event()
        self._next_due: datetime | None = None  # the earliest preparing start of a waiting session
        self._loop: asyncio.Task[None] | None = None

    @property
    def can_start(self) -> bool:
        return bool(self.secret) and self.hub is not None

    def now(self) -> datetime:
        return self.manager.clock()

    # -- life cycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        """Note a hub restart, reconcile with the hub, then keep driving (in a background task)."""
        self.manager.listeners.append(self._on_change)
        try:
            self.note_hub_boot()
        except Exception:  # the database: a later start of the service looks again
            self.log.exception("Could not check whether the hub restarted")
        try:
            self._watch.update(r.uuid for r in self.manager.ended_with_server())
        except Exception:  # an unreadable session
            self.log.exception("Could not read the ended sessions that may still have a server")
        self._loop = asyncio.create_task(self._run(), name="execplanner-phase-driver")

    def note_hub_boot(self) -> None:
        """Mark the sessions whose server may have stopped with the hub, if it restarted."""
        marked = mark_hub_restart(self.manager, self.launches, self.hub_boot, self.now())
        if marked:
            self.log.info("The hub restarted: %d session(s) get their server back if it stopped", marked)

    async def stop(self) -> None:
        """Stop driving. Servers are left as they are: the next start reconciles with them."""
        if self._on_change in self.manager.listeners:
            self.manager.listeners.remove(self._on_change)
        tasks = [t for _, t in self._tasks.values()] + list(self._posts.values())
        if self._loop is not None:
            tasks.append(self._loop)
        for task in tasks:
            task.cancel()
        _, stuck = await asyncio.wait(tasks, timeout=5.0) if tasks else (set(), set())
        if stuck:  # cancelled, and not done yet: no longer waited for
            self.log.warning("%d of the phase driver's tasks did not stop within 5 s", len(stuck))
        self._tasks.clear()
        if self.hub is not None:
            await asyncio.wait_for(self.hub.close(), 5.0)

    def _on_change(self, record: SessionRecord, previous: Phase) -> None:
        if record.phase in (Phase.CANCELLED, Phase.FAILED):
            self._watch.add(record.uuid)
        if record.phase in (Phase.ACCEPTED, Phase.CANCELLED):
            self._wake.set()

    async def _run(self) -> None:
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                self.log.exception("The phase driver's pass failed; trying again")
            try:
                await asyncio.wait_for(self._wake.wait(), self._sleep_for())
            except asyncio.TimeoutError:
                pass
            self._wake.clear()

    def _sleep_for(self) -> float:
        """Until the next pass: the interval, or less when a waiting session is due sooner."""
        if self._next_due is None:
            return self.interval
        due = (self._next_due - D.EARLY - self.manager.clock()).total_seconds()
        return min(self.interval, max(0.0, due))

    # -- one pass -------------------------------------------------------------------------------

    async def tick(self) -> None:
        """Look at every session the driver owns once, and act. A session that fails is backed off
        (and, after a few failures, FAILED) without stopping the others."""
        skip, failed = self.backoff.waiting, self._failed
        records = {r.uuid: r for r in self.manager.in_flight() if not skip(r.uuid)}
        records.update(read_sessions(self.manager, self._watch - set(records), skip, failed))
        first: dict[str, D.Facts] = {}
        for uuid, record in records.items():
            try:
                first[uuid] = self._facts(record)
            except Exception as e:
                self._failed(uuid, e)
        now = self.manager.clock()
        starts = [f.prepare_start for f in first.values()
                  if f.phase in (Phase.ACCEPTED, Phase.WAITING) and f.prepare_start > now]
        self._next_due = min(starts, default=None)
        asked = [uuid for uuid, f in first.items() if D.needs_server(f)]
        views = await asyncio.gather(*(self._look(records[u]) for u in asked))
        servers = dict(zip(asked, views, strict=True))
        for uuid in first:
            try:
                again = self.manager.record(uuid)  # again: tasks may have changed it meanwhile
                if again is not None:
                    self._drive(again, servers.get(uuid, D.UNKNOWN))
            except Exception as e:
                self._failed(uuid, e)

    async def _look(self, record: SessionRecord) -> ServerView:
        if self.hub is None or record.server_name is None:
            return D.UNKNOWN
        user = hub_name(record.owner)
        try:
            return D.server_view(await self.hub.get_server(user, record.server_name))
        except HubAPIError as e:
            self.log.warning("Could not read server %s/%s: %s", user, record.server_name, e)
            return D.UNKNOWN

    def _failed(self, uuid: str, error: BaseException) -> None:
        """Count a failure to process a session: back off, and give up after a few in a row."""
        failure = self.backoff.failed(uuid)
        log_failure(self.log, uuid, error, failure)
        if failure.give_up and not isinstance(error, StoreUnavailable):  # the database is not the
            give_up(self.manager, self.log, uuid, error, failure, self._fail)  # session's fault

    def _facts(self, record: SessionRecord, server: ServerView = D.UNKNOWN) -> D.Facts:
        running = self._tasks.get(record.uuid)
        task = running[0] if running is not None and not running[1].done() else Task.NONE
        return D.facts(
            record,
            can_start=self.can_start,
            task=task,
            server=server,
            retry_at=self._retry.get(record.uuid),
            ready_at=self._ready_at.get(record.uuid),
        )

    def _drive(self, record: SessionRecord, server: ServerView) -> None:
        """Decide and act until there is nothing more to do now (or a task took over)."""
        for _ in range(5):
            act = D.decide(self._facts(record, server), self.now(), self.spawn_timeout)
            if act is Act.NOTHING:
                if record.uuid not in self._tasks:
                    self.backoff.succeeded(record.uuid)  # settled: nothing failing
                    if record.phase.is_terminal:
                        f = self._facts(record, server)
                        if f.closed or not f.has_server:
                            self._forget(record.uuid)
                return
            self.log.debug("Session %s in %s: %s", record.uuid, record.phase.value, act.value)
            try:
                changed = self._act(act, record, server)
            except (TransitionError, NotFound) as e:
                self.log.info("Session %s changed meanwhile (%s); looking again next pass", record.uuid, e)
                return
            if changed is None:
                return
            record = changed

    def _forget(self, uuid: str) -> None:
        self._watch.discard(uuid)
        self._retry.pop(uuid, None)
        self._ready_at.pop(uuid, None)

    def _act(self, act: Act, record: SessionRecord, server: ServerView) -> SessionRecord | None:
        """Carry out ``act``; the changed record when the driver should decide again at once."""
        now, uuid = self.now(), record.uuid
        advance = self.manager.advance
        if act is Act.WAIT:
            return advance(uuid, Phase.WAITING, D.note(
                D.WAITING, "INFO", "Waiting: the server starts at ${time}, to be ready at ${start}.",
                now, time=record.offer.prepare_start, start=record.offer.start))
        if act is Act.PREPARE:
            return advance(uuid, Phase.PREPARING, D.note(
                D.PREPARING, "INFO", "Preparing the session, to be available at ${start}.",
                now, start=record.offer.start))
        if act is Act.START:
            name = record.server_name or server_name_for(uuid)
            record = advance(uuid, Phase.PREPARING, D.note(
                D.STARTING, "INFO", "Starting server ${server} for ${user}.", now,
                server=name, user=hub_name(record.owner)), server_name=name)
            self._spawn(record, start=True)
            return None
        if act is Act.FOLLOW:
            self.log.info("Following the start of %s/%s", hub_name(record.owner), record.server_name)
            self._spawn(record, start=False)
            return None
        if act is Act.AVAILABLE:
            self._available(uuid, server.url or "")
            return None
        if act is Act.RUNNING:
            return advance(uuid, Phase.RUNNING, D.note(
                D.ACTIVE, "INFO", "The server is in use (activity at ${time}).", now,
                time=server.last_activity or now))
        if act is Act.RELEASE:
            record = advance(uuid, Phase.RELEASING, D.note(
                D.RELEASING, "INFO", "The offered time ended at ${end}: stopping server ${server}.",
                now, end=record.offer.end, server=record.server_name or ""),
                connectors=D.finished(record.connectors))
            self._stopper(record, release=True)
            return None
        if act is Act.STOP:
            self._stopper(record, release=True)
            return None
        if act is Act.COMPLETE:
            self._forget(uuid)
            return advance(uuid, Phase.COMPLETED, D.note(
                D.STOPPED, "INFO", "Server ${server} stopped; the session is complete.", now,
                server=record.server_name or ""), connectors=D.finished(record.connectors))
        if act is Act.VANISHED:
            return advance(uuid, Phase.RELEASING, D.note(
                D.RELEASING, "WARN", "Server ${server} was stopped outside the broker.", now,
                server=record.server_name or ""), connectors=D.finished(record.connectors))
        if act is Act.RESTART:
            return advance(uuid, Phase.PREPARING, D.note(
                D.RESTARTING, "WARN", "Server ${server} stopped when the hub restarted: starting it "
                "again (the session ends at ${end}).", now, server=record.server_name or "",
                end=record.offer.end), connectors=D.preparing(record.connectors))
        if act is Act.KEEP:
            return advance(uuid, record.phase, D.note(
                D.KEPT, "INFO", "Server ${server} kept running through the hub's restart.", now,
                server=record.server_name or ""))
        if act is Act.FAIL_SERVICE:
            return self._fail(uuid, "The session belongs to ${owner}, a service: only a hub user can "
                              "have a notebook server. Ask for offers with a user's token.",
                              owner=record.owner)
        if act is Act.FAIL_SETUP:
            return self._fail(uuid, "This broker is not set up to start servers (the hub gave it no "
                              "launch secret or API token); ask the hub's admin to enable it with "
                              "setup_execplanner.")
        if act is Act.FAIL_REPORTED:
            started = record.phase in (Phase.AVAILABLE, Phase.RUNNING)
            return self._fail(uuid, "Server ${server} " + ("ended" if started else "did not start")
                              + ": ${reason}", server=record.server_name or "",
                              reason=D.failure_reason(record))
        if act is Act.TIMEOUT:
            return self._fail(uuid, "Server ${server} was not ready ${seconds} s after preparing "
                              "started; it is being stopped.", server=record.server_name or "",
                              seconds=int(self.spawn_timeout.total_seconds()))
        if act is Act.CLEAN_UP:
            self._stopper(record, release=False)
            return None
        if act is Act.CLOSE:
            self._forget(uuid)
            return advance(uuid, record.phase, D.note(
                D.NO_SERVER, "DEBUG", "Server ${server} is not running.", now,
                server=record.server_name or ""), connectors=D.finished(record.connectors))
        raise AssertionError(f"unhandled {act}")

    def _fail(self, uuid: str, template: str, **values: Any) -> SessionRecord:
        return self.manager.advance(
            uuid, Phase.FAILED, D.note(D.FAILED, "ERROR", template, self.now(), **values)
        )

    # -- tasks ----------------------------------------------------------------------------------

    def _task(self, uuid: str, kind: Task, work: Callable[[], Any]) -> None:
        async def run() -> None:
            try:
                await work()
            except asyncio.CancelledError:
                raise
            except (TransitionError, NotFound) as e:
                self.log.info("Session %s changed meanwhile: %s", uuid, e)
            except Exception as e:
                self._failed(uuid, e)
            else:
                self.backoff.succeeded(uuid)
            finally:
                current = self._tasks.get(uuid)
                if current is not None and current[1] is asyncio.current_task():
                    del self._tasks[uuid]
                self._wake.set()

        self._tasks[uuid] = (kind, asyncio.create_task(run(), name=f"execplanner-{kind.value}-{uuid}"))

    def _spawn(self, record: SessionRecord, *, start: bool) -> None:
        self._task(record.uuid, Task.PREPARE, lambda: self._prepare(record.uuid, start))

    def _stopper(self, record: SessionRecord, *, release: bool) -> None:
        previous = self._tasks.get(record.uuid)
        self._task(record.uuid, Task.STOP, lambda: self._stop(record.uuid, release, previous))

    async def _prepare(self, uuid: str, start: bool) -> None:
        """Start the session's server (or follow a start under way) until it is ready or failed."""
        assert self.hub is not None
        async with self._slots:
            record = self.manager.record(uuid)
            if record is None or record.phase is not Phase.PREPARING or not record.server_name:
                return
            owner, name = hub_name(record.owner), record.server_name
            if start:
                assert self.secret is not None
                spec = issue(D.launch_spec(record, name))  # a new nonce, valid for a while (wall clock)
                self.launches.issue(uuid, spec.nonce, self.now())  # before the hub can claim it
                options = to_user_options(spec, self.secret)
                post = asyncio.ensure_future(
                    self.hub.start_server(owner, name, display_name=record.name, user_options=options)
                )
                self._posts[uuid] = post
                try:
                    # shielded: a cancel must not leave the hub starting a server nobody knows of
                    await asyncio.shield(post)
                except HubAPIError as e:
                    if not self._start_refused(uuid, e):
                        return
                finally:
                    if post.done():
                        self._posts.pop(uuid, None)
            ready_url, failure = await self._follow(uuid, owner, name)
            try:
                view = D.server_view(await self.hub.get_server(owner, name))
            except HubAPIError as e:
                self.log.warning("Could not read server %s/%s: %s", owner, name, e)
                return  # the next pass looks again
            if view.state is ServerState.READY:
                self._available(uuid, view.url or ready_url or "")
            elif failure is not None or view.state in (ServerState.ABSENT, ServerState.STOPPED):
                reason = D.failure_reason(self.manager.record(uuid) or record, failure)
                self._fail(uuid, "Server ${server} did not start: ${reason}", server=name, reason=reason)

    def _start_refused(self, uuid: str, error: HubAPIError) -> bool:
        """Handle a start the hub did not take. True when a server is there to follow anyway."""
        if error.status == 400 and "already running" in error.message:
            return True
        if error.transient or (error.status == 400 and "pending" in error.message):
            self._retry[uuid] = self.now() + RETRY_AFTER
            self.manager.report(uuid, D.note(
                D.RETRY, "WARN", "The hub could not start the server yet (${reason}); trying again.",
                self.now(), reason=error.message))
            return False
        record = self.manager.record(uuid)
        reason = D.failure_reason(record, error.message) if record is not None else error.message
        self._fail(uuid, "The hub did not start the server: ${reason}", reason=reason)
        return False

    async def _follow(self, uuid: str, owner: str, name: str) -> tuple[str | None, str | None]:
        """Copy the hub's progress messages to the session; (ready url, failure message)."""
        assert self.hub is not None
        last = None
        try:
            async for event in self.hub.progress(owner, name):
                if event.get("ready"):
                    return str(event.get("url") or ""), None
                text = str(event.get("message") or "").strip()
                if event.get("failed"):
                    return None, text or "the spawn failed"
                if text and text != last:
                    last = text
                    self.manager.report(uuid, D.note(D.HUB_PROGRESS, "INFO", "${message}", self.now(),
                                                     message=text[: D.MAX_REPORT_LENGTH]))
        except HubAPIError as e:
            self.log.info("Progress of %s/%s: %s", owner, name, e)
        return None, None

    def _available(self, uuid: str, server_url: str) -> None:
        record = self.manager.record(uuid)
        if record is None or record.phase is not Phase.PREPARING or not record.server_name:
            return
        server_url = server_url or f"/user/{hub_name(record.owner)}/{record.server_name}/"
        location = D.notebook_location(server_url, D.launch_spec(record, record.server_name))
        now = self.now()
        self._ready_at[uuid] = now
        self._retry.pop(uuid, None)
        self.manager.advance(
            uuid,
            Phase.AVAILABLE,
            D.note(D.READY, "INFO", "Server ${server} is ready: ${location}", now,
                   server=record.server_name, location=location),
            connectors=[D.connector(location)],
        )

    async def _stop(
        self, uuid: str, release: bool, previous: tuple[Task, asyncio.Task[None]] | None
    ) -> None:
        """Stop and remove the session's server; then COMPLETED (release) or a note (ended)."""
        if self.hub is None:
            return
        if previous is not None and previous[0] is Task.PREPARE:
            previous[1].cancel()
            await asyncio.gather(previous[1], return_exceptions=True)
        post = self._posts.pop(uuid, None)
        if post is not None:  # let the hub take the start first, so that the stop finds the server
            await asyncio.wait({post}, timeout=POST_WAIT)
        record = self.manager.record(uuid)
        if record is None or not record.server_name:
            return
        owner, name = hub_name(record.owner), record.server_name
        try:
            await self.hub.stop_server(owner, name, remove=True)
        except HubAPIError as e:
            if e.status != 404:
                self._stop_failed(record, release, e)
                return
        loop = asyncio.get_running_loop()
        deadline, stopped_polls = loop.time() + STOP_WAIT, 0
        while True:
            try:
                view = D.server_view(await self.hub.get_server(owner, name))
            except HubAPIError as e:
                view = D.UNKNOWN if e.transient else D.ABSENT
            if view.state is ServerState.ABSENT:
                break
            stopped_polls = stopped_polls + 1 if view.state is ServerState.STOPPED else 0
            if stopped_polls >= 4:  # stopped but not removed (the removal was lost): ask again
                with contextlib.suppress(HubAPIError):
                    await self.hub.stop_server(owner, name, remove=True)
                stopped_polls = 0
            if loop.time() > deadline:
                self.log.warning("Server %s/%s is still there after %ds", owner, name, STOP_WAIT)
                return  # the next pass tries again
            await asyncio.sleep(0.5)
        now = self.now()
        self._forget(uuid)
        current = self.manager.record(uuid)
        if current is None:
            return
        note = D.note(D.STOPPED, "INFO", "Server ${server} stopped.", now, server=name)
        if release:
            self.manager.advance(uuid, Phase.COMPLETED, note,
                                 connectors=D.finished(current.connectors))
        elif current.phase.is_terminal:
            self.manager.advance(uuid, current.phase, note, connectors=D.finished(current.connectors))

    def _stop_failed(self, record: SessionRecord, release: bool, error: HubAPIError) -> None:
        now = self.now()
        if error.transient:
            self._retry[record.uuid] = now + RETRY_AFTER
            self.log.warning("Could not stop %s/%s yet: %s", hub_name(record.owner), record.server_name,
                             error)
            return
        note = D.note(D.STOP_FAILED, "ERROR", "Could not stop server ${server}: ${reason}", now,
                      server=record.server_name or "", reason=error.message)
        self._forget(record.uuid)
        if release:
            self.manager.advance(record.uuid, Phase.FAILED, note)
        else:
            self.manager.advance(record.uuid, record.phase, note)
