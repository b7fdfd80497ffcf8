"""End to end: a session's launch is valid once. Its owner can read the signed ``user_options`` back
from the hub's API; posting them again (as they are, or with extra keys) is refused by the real hub's
pre-spawn hook, because the broker no longer lets that launch be used. A legitimate session still
becomes AVAILABLE."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hubprocess import RealHub
from test_sessions_run import SETTINGS, SLOW_SERVER, Sessions, plain, wait_for

from jupyterhub_execplanner import launch

pytestmark = pytest.mark.e2e

SECRET = "replay-" + "3" * 57


@pytest.fixture(scope="module")
def replay_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealHub]:
    # servers take 8 s to start, so a session stays PREPARING long enough to look at its launch
    hub = RealHub.start(tmp_path_factory.mktemp("replay-hub"), settings=SETTINGS, extra_config=SLOW_SERVER,
                        env={launch.SECRET_ENV: SECRET})
    try:
        yield hub
    finally:
        hub.stop()


def user_options(sessions: Sessions, uuid: str) -> dict[str, Any]:
    """The server's user_options as its owner reads them from the hub's API."""
    model = httpx.get(f"{sessions.hub.url}/hub/api/users/{sessions.user}", timeout=30,
                      headers={"Authorization": f"token {sessions.broker.token}"}).json()
    options = model["servers"][launch.server_name_for(uuid)]["user_options"]
    assert options[launch.SESSION_OPTION] == uuid, options
    return dict(options)


def post_start(sessions: Sessions, uuid: str, options: dict[str, Any]) -> httpx.Response:
    """The owner starts the session's server herself, with these options."""
    return httpx.post(f"{sessions.hub.url}/hub/api/users/{sessions.user}/servers/"
                      f"{launch.server_name_for(uuid)}", json={"user_options": options}, timeout=60,
                      headers={"Authorization": f"token {sessions.broker.token}"})


def claim(hub: RealHub, uuid: str, body: dict[str, Any], token: str) -> httpx.Response:
    return httpx.post(f"{hub.broker}sessions/{uuid}/launch", json=body, timeout=30,
                      headers={"Authorization": f"execplanner-launch {token}"})


def test_a_launch_is_claimed_once_and_only_with_the_launch_secret(replay_hub: RealHub) -> None:
    alice = Sessions(replay_hub, "alice")
    uuid = alice.accept_new(plain("PT20M"))["meta"]["uuid"]
    wait_for(lambda: alice.server(uuid).status_code == 200 and alice.server(uuid).json()["pending"],
             20, "the hub to be starting the server")
    assert alice.get(uuid)["phase"] == "PREPARING"
    options = user_options(alice, uuid)
    nonce = options[launch.LAUNCH_OPTION]["nonce"]
    body = {"user": "alice", "server": launch.server_name_for(uuid), "nonce": nonce}
    # the hub's hook claimed it when the start began: a second claim, even with the secret, is refused
    again = claim(replay_hub, uuid, body, launch.launch_token(SECRET, uuid, nonce))
    assert again.status_code == 409 and again.json()["message"] == "this launch was already used"
    # the nonce alone (all the owner can read) does not make a claim
    assert claim(replay_hub, uuid, body, nonce).status_code == 403
    forged = launch.launch_token("not-the-secret", uuid, nonce)
    assert claim(replay_hub, uuid, body, forged).status_code == 403
    session = alice.wait_phase(uuid, {"AVAILABLE", "RUNNING"}, 60)
    assert session["connectors"][0]["status"] == "AVAILABLE"
    alice.broker.accept(uuid, "CANCELLED")
    wait_for(lambda: alice.server(uuid).status_code == 404, 30, "the server to be removed")


def test_a_cancelled_sessions_launch_cannot_be_replayed(replay_hub: RealHub) -> None:
    bob = Sessions(replay_hub, "bob")
    uuid = bob.accept_new(plain("PT20M"))["meta"]["uuid"]
    bob.wait_phase(uuid, {"AVAILABLE", "RUNNING"}, 60)
    options = user_options(bob, uuid)
    assert bob.broker.accept(uuid, "CANCELLED").json()["phase"] == "CANCELLED"
    wait_for(lambda: bob.server(uuid).status_code == 404, 30, "the server to be removed")

    replayed = post_start(bob, uuid, options)
    assert replayed.status_code == 403, replayed.text
    message = replayed.json()["message"]
    assert "was not started: the session is CANCELLED" in message, message

    # the profile's unsigned keys riding along are refused before the broker is even asked
    for extra in ({"image": "quay.io/jupyter/evil:1"}, {"cpu_limit": 64, "mem_limit": "1T"},
                  {"node": "gpu"}):
        forged = post_start(bob, uuid, {**options, **extra})
        assert forged.status_code == 403, forged.text
        assert "are not part of the signed launch" in forged.json()["message"], forged.text

    server = bob.server(uuid)
    assert server.status_code == 404 or not (server.json()["ready"] or server.json()["pending"])
    assert bob.get(uuid)["phase"] == "CANCELLED"

    # and a legitimate session still becomes AVAILABLE
    fresh = bob.accept_new(plain("PT20M"))["meta"]["uuid"]
    session = bob.wait_phase(fresh, {"AVAILABLE", "RUNNING"}, 60)
    assert session["connectors"][0]["status"] == "AVAILABLE"
    bob.broker.accept(fresh, "CANCELLED")
    wait_for(lambda: bob.server(fresh).status_code == 404, 30, "the server to be removed")
