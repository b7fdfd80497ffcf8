"""End to end: no session is lost when the service is killed (SIGKILL) in each phase of a session's
life, or when its database is read-only for a while. A real hub restarts its managed service; every
session then ends where it would have without the fault (here: AVAILABLE until cancelled, COMPLETED
at its end, AVAILABLE on time after waiting), with one server each, and none FAILED.

(PREPARING is killed in ``test_sessions_run.py``; a hub restart in ``test_hub_restart.py``.)"""

from __future__ import annotations

import os
import signal
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from faults import read_only_database
from hubprocess import RealHub
from test_sessions_run import (
    FAST_SERVICE_RESTART,
    SETTINGS,
    Sessions,
    kinds,
    plain,
    service_pid,
    wait_for,
)

from jupyterhub_execplanner import launch

pytestmark = pytest.mark.e2e

SECRET = "nothing-lost-" + "6" * 51
# stopping a server takes 4 s more, so a session stays RELEASING long enough to kill the service there
SLOW_STOP = """
import asyncio as _asyncio

async def _slow_stop(spawner):
    await _asyncio.sleep(4)

c.Spawner.post_stop_hook = _slow_stop
"""


def kill_service(hub: RealHub) -> None:
    pid = service_pid(hub)
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: service_pid(hub) not in (None, pid), 30, "the hub to restart the service")
    hub.wait_for(hub.broker, 30)


def phase_now(sessions: Sessions, uuid: str) -> str:
    return sessions.get(uuid)["phase"]


def named_servers(hub: RealHub, user: str) -> list[str]:
    model = hub.api("GET", f"users/{user}", params={"include_stopped_servers": True}).json()
    return [name for name in model["servers"] if name]


def test_no_session_is_lost_to_a_killed_service_or_a_read_only_database(tmp_path: Path) -> None:
    settings = {**SETTINGS, "limit_sessions": 0}
    hub = RealHub.start(tmp_path / "hub", settings=settings, extra_config=FAST_SERVICE_RESTART + SLOW_STOP,
                        env={launch.SECRET_ENV: SECRET})
    try:
        alice, bob, carol = (Sessions(hub, name) for name in ("alice", "bob", "carol"))
        # alice starts after bob's one-minute session has ended (step 2), so step 3 covers her start
        later = datetime.now(timezone.utc) + timedelta(seconds=150)
        waiting = alice.accept_new(plain("PT5M", start=later))["meta"]["uuid"]
        short = bob.accept_new(plain("PT1M"))["meta"]["uuid"]
        long = carol.accept_new(plain("PT20M"))["meta"]["uuid"]
        alice.wait_phase(waiting, {"WAITING"}, 20)
        bob.wait_phase(short, {"AVAILABLE", "RUNNING"}, 60)
        carol.wait_phase(long, {"AVAILABLE", "RUNNING"}, 60)

        # 1. killed while one session WAITS and two are AVAILABLE
        kill_service(hub)
        assert phase_now(alice, waiting) == "WAITING"
        assert phase_now(bob, short) in ("AVAILABLE", "RUNNING")
        assert phase_now(carol, long) in ("AVAILABLE", "RUNNING")
        assert carol.server(long).json()["ready"], "a running session's server was left running"

        # 2. killed while a session is RELEASING (its one minute is over, its server stopping)
        wait_for(lambda: phase_now(bob, short) == "RELEASING", 90, "bob's session to be releasing",
                 interval=0.1)
        kill_service(hub)
        bob.wait_phase(short, {"COMPLETED"}, 60)

        # 3. the database read-only across the waiting session's start: it starts late, not never
        due = later - timedelta(seconds=SETTINGS["prepare_time"])
        assert phase_now(alice, waiting) == "WAITING"
        assert datetime.now(timezone.utc) < due - timedelta(seconds=3), "step 2 took too long"
        time.sleep(max(0.0, (due - datetime.now(timezone.utc)).total_seconds() - 3))
        with read_only_database(hub.folder / "execplanner.sqlite"):
            time.sleep(10)
            assert carol.broker.get(f"sessions/{long}").status_code == 200, "reads still work"
        session = alice.wait_phase(waiting, {"AVAILABLE", "RUNNING"}, 90)
        assert "urn:execplanner:failed" not in kinds(session)

        # every session is where it should be, with one server each, and none FAILED
        assert phase_now(carol, long) in ("AVAILABLE", "RUNNING")
        cancelled = carol.broker.accept(long, "CANCELLED")
        assert cancelled.status_code == 200, cancelled.text
        carol.wait_phase(long, {"CANCELLED"}, 10)
        wait_for(lambda: carol.server(long).status_code == 404, 60, "carol's server to be removed")
        assert named_servers(hub, "alice") == [launch.server_name_for(waiting)]
        for who, uuid in ((alice, waiting), (bob, short), (carol, long)):
            assert kinds(who.get(uuid)).count("urn:execplanner:starting-server") == 1, "started once"
        log = hub.log_tail(5000)
        assert "waits for the database" in log, "the read-only database was met while driving"
        assert "sessions.store.StoreUnavailable" not in log, "a database fault is a warning, not a trace"
    finally:
        hub.stop()
