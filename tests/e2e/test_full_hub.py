"""A full hub says what holds its room: two users' running servers on a 2-core hub (issue 12, item 4).

A real JupyterHub whose servers are :class:`~lightspawner.LightSpawner` ones (running as far as the hub
and the broker can tell, without a process each), with the broker as its service, reading the hub's
running servers every second as an admin may set it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from hubprocess import RealHub
from lightspawner import light_config
from requests_lib import notebook

pytestmark = pytest.mark.e2e

SETTINGS = {"capacity": {"default": {"cores": 2, "memory": 8}},
            "server_footprint": {"cores": 1, "memory": 1}, "hub_poll_interval": 1}


@pytest.fixture(scope="module")
def full_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealHub]:
    hub = RealHub.start(tmp_path_factory.mktemp("full-hub"), settings=SETTINGS, extra_config=light_config())
    try:
        yield hub
    finally:
        hub.stop()


def test_a_no_for_lack_of_room_names_what_holds_it(full_hub: RealHub) -> None:
    alice, _ = full_hub.user_token("alice"), full_hub.user_token("bob")
    for user in ("alice", "bob"):
        full_hub.api("POST", f"users/{user}/server").raise_for_status()
    headers = {"Authorization": f"token {alice}"}
    deadline, answer = time.monotonic() + 60, {}
    while time.monotonic() < deadline:  # until the broker has read the hub's running servers
        answer = httpx.post(full_hub.broker + "requests", json=notebook(), headers=headers, timeout=30).json()
        if answer["result"] == "NO":
            break
        for offer in answer.get("offers", []):  # let go of what this try was offered
            httpx.post(offer["meta"]["url"], headers=headers, timeout=30,
                       json={"kind": "uri:enum-value-update", "path": "phase", "value": "REJECTED"})
        time.sleep(1)
    assert answer["result"] == "NO", answer
    said = [m["message"] for m in answer["meta"]["messages"]]
    assert any("running servers with no end hold room" in m for m in said), said
    held = [m for m in said if "cores of this hub are held now" in m]
    assert held == ["2 of 2 cores of this hub are held now: 1 core and 1 GiB by your running server "
                    "(with no end); 1 core and 1 GiB by another user's running server (with no end). "
                    "Yours make room when you stop a running server, end a session or reject an open "
                    "offer."], said
    assert not any("bob" in m for m in said), "other users are not named"
