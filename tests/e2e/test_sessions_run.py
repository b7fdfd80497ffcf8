"""End to end: accepted sessions become real named servers of a real hub, driven by the broker's
phase driver, and stop when they end, are cancelled, or when the service is killed and comes back."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
from brokers import Broker
from hubprocess import RealHub
from loopback import Loopback
from requests_lib import KINDS

from jupyterhub_execplanner import launch

pytestmark = pytest.mark.e2e

SECRET = "e2e-" + "0" * 60
PROFILE = [{"display_name": "Small", "slug": "small",
            "kubespawner_override": {"cpu_guarantee": 1, "cpu_limit": 1, "mem_guarantee": "1G",
                                     "mem_limit": "1G"}}]
SETTINGS: dict[str, Any] = {
    "profiles": PROFILE,
    "capacity": {"default": {"cores": 8, "memory": 16}},
    "offer_expiry": 60,
    "prepare_time": 5,
    "max_offers": 1,
    "fetch_allowed_hosts": ["127.0.0.0/8"],  # the notebooks come from a loopback site
}
ROBOT_TOKEN = "robot-" + "1" * 32
# the hub reads the proxy's activity every 2 s (default 300), so RUNNING shows quickly; a service
# "robot" may use the broker (its sessions cannot have servers)
RUN_CONFIG = f"""
c.JupyterHub.last_activity_interval = 2
c.JupyterHub.services.append({{"name": "robot", "api_token": {ROBOT_TOKEN!r}}})
c.JupyterHub.load_roles.append({{"name": "robot", "services": ["robot"], "scopes": [
    "custom:execplanner:request", "custom:execplanner:sessions", "access:services!service=execplanner"]}})
