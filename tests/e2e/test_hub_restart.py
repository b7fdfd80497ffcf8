"""End to end: a hub restart does not end sessions. The hub is stopped (SIGTERM: it stops its service
and, with the default ``cleanup_servers``, every server) and started again on the same folder, config
and ports; a session that was AVAILABLE gets a new server and is AVAILABLE again, and its messages
say why. A server its owner stops ends the session, as before."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timezone

import httpx
import pytest
from hubprocess import RealHub
from test_sessions_run import SETTINGS, Sessions, kinds, plain, poll, wait_for

from jupyterhub_execplanner import launch

pytestmark = pytest.mark.e2e

SECRET = "restart-" + "4" * 56
ENV = {launch.SECRET_ENV: SECRET}


@pytest.fixture(scope="module")
def restart_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealHub]:
    hub = RealHub.start(tmp_path_factory.mktemp("restart-hub"), settings=SETTINGS, env=ENV)
    try:
        yield hub
    finally:
        hub.stop()


def owner_stops(sessions: Sessions, uuid: str) -> httpx.Response:
    """The owner stops the session's server herself, through the hub's API."""
    return httpx.delete(f"{sessions.hub.url}/hub/api/users/{sessions.user}/servers/"
                        f"{launch.server_name_for(uuid)}", timeout=30,
                        headers={"Authorization": f"token {sessions.broker.token}"})


def test_a_server_its_owner_stops_ends_the_session(restart_hub: RealHub) -> None:
    erin = Sessions(restart_hub, "erin")
    uuid = erin.accept_new(plain("PT20M"))["meta"]["uuid"]
    erin.wait_phase(uuid, {"AVAILABLE", "RUNNING"}, 60)
    assert owner_stops(erin, uuid).status_code in (202, 204)
    session = erin.wait_phase(uuid, {"COMPLETED"}, 40)
    messages = [m["message"] for m in session["meta"]["messages"]]
    assert any("was stopped outside the broker" in m for m in messages), messages
    assert "urn:execplanner:restarting" not in kinds(session)


def test_a_hub_restart_starts_the_sessions_server_again(restart_hub: RealHub) -> None:
    dave = Sessions(restart_hub, "dave")
    uuid = dave.accept_new(plain("PT20M"))["meta"]["uuid"]
    before = dave.wait_phase(uuid, {"AVAILABLE", "RUNNING"}, 60)
    first_start = dave.server(uuid).json()["started"]

    stopped_at = datetime.now(timezone.utc)
    restart_hub.restart(env=ENV)

    def restarted(session: dict) -> bool:
        found = kinds(session)
        return (session["phase"] in ("AVAILABLE", "RUNNING") and "urn:execplanner:restarting" in found
                and found[::-1].index("urn:execplanner:server-ready")
                < found[::-1].index("urn:execplanner:restarting"))

    session = poll(lambda: dave.get(uuid), restarted, 90, "the session to be AVAILABLE again")
    found = kinds(session)
    assert "urn:execplanner:hub-restarted" in found
    assert found.count("urn:execplanner:server-ready") == 2, found
    messages = {m["kind"]: m["message"] for m in session["meta"]["messages"]}
    assert "The hub restarted" in messages["urn:execplanner:hub-restarted"]
    assert "stopped when the hub restarted: starting it again" in messages["urn:execplanner:restarting"]
    assert session["connectors"] == [{**before["connectors"][0], "status": "AVAILABLE"}]

    server = dave.server(uuid).json()
    assert server["ready"] and server["started"] != first_start, "a new server"
    started = datetime.fromisoformat(server["started"].replace("Z", "+00:00"))
    assert started > stopped_at
    opened = httpx.get(session["connectors"][0]["location"], follow_redirects=True, timeout=30,
                       headers={"Authorization": f"token {dave.broker.token}"})
    assert opened.status_code == 200, opened.text[:300]

    # the restart was dealt with: a server its owner stops now ends the session
    time.sleep(1)
    assert owner_stops(dave, uuid).status_code in (202, 204)
    ended = poll(lambda: dave.get(uuid), lambda s: s["phase"] == "COMPLETED", 40, "COMPLETED")
    assert kinds(ended).count("urn:execplanner:restarting") == 1
    wait_for(lambda: dave.server(uuid).status_code == 404, 30, "the server to be removed")
