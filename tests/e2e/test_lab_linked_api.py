"""The lab panel's server side with linked accounts, against two real linked hubs (started as in
test_linked_accounts.py, whose OAuth browser steps this reuses): the own hub's peers listed beside
the other hubs, asked and acted on through the own hub's relay as the user's linked account, a
revoked link answered as "link again" (not an error), and unlinking. What the panel shows of the
same in Chromium is in the lead's browser test."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from labprocess import LabServer
from quickhubs import Hub, link, linked_pair, linked_token, user_token

pytestmark = pytest.mark.e2e

NOTEBOOK = ('{"cells": [{"cell_type": "code", "source": "print(1)", "metadata": {}, "outputs": [], '
            '"execution_count": null}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}')
SECRET = "lab-linked-api-test-secret-0123456789"
PEER = "hub-b"
NEEDS = {"path": "n.ipynb", "cores": {"min": 1}, "memory": {"min": 1}, "duration": 600, "timeout": 30}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    for a, b in linked_pair(tmp_path_factory, SECRET, PEER):
        alice = user_token(a, "alice")  # what alice's own server on hub A gets as JUPYTERHUB_API_TOKEN
        env = {"JUPYTERHUB_API_URL": f"{a.url}/hub/api", "JUPYTERHUB_API_TOKEN": alice,
               "JUPYTERHUB_PUBLIC_HUB_URL": f"{a.url}/hub/"}
        server = LabServer(tmp_path_factory.mktemp("lab-link-server"), env,
                           ["--ExecPlannerLab.timeout=30", "--ExecPlannerLab.accept_timeout=90"])
        try:
            (server.root / "n.ipynb").write_text(NOTEBOOK)
            yield {"a": a, "b": b, "server": server, "alice": alice}
        finally:
            server.stop()


def hub_api(hub: Hub, token: str, method: str, path: str) -> httpx.Response:
    return httpx.request(method, f"{hub.url}/hub/api/{path}", trust_env=False, timeout=30,
                         headers={"Authorization": f"Bearer {token}"})


def listed(server: LabServer) -> dict[str, dict[str, Any]]:
    answer = server.get("hubs")
    assert answer.status_code == 200, answer.text
    assert "links_error" not in answer.json(), answer.text
    return {h["name"]: h for h in answer.json()["hubs"]}


def ask(server: LabServer, hub: str) -> dict[str, Any]:
    """As the panel asks: the request prepared once, then each hub on its own."""
    prepared = server.post("prepare", NEEDS)
    assert prepared.status_code == 200, prepared.text
    answer = server.post("ask", {"hubs": [hub], "request": prepared.json()["request"], "timeout": 30})
    assert answer.status_code == 200, answer.text
    (only,) = answer.json()["answers"]
    return dict(only)


def test_the_panel_links_asks_accepts_and_unlinks_through_the_own_hub(world: dict[str, Any]) -> None:
    a: Hub = world["a"]
    b: Hub = world["b"]
    server: LabServer = world["server"]
    own_broker = f"{a.url}/services/execplanner/"

    hubs = listed(server)
    assert list(hubs) == ["this-hub", PEER]
    assert hubs["this-hub"]["kind"] == "own" and hubs["this-hub"]["link"] is None
    peer = hubs[PEER]
    assert peer["kind"] == "linked" and peer["url"] == f"{own_broker}peers/{PEER}/"
    assert peer["link"]["state"] == "unlinked" and peer["link"]["user"] is None
    assert peer["link"]["authorize"] == f"{own_broker}links/{PEER}/authorize"
    assert peer["link"]["url"] == f"{b.url}/services/execplanner/"
    # a hub the user adds may not take the peer's name
    taken = server.post("hubs", {"name": PEER, "url": b.url, "token": "t", "check": False})
    assert taken.status_code == 400 and taken.json()["field"] == "name", taken.text
    # the peer's DELETE is not "Remove": it is linked through the own hub
    assert server.http.delete(f"execplanner/hubs/{PEER}").status_code == 400

    # not linked yet: asking it is "link account", not an error; its sessions are not listed
    unlinked = ask(server, PEER)
    assert unlinked["link"] == "unlinked" and unlinked["offers"] == [], unlinked
    sessions = server.get("sessions").json()
    assert all(e["hub"] != PEER for e in sessions["errors"]), sessions
    refused = server.post(f"sessions/{PEER}/00000000-0000-0000-0000-000000000000", {"action": "accept"})
    assert refused.status_code == 409 and refused.json()["link"] == "unlinked", refused.text

    link(a, b, "alice", "alice-b")
    peer = listed(server)[PEER]
    assert (peer["link"]["state"], peer["link"]["user"]) == ("linked", "alice-b")
    stored = linked_token(a, "alice", PEER)

    # the own hub answers alone (X-Execplanner-Peers: none): hub B's offers come in their own row
    own = ask(server, "this-hub")
    assert own["status"] == "YES" and all(o["url"].startswith(a.url) for o in own["offers"]), own
    theirs = ask(server, PEER)
    assert theirs["status"] == "YES" and "link" not in theirs, theirs
    offer = theirs["offers"][0]
    assert offer["hub"] == PEER and offer["url"].startswith(b.url)
    accepted = server.post(f"sessions/{PEER}/{offer['uuid']}", {"action": "accept"})
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["hub"] == PEER and accepted.json()["phase"] in (
        "ACCEPTED", "WAITING", "PREPARING", "AVAILABLE")
    deadline, admin_b = time.monotonic() + 60, user_token(b, "admin")
    servers: dict[str, Any] = {}
    while time.monotonic() < deadline and not any(n.startswith("ep-") for n in servers):
        servers = hub_api(b, admin_b, "GET", "users/alice-b").json().get("servers", {})
        time.sleep(1)
    assert any(n.startswith("ep-") for n in servers), servers  # alice-b's server, on hub B
    mine = server.get("sessions").json()
    assert offer["uuid"] in [s["uuid"] for s in mine["sessions"] if s["hub"] == PEER], mine
    cancelled = server.post(f"sessions/{PEER}/{offer['uuid']}", {"action": "cancel"})
    assert cancelled.status_code == 200, cancelled.text

    # every answer so far: no token of any hub in it
    for text in (server.get("hubs").text, server.get("sessions").text, accepted.text):
        assert stored not in text and world["alice"] not in text

    # unlinked: the own hub revokes the token on hub B and forgets it
    unlinked_answer = server.post(f"hubs/{PEER}/unlink", {})
    assert unlinked_answer.status_code == 200, unlinked_answer.text
    assert unlinked_answer.json()["revoked"] is True and unlinked_answer.json()["state"] == "unlinked"
    assert hub_api(b, stored, "GET", "user").status_code == 403
    assert listed(server)[PEER]["link"]["state"] == "unlinked"
    assert server.post("hubs/no-such-hub/unlink", {}).status_code == 404

    # linked again, then revoked on hub B (as on its /hub/token page): "link again", not an error
    link(a, b, "alice", "alice-b")
    assert listed(server)[PEER]["link"]["state"] == "linked"
    stored = linked_token(a, "alice", PEER)
    token_id = hub_api(b, stored, "GET", "user").json()["token_id"]
    revoked = hub_api(b, user_token(b, "alice-b"), "DELETE", f"users/alice-b/tokens/{token_id}")
    assert revoked.status_code == 204, revoked.text
    again = ask(server, PEER)
    assert again.get("link") == "expired" and again["offers"] == [], again
    assert listed(server)[PEER]["link"]["state"] == "expired"
    sessions = server.get("sessions").json()
    assert all(e["hub"] != PEER for e in sessions["errors"]), sessions
    with httpx.Client(timeout=30) as anonymous:  # the lab server's routes need its own login
        assert anonymous.post(f"{server.url}execplanner/hubs/{PEER}/unlink").status_code in (401, 403)