"""


def plain(duration: str = "PT10M", start: datetime | None = None, notebook: str | None = None
          ) -> dict[str, Any]:
    """A jupyter-notebook request; without a notebook, a plain Jupyter session."""
    requested: dict[str, Any] = {"duration": duration}
    if start is not None:
        requested["start"] = start.strftime("%Y-%m-%dT%H:%M:%SZ")
    executable: dict[str, Any] = {"kind": f"{KINDS}/executable/jupyter-notebook.yaml",
                                  "meta": {"name": "plain"}}
    if notebook is not None:
        executable["location"] = notebook
    return {
        "executable": executable,
        "compute": {"kind": f"{KINDS}/compute/simple-compute-resource.yaml",
                    "cores": {"min": 1}, "memory": {"min": 1}},
        "schedule": {"requested": requested},
    }


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def wait_for(check: Callable[[], Any], timeout: float, what: str, interval: float = 0.25) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def poll(get: Callable[[], Any], done: Callable[[Any], bool], timeout: float, what: str) -> Any:
    """``get()`` again and again until ``done`` says yes; the last value."""
    return wait_for(lambda: (value := get(), done(value))[1] and value, timeout, what)


class Sessions:
    """A user's sessions on a hub: ask, accept, watch the phase, read the hub's server."""

    def __init__(self, hub: RealHub, user: str):
        self.hub, self.user = hub, user
        self.broker = Broker(hub.broker, hub.user_token(user))

    def accept_new(self, request: dict[str, Any]) -> dict[str, Any]:
        offerset = self.broker.post("requests", json=request).json()
        assert offerset["result"] == "YES", offerset
        offer = offerset["offers"][0]
        accepted = self.broker.accept(offer["meta"]["uuid"])
        assert accepted.status_code == 200, accepted.text
        return accepted.json()

    def get(self, uuid: str) -> dict[str, Any]:
        response = self.broker.get(f"sessions/{uuid}")
        assert response.status_code == 200, response.text
        return response.json()

    def wait_phase(self, uuid: str, phases: set[str], timeout: float, seen: list[str] | None = None
                   ) -> dict[str, Any]:
        def check() -> dict[str, Any] | None:
            session = self.get(uuid)
            if seen is not None and (not seen or seen[-1] != session["phase"]):
                seen.append(session["phase"])
            assert session["phase"] != "FAILED" or "FAILED" in phases, session["meta"]["messages"]
            return session if session["phase"] in phases else None

        try:
            return wait_for(check, timeout, f"session {uuid} in {phases}")
        except AssertionError as e:
            # what the session and the hub say at the timeout, not when the wait began
            last = self.get(uuid)
            said = [f"{m.get('level')} {m.get('message')}" for m in last["meta"]["messages"]]
            raise AssertionError(f"{e}\nits phase: {last['phase']}, schedule: {last.get('schedule')}"
                                 f"\nits messages: {said}\n{self.hub.log_tail(40)}") from None

    def server(self, uuid: str) -> httpx.Response:
        return self.hub.api("GET", f"users/{self.user}/servers/{launch.server_name_for(uuid)}")


def kinds(session: dict[str, Any]) -> list[str]:
    return [m["kind"] for m in session["meta"]["messages"]]


@pytest.fixture(scope="module")
def run_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealHub]:
    hub = RealHub.start(tmp_path_factory.mktemp("run-hub"), settings=SETTINGS, extra_config=RUN_CONFIG,
                        env={launch.SECRET_ENV: SECRET})
    try:
        yield hub
    finally:
        hub.stop()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loopback]:
    folder = tmp_path_factory.mktemp("site")
    notebook = {"cells": [{"cell_type": "markdown", "metadata": {}, "source": "# Hello"}],
                "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (folder / "analysis.ipynb").write_text(json.dumps(notebook))
    server = Loopback(folder)
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="module")
def early(run_hub: RealHub) -> dict[str, dict[str, Any]]:
    """Sessions that take a while, accepted first so the other tests run meanwhile: one of a minute,
    and one that starts 30 s ahead."""
    carol = Sessions(run_hub, "carol")
    minute = carol.accept_new(plain("PT1M"))
    ahead = carol.accept_new(plain("PT10M", start=datetime.now(timezone.utc) + timedelta(seconds=30)))
    waiting = carol.wait_phase(ahead["meta"]["uuid"], {"WAITING", "PREPARING", "AVAILABLE"}, 10)
    return {"minute": minute, "ahead": ahead, "ahead_first_phase": waiting}


def test_plain_session_runs_then_cancel_stops_its_server(run_hub: RealHub, early: dict) -> None:
    alice = Sessions(run_hub, "alice")
    accepted = alice.accept_new(plain())
    uuid = accepted["meta"]["uuid"]
    seen: list[str] = []
    session = alice.wait_phase(uuid, {"AVAILABLE", "RUNNING"}, 60, seen)
    assert "PREPARING" in seen or launch.server_name_for(uuid) in str(session["meta"]["messages"])
    assert {"urn:execplanner:preparing", "urn:execplanner:starting-server",
            "urn:execplanner:server-ready"} <= set(kinds(session))
    messages = " ".join(m["message"] for m in session["meta"]["messages"])
    assert "Starting server" in messages

    server = alice.server(uuid)
    assert server.status_code == 200 and server.json()["ready"], server.text
    assert server.json()["display_name"] == session["meta"]["name"]
    assert server.json()["user_options"]["execplanner_session"] == uuid

    (connector,) = session["connectors"]
    name = launch.server_name_for(uuid)
    assert connector["kind"] == "urn:execplanner:connector:jupyter"
    assert connector["status"] == "AVAILABLE" and connector["protocol"] == "HTTP"
    assert connector["location"] == f"{run_hub.url}/user/alice/{name}/lab"
    opened = httpx.get(connector["location"], headers={"Authorization": f"token {alice.broker.token}"},
                       follow_redirects=True, timeout=30)
    assert opened.status_code == 200, opened.text[:500]
    assert "/lab" in str(opened.url)

    # the hub saw the visit (through the proxy): RUNNING
    running = alice.wait_phase(uuid, {"RUNNING"}, 20)
    assert "urn:execplanner:server-active" in kinds(running)

    cancelled = alice.broker.accept(uuid, "CANCELLED")
    assert cancelled.status_code == 200 and cancelled.json()["phase"] == "CANCELLED"
    wait_for(lambda: alice.server(uuid).status_code == 404, 30, "the server to be removed")
    ended = poll(lambda: alice.get(uuid), lambda s: "urn:execplanner:server-stopped" in kinds(s), 10,
                 "the 'server stopped' message")
    assert ended["phase"] == "CANCELLED"
    assert ended["connectors"][0]["status"] == "FINISHED"


def test_notebook_session_opens_its_notebook(run_hub: RealHub, site: Loopback, early: dict) -> None:
    erin = Sessions(run_hub, "erin")
    uuid = erin.accept_new(plain(notebook=f"{site.url}/analysis.ipynb"))["meta"]["uuid"]
    session = erin.wait_phase(uuid, {"AVAILABLE", "RUNNING"}, 60)
    name = launch.server_name_for(uuid)
    path = f"execplanner/{name}/analysis.ipynb"
    assert session["connectors"][0]["location"] == f"{run_hub.url}/user/erin/{name}/lab/tree/{path}"
    assert any("fetching notebook" in m["message"] for m in session["meta"]["messages"])
    contents = httpx.get(f"{run_hub.url}/user/erin/{name}/api/contents/{path}", timeout=30,
                         headers={"Authorization": f"token {erin.broker.token}"})
    assert contents.status_code == 200, contents.text[:300]
    assert contents.json()["content"]["cells"][0]["source"] == "# Hello"
    assert erin.broker.accept(uuid, "CANCELLED").json()["phase"] == "CANCELLED"
    wait_for(lambda: erin.server(uuid).status_code == 404, 30, "the server to be removed")


def test_missing_notebook_fails_with_the_reason(run_hub: RealHub, site: Loopback, early: dict) -> None:
    erin = Sessions(run_hub, "erin")
    missing = f"{site.url}/missing.ipynb"
    uuid = erin.accept_new(plain(notebook=missing))["meta"]["uuid"]
    session = erin.wait_phase(uuid, {"FAILED"}, 60)
    (failure,) = [m for m in session["meta"]["messages"] if m["kind"] == "urn:execplanner:failed"]
    assert failure["level"] == "ERROR"
    assert "did not start" in failure["message"] and "missing.ipynb" in failure["message"], failure
    assert "404" in failure["message"], failure
    assert "Traceback" not in failure["message"]
    wait_for(lambda: erin.server(uuid).status_code == 404, 30, "the failed server to be removed")


def test_cancel_while_preparing_leaves_no_server(run_hub: RealHub, early: dict) -> None:
    bob = Sessions(run_hub, "bob")
    uuid = bob.accept_new(plain())["meta"]["uuid"]
    bob.wait_phase(uuid, {"PREPARING", "AVAILABLE"}, 10)
    assert bob.broker.accept(uuid, "CANCELLED").json()["phase"] == "CANCELLED"
    closed = {"urn:execplanner:server-stopped", "urn:execplanner:no-server"}
    session = poll(lambda: bob.get(uuid), lambda s: bool(closed & set(kinds(s))), 40,
                   "the server to be cleaned up")
    assert session["phase"] == "CANCELLED"
    assert bob.server(uuid).status_code == 404
    time.sleep(2)  # nothing starts it again
    assert bob.server(uuid).status_code == 404
    assert bob.get(uuid)["phase"] == "CANCELLED"


def test_session_starting_30s_ahead_waits_then_is_available_on_time(run_hub: RealHub,
                                                                      early: dict) -> None:
    carol = Sessions(run_hub, "carol")
    ahead = early["ahead"]
    assert early["ahead_first_phase"]["phase"] == "WAITING"
    uuid = ahead["meta"]["uuid"]
    offered = _time(ahead["schedule"]["available"]["start"].split("/")[0])
    preparing = _time(ahead["schedule"]["preparing"]["start"])
    session = carol.wait_phase(uuid, {"AVAILABLE", "RUNNING"}, 90)
    times = {m["kind"]: _time(m["time"]) for m in session["meta"]["messages"] if "time" in m}
    assert "urn:execplanner:waiting" in times
    assert abs((times["urn:execplanner:preparing"] - preparing).total_seconds()) <= 2
    ready = times["urn:execplanner:server-ready"]
    assert abs((ready - offered).total_seconds()) <= 6, (ready, offered)
    carol.broker.accept(uuid, "CANCELLED")


def test_one_minute_session_is_released_and_completes_by_itself(run_hub: RealHub, early: dict) -> None:
    carol = Sessions(run_hub, "carol")
    minute = early["minute"]
    uuid = minute["meta"]["uuid"]
    end = _time(minute["schedule"]["releasing"]["start"])
    assert minute["schedule"]["available"]["duration"] == "PT1M"
    remaining = (end - datetime.now(timezone.utc)).total_seconds()
    session = carol.wait_phase(uuid, {"COMPLETED"}, max(remaining, 0) + 40)
    times = {m["kind"]: _time(m["time"]) for m in session["meta"]["messages"] if "time" in m}
    assert "urn:execplanner:server-ready" in times
    assert abs((times["urn:execplanner:releasing"] - end).total_seconds()) <= 3
    assert "urn:execplanner:server-stopped" in times
    assert carol.server(uuid).status_code == 404
    assert session["connectors"][0]["status"] == "FINISHED"


def test_progress_reports_need_the_sessions_token(run_hub: RealHub, early: dict) -> None:
    uuid = early["ahead"]["meta"]["uuid"]
    url = f"{run_hub.broker}sessions/{uuid}/progress"
    token = launch.report_token(SECRET, uuid)
    body = {"level": "INFO", "message": "fetching notebook (a test)", "failed": False}

    def post(auth: str | None, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": auth} if auth else {}
        return httpx.post(url, headers=headers, timeout=10, **kwargs)

    assert post(None, json=body).status_code == 403
    assert post(f"execplanner-report {launch.report_token(SECRET, 'x')}", json=body).status_code == 403
    assert post(f"token {token}", json=body).status_code == 403
    assert post(f"execplanner-report {token}", json={"message": 3}).status_code == 400
    assert post(f"execplanner-report {token}", content=b"{not json").status_code == 400
    other = "0f3c2a9e-6f1b-4c55-9d0e-2b7c1d4e5f60"
    other_auth = {"Authorization": f"execplanner-report {launch.report_token(SECRET, other)}"}
    missing = httpx.post(f"{run_hub.broker}sessions/{other}/progress", json=body, timeout=10,
                         headers=other_auth)
    assert missing.status_code == 404
    assert post(f"execplanner-report {token}", json=body).status_code == 204
    session = Sessions(run_hub, "carol").get(uuid)
    assert "fetching notebook (a test)" in [m["message"] for m in session["meta"]["messages"]]


def test_a_services_session_fails_with_the_reason(run_hub: RealHub) -> None:
    robot = Broker(run_hub.broker, ROBOT_TOKEN)
    offerset = robot.post("requests", json=plain()).json()
    uuid = offerset["offers"][0]["meta"]["uuid"]
    assert robot.accept(uuid).status_code == 200
    session = poll(lambda: robot.get(f"sessions/{uuid}").json(), lambda s: s["phase"] == "FAILED", 10,
                   "FAILED")
    assert any("service" in m["message"] and "hub user" in m["message"]
               for m in session["meta"]["messages"])


# ---- restart -------------------------------------------------------------------------------------

# Test only: the hub restarts a managed service when its poll sees it gone, every 30 s by default.
FAST_SERVICE_RESTART = """
import jupyterhub.services.service as _service
from traitlets import Integer as _Integer

