"""Linked accounts between two real hubs, through their HTTP APIs and their OAuth pages (issue 13).

Two hubs started as docs/linked-accounts.md says for a trial (``bash scripts/hub.sh``; hub A with
``EXECPLANNER_PEER_URL``, hub B with ``EXECPLANNER_LINK_FROM``, one shared client secret). A browser
is played by an httpx client that keeps cookies and follows each redirect by hand: it logs in at
hub A, opens ``links/hub-b/authorize``, logs in at hub B under another name, consents on hub B's own
page, and comes back. What the lab panel shows of the same is in ``test_lab_linked_browser.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from quickhubs import Browser, Hub, link, linked_pair, linked_token, user_token

pytestmark = pytest.mark.e2e

SECRET = "linked-accounts-test-secret-0123456789"
PEER = "hub-b"
NOTEBOOK = ('{"cells": [{"cell_type": "code", "source": "print(1)", "metadata": {}, "outputs": [], '
            '"execution_count": null}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}')


@pytest.fixture(scope="module")
def hubs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Hub, Hub]]:
    yield from linked_pair(tmp_path_factory, SECRET, PEER)


def token(hub: Hub, user: str) -> str:
    return user_token(hub, user)


def api(hub: Hub, tok: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
    return httpx.request(method, f"{hub.url}/services/execplanner/{path}", trust_env=False, timeout=90,
                         headers={"Authorization": f"token {tok}"}, **kwargs)


def hub_api(hub: Hub, tok: str, method: str, path: str) -> httpx.Response:
    return httpx.request(method, f"{hub.url}/hub/api/{path}", trust_env=False, timeout=30,
                         headers={"Authorization": f"Bearer {tok}"})


def links_of(a: Hub, tok: str) -> dict[str, Any]:
    answer = api(a, tok, "GET", "links")
    assert answer.status_code == 200, answer.text
    return {entry["hub"]: entry for entry in answer.json()["links"]}


def request_doc(a: Hub, tok: str) -> dict[str, Any]:
    urls = api(a, tok, "POST", "snapshots", json={"files": {"t.ipynb": NOTEBOOK}}).json()["urls"]
    return {
        "executable": {"kind": "https://www.purl.org/ivoa.net/Calycopis-openapi/schema/v1.0/kinds/"
                               "executable/jupyter-notebook.yaml", "location": urls["t.ipynb"]},
        "compute": {"kind": "https://www.purl.org/ivoa.net/Calycopis-openapi/schema/v1.0/kinds/"
                            "compute/simple-compute-resource.yaml",
                    "cores": {"min": 1, "max": 1}, "memory": {"min": 1, "max": 1}},
        "schedule": {"requested": {"duration": "PT10M"}},
    }


def stored_token(a: Hub, user: str) -> str:
    return linked_token(a, user, PEER)


def wait_phase(get: Any, phases: tuple[str, ...], seconds: float = 240) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    doc: dict[str, Any] = {}
    while time.monotonic() < deadline:
        doc = get()
        if doc.get("phase") in phases:
            return doc
        time.sleep(1)
    raise AssertionError(f"still {doc.get('phase')}: {doc.get('meta', {}).get('messages')}")


def update(phase: str) -> dict[str, str]:
    return {"kind": "uri:enum-value-update", "path": "phase", "value": phase}


def test_alice_links_as_alice_b_and_her_session_runs_as_alice_b(hubs: tuple[Hub, Hub]) -> None:
    a, b = hubs
    alice = token(a, "alice")
    assert links_of(a, alice)[PEER]["state"] == "unlinked"
    link(a, b, "alice", "alice-b")
    entry = links_of(a, alice)[PEER]
    assert (entry["state"], entry["user"]) == ("linked", "alice-b")
    raw = stored_token(a, "alice")
    assert raw not in str(entry)
    # the token holds the broker's scopes and what identifies the user, nothing else
    scopes = set(hub_api(b, raw, "GET", "user").json()["scopes"])
    assert {"custom:execplanner:request", "custom:execplanner:sessions"} <= scopes
    assert not {s for s in scopes if s.startswith(("admin", "tokens", "servers", "access:servers"))}

    # ask hub B through hub A's relay, accept: the server that starts on hub B is alice-b's
    offers = api(a, alice, "POST", f"peers/{PEER}/requests", json=request_doc(a, alice))
    assert offers.status_code == 200, offers.text
    uuid = offers.json()["offers"][0]["meta"]["uuid"]
    assert offers.json()["offers"][0]["meta"]["url"].startswith(b.url)
    accepted = api(a, alice, "POST", f"peers/{PEER}/sessions/{uuid}", json=update("ACCEPTED"))
    assert accepted.status_code == 200, accepted.text
    doc = wait_phase(lambda: api(a, alice, "GET", f"peers/{PEER}/sessions/{uuid}").json(),
                     ("AVAILABLE", "FAILED"))
    assert doc["phase"] == "AVAILABLE", doc["meta"]["messages"]
    admin_b = token(b, "admin")
    servers = hub_api(b, admin_b, "GET", "users/alice-b").json()["servers"]
    assert any(name.startswith("ep-") for name in servers), servers
    assert "alice" not in [u["name"] for u in hub_api(b, admin_b, "GET", "users").json()]
    # her sessions through the relay are alice-b's on hub B
    listed = api(a, alice, "GET", f"peers/{PEER}/sessions").json()["sessions"]
    assert uuid in [s["meta"]["uuid"] for s in listed]
    cancelled = api(a, alice, "POST", f"peers/{PEER}/sessions/{uuid}", json=update("CANCELLED"))
    assert cancelled.status_code == 200, cancelled.text


def test_bob_cannot_use_alices_link_nor_finish_her_linking(hubs: tuple[Hub, Hub]) -> None:
    a, b = hubs
    bob = token(a, "bob")
    assert links_of(a, bob)[PEER]["state"] == "unlinked"
    answer = api(a, bob, "POST", f"peers/{PEER}/requests", json=request_doc(a, bob))
    assert answer.status_code == 409 and answer.json()["link"] == "unlinked", answer.text
    assert "not linked" in answer.json()["message"]

    # alice starts linking; bob (logged in at hub A in his own browser) is sent her callback
    alice_browser = Browser()
    alice_browser.login(a, "alice")
    stop, _ = alice_browser.follow(f"{a.url}/services/execplanner/links/{PEER}/authorize",
                                   login_at=(b, "alice-b"), until="/links/callback")
    bob_browser = Browser()
    bob_browser.login(a, "bob")
    _, page = bob_browser.follow(stop)
    assert page.status_code == 403, page.text[:300]
    assert "another user or in another browser" in page.text
    assert links_of(a, bob)[PEER]["state"] == "unlinked"
    # a made-up state is refused; bob's attempt did not spoil alice's, which works once, only once
    _, page = bob_browser.follow(f"{a.url}/services/execplanner/links/callback?code=x&state=made-up")
    assert page.status_code == 400 and "unknown or too old" in page.text
    _, page = alice_browser.follow(stop)
    assert page.status_code == 200 and "Linked as alice-b" in page.text, page.text[:300]
    _, page = alice_browser.follow(stop)
    assert page.status_code == 400 and "unknown or too old" in page.text, page.text[:300]


def test_the_state_is_bound_to_the_browser_that_started(hubs: tuple[Hub, Hub]) -> None:
    a, b = hubs
    first = Browser()
    first.login(a, "carol")
    stop, _ = first.follow(f"{a.url}/services/execplanner/links/{PEER}/authorize", login_at=(b, "carol-b"),
                           until="/links/callback")
    other = Browser()  # carol again, in another browser: no nonce cookie from the start
    other.login(a, "carol")
    _, page = other.follow(stop)
    assert page.status_code == 403, page.text[:300]
    assert links_of(a, token(a, "carol"))[PEER]["state"] == "unlinked"


def test_the_aggregator_asks_the_peer_as_each_user(hubs: tuple[Hub, Hub]) -> None:
    a, b = hubs
    dave = token(a, "dave")
    link(a, b, "dave", "dave-b")
    merged = api(a, dave, "POST", "requests", json=request_doc(a, dave))
    assert merged.status_code == 200, merged.text
    notes = [m["message"] for m in merged.json()["meta"]["messages"]]
    assert f"Peer {PEER} was asked as dave-b, your linked account there." in notes, notes
    peer_offer = next(o for o in merged.json()["offers"] if o["meta"]["url"].startswith(b.url))
    uuid = peer_offer["meta"]["uuid"]
    # accepted through hub A (a relayed session): it runs as dave-b on hub B
    accepted = api(a, dave, "POST", f"sessions/{uuid}", json=update("ACCEPTED"))
    assert accepted.status_code == 200, accepted.text
    wait_phase(lambda: api(a, dave, "GET", f"sessions/{uuid}").json(), ("AVAILABLE", "FAILED"))
    admin_b = token(b, "admin")
    assert any(n.startswith("ep-") for n in hub_api(b, admin_b, "GET", "users/dave-b").json()["servers"])
    api(a, dave, "POST", f"sessions/{uuid}", json=update("CANCELLED"))
    # erin has no link: the link-only peer is not asked for her, and the answer says why
    erin = token(a, "erin")
    alone = api(a, erin, "POST", "requests", json=request_doc(a, erin)).json()
    assert all(o["meta"]["url"].startswith(a.url) for o in alone["offers"])
    said = " ".join(m["message"] for m in alone["meta"]["messages"])
    assert "not linked" in said, said


def test_a_revoked_link_shows_as_link_again(hubs: tuple[Hub, Hub]) -> None:
    a, b = hubs
    frank = token(a, "frank")
    link(a, b, "frank", "frank-b")
    raw = stored_token(a, "frank")
    # frank-b revokes the application on hub B (as on its /hub/token page)
    own_b = token(b, "frank-b")
    token_id = hub_api(b, raw, "GET", "user").json()["token_id"]
    assert hub_api(b, own_b, "DELETE", f"users/frank-b/tokens/{token_id}").status_code == 204
    answer = api(a, frank, "GET", f"peers/{PEER}/sessions")
    assert answer.status_code == 409 and answer.json()["link"] == "expired", answer.text
    entry = links_of(a, frank)[PEER]
    assert entry["state"] == "expired" and "link again" in entry["message"], entry
    # linking again mends it
    link(a, b, "frank", "frank-b")
    assert links_of(a, frank)[PEER]["state"] == "linked"
    assert api(a, frank, "GET", f"peers/{PEER}/sessions").status_code == 200


def test_unlink_revokes_the_token_on_the_peer(hubs: tuple[Hub, Hub]) -> None:
    a, b = hubs
    grace = token(a, "grace")
    link(a, b, "grace", "grace-b")
    raw = stored_token(a, "grace")
    assert api(b, raw, "GET", "sessions").status_code == 200
    answer = api(a, grace, "DELETE", f"links/{PEER}")
    assert answer.status_code == 200 and answer.json()["revoked"] is True, answer.text
    assert hub_api(b, raw, "GET", "user").status_code == 403
    assert api(b, raw, "GET", "sessions").status_code in (401, 403)
    assert links_of(a, grace)[PEER]["state"] == "unlinked"


def test_an_admin_lists_and_revokes_links(hubs: tuple[Hub, Hub]) -> None:
    a, b = hubs
    link(a, b, "heidi", "heidi-b")
    raw = stored_token(a, "heidi")
    heidi, admin = token(a, "heidi"), token(a, "admin")
    assert api(a, heidi, "GET", "links?all=1").status_code == 403
    everybody = api(a, admin, "GET", "links?all=1").json()["links"]
    assert {"owner": "heidi", "user": "heidi-b"}.items() <= next(
        e for e in everybody if e["owner"] == "heidi").items()
    answer = api(a, admin, "DELETE", f"links/{PEER}?user=heidi")
    assert answer.status_code == 200 and answer.json()["revoked"] is True, answer.text
    assert hub_api(b, raw, "GET", "user").status_code == 403
    assert links_of(a, heidi)[PEER]["state"] == "unlinked"


def test_links_answer_bad_calls_clearly(hubs: tuple[Hub, Hub]) -> None:
    a, b = hubs
    ivan = token(a, "ivan")
    assert api(a, ivan, "DELETE", "links/no-such-peer").status_code == 404
    assert api(a, ivan, "GET", "peers/no-such-peer/sessions").status_code == 404
    # the relay passes on broker paths only: an encoded '..' or '/' does not reach the peer's hub API
    for path in ("sessions/%2e%2e%2f%2e%2e%2fhub%2fapi%2fuser", "sessions/..%2F..%2Fhub%2Fapi%2Fuser",
                 "hub/api/user", "sessions/x/progress"):
        assert api(a, ivan, "GET", f"peers/{PEER}/{path}").status_code == 404, path
    # the revoke endpoint on hub B takes only a linked token, in the header
    ivan_b = token(b, "ivan")
    answer = api(b, ivan_b, "POST", "links/revoke")
    assert answer.status_code == 400 and "not made for a linked account" in answer.json()["message"]
    assert hub_api(b, ivan_b, "GET", "user").status_code == 200  # not revoked
    assert httpx.post(f"{b.url}/services/execplanner/links/revoke", trust_env=False).status_code == 401
    assert Path(a.state / "crypt_key").stat().st_mode & 0o077 == 0


# ---- the command line (execplanner hubs, link, unlink; ask --via) --------------------------------

EXECPLANNER = str(Path(sys.executable).parent / "execplanner")


def run(state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([EXECPLANNER, *args], capture_output=True, text=True, timeout=120,
                          env={"PATH": "/usr/bin:/bin", "EXECPLANNER_CLI_STATE": str(state)})


def test_the_command_line_acts_on_a_linked_hub_as_the_user(
    hubs: tuple[Hub, Hub], tmp_path: Path
) -> None:
    a, b = hubs
    state, own = tmp_path / "last-ask.json", a.url
    dana = token(a, "cli-dana")
    request = tmp_path / "request.json"
    request.write_text(json.dumps(request_doc(a, dana)))

    listed = run(state, "hubs", "--hub", own, "--token", dana)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines()[1].split()[:3] == [PEER, "not", "linked"]
    assert f"{PEER}: open {own}/services/execplanner/links/{PEER}/authorize in a browser" in listed.stdout

    # before linking: the linked hub's row says what to run
    asked = run(state, "ask", str(request), "--via", own, "--hub", own, "--hub", PEER, "--token", dana)
    assert f"{PEER}: your account is not linked: run `execplanner link {PEER} --hub {own}`" in asked.stdout

    linking = run(state, "link", PEER, "--hub", own, "--token", dana)
    assert linking.returncode == 0, linking.stderr
    browser = Browser()  # the user opens the printed URL, logged in at hub A, and logs in at hub B
    browser.login(a, "cli-dana")
    _, page = browser.follow(linking.stdout.strip(), login_at=(b, "dana-b"))
    assert "Linked as dana-b on hub-b" in page.text, page.text[:500]
    linked = run(state, "hubs", "--hub", own, "--token", dana, "--format", "json")
    (entry,) = [e for e in json.loads(linked.stdout)["links"] if e["hub"] == PEER]
    assert (entry["state"], entry["user"]) == ("linked", "dana-b")

    # ask the own hub and the linked one; accept the linked hub's offer by the start of its uuid
    asked = run(state, "ask", str(request), "--via", own, "--hub", own, "--hub", PEER, "--token", dana)
    assert asked.returncode == 0, asked.stderr + asked.stdout
    rows = [line.split() for line in asked.stdout.split("\n\n")[0].splitlines()[1:]]
    assert {row[0] for row in rows} == {own.split("//")[1], PEER}, asked.stdout
    short = next(row[1] for row in rows if row[0] == PEER)
    # the own hub was asked alone: hub B's offers are listed once, on their own row
    assert {r[1] for r in rows if r[0] == PEER}.isdisjoint({r[1] for r in rows if r[0] != PEER})
    accepted = run(state, "accept", short, "--token", dana)
    assert accepted.returncode == 0, accepted.stderr
    assert "ACCEPTED" in accepted.stdout and f"{b.url}/services/execplanner/sessions/" in accepted.stdout
    mine = run(state, "sessions", "--via", own, "--hub", PEER, "--token", dana)
    assert short in mine.stdout, mine.stdout + mine.stderr
    # hub B knows the session as dana-b's (not as hub A's account, nor as cli-dana)
    owned = api(b, token(b, "dana-b"), "GET", "sessions").json()["sessions"]
    assert any(s["meta"]["uuid"].startswith(short) for s in owned)
    cancelled = run(state, "cancel", short, "--hub", PEER, "--via", own, "--token", dana)
    assert cancelled.returncode == 0 and "CANCELLED" in cancelled.stdout, cancelled.stderr

    unlinked = run(state, "unlink", PEER, "--hub", own, "--token", dana)
    assert unlinked.returncode == 0, unlinked.stderr
    assert run(state, "hubs", "--hub", own, "--token", dana).stdout.splitlines()[1].split()[1] == "not"