class _FastPolledServiceSpawner(_service._ServiceSpawner):
    poll_interval = _Integer(1)

_service._ServiceSpawner = _FastPolledServiceSpawner
"""
# a server that takes 8 s to start, so the service can be killed while the hub is still starting it
SLOW_SERVER = """
import sys as _sys
c.Spawner.cmd = [_sys.executable, "-c",
                 "import os, sys, time; time.sleep(8); "
                 "os.execvp('jupyterhub-singleuser', ['jupyterhub-singleuser', *sys.argv[1:]])"]
"""


def service_pid(hub: RealHub) -> int | None:
    pattern = f"jupyterhub_execplanner.service --ExecPlanner.hub_config_file={hub.folder}"
    found = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True)
    pids = [int(p) for p in found.stdout.split()]
    return pids[0] if len(pids) == 1 else None


def test_killed_service_comes_back_and_the_session_still_becomes_available(tmp_path: Path) -> None:
    hub = RealHub.start(tmp_path / "hub", settings=SETTINGS, extra_config=FAST_SERVICE_RESTART + SLOW_SERVER,
                        env={launch.SECRET_ENV: SECRET})
    try:
        dave = Sessions(hub, "dave")
        uuid = dave.accept_new(plain())["meta"]["uuid"]
        dave.wait_phase(uuid, {"PREPARING"}, 10)
        wait_for(lambda: dave.server(uuid).status_code == 200 and dave.server(uuid).json()["pending"],
                 10, "the hub to be starting the server")
        pid = service_pid(hub)
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: service_pid(hub) not in (None, pid), 30, "the hub to restart the service")
        hub.wait_for(hub.broker, 30)
        assert dave.get(uuid)["phase"] == "PREPARING", "the server is still starting"
        session = dave.wait_phase(uuid, {"AVAILABLE", "RUNNING"}, 60)
        assert session["connectors"][0]["location"].endswith(f"/user/dave/{launch.server_name_for(uuid)}/lab")
        user = hub.api("GET", "users/dave", params={"include_stopped_servers": True}).json()
        named = [name for name in user["servers"] if name]  # "" is the (stopped) default server
        assert named == [launch.server_name_for(uuid)], user["servers"]
        assert kinds(session).count("urn:execplanner:starting-server") == 1, "started once"
    finally:
        hub.stop()
