"""End to end: a hub that aggregates its peers, with two real hubs that list each other and a peer
that never answers.

Hub P is an ordinary hub with the broker and a phase driver that runs real servers; it also lists A
as a peer. Hub A (the aggregator the users ask) lists P and a loopback socket that accepts connections
and never answers. A reaches P with a token of P's user ``fed-a`` (given through ``token_env``); P
reaches A with a service token A's config grants (known before A starts, as is A's service port).
"""

from __future__ import annotations

import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from brokers import Broker
from hubprocess import RealHub, free_port
from loopback import Silent
from requests_lib import KINDS

from jupyterhub_execplanner.cliformat import session_start

pytestmark = pytest.mark.e2e

EXECPLANNER = str(Path(sys.executable).parent / "execplanner")
PROFILE = [{"display_name": "Small", "slug": "small",
            "kubespawner_override": {"cpu_guarantee": 1, "cpu_limit": 1, "mem_guarantee": "1G",
                                     "mem_limit": "1G"}}]
BASE: dict[str, Any] = {"profiles": PROFILE, "capacity": {"default": {"cores": 8, "memory": 16}},
                        "offer_expiry": 60, "prepare_time": 5, "max_offers": 2}
A_TIMEOUT = 2.0  # A waits this long for each peer
P_TIMEOUT = 3.0  # P waits this long for A
MARGIN = 1.5  # our own work and the hubs' on a busy 2-core machine
TOKEN_ENV = "EXECPLANNER_TEST_PEER_P_TOKEN"


def request(duration: str = "PT10M") -> dict[str, Any]:
    return {
        "executable": {"kind": f"{KINDS}/executable/jupyter-notebook.yaml", "meta": {"name": "fed"}},
        "compute": {"kind": f"{KINDS}/compute/simple-compute-resource.yaml",
                    "cores": {"min": 1}, "memory": {"min": 1}},
        "schedule": {"requested": {"duration": duration}},
    }




@pytest.fixture(scope="module")
def hubs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    silent = Silent()
    a_port = free_port()
    p_on_a = "peer-p-" + secrets.token_hex(16)  # P's credential on A: a service of A's config
    peer_a = {"name": "a", "url": f"http://127.0.0.1:{a_port}/services/execplanner/", "token": p_on_a}
    p = RealHub.start(tmp_path_factory.mktemp("hub-p"),
                      settings={**BASE, "peers": [peer_a], "peer_timeout": P_TIMEOUT})
    a = None
    try:
        a_config = f"""
        c.JupyterHub.services.append({{"name": "peer-p", "api_token": {p_on_a!r}}})
        c.JupyterHub.load_roles.append({{"name": "peer-p", "services": ["peer-p"], "scopes": [
            "custom:execplanner:request", "custom:execplanner:sessions",
            "access:services!service=execplanner"]}})
        """
        peers = [{"name": "p", "url": p.url, "token_env": TOKEN_ENV},
                 {"name": "silent", "url": silent.url, "token": "never-used"}]
        a = RealHub.start(tmp_path_factory.mktemp("hub-a"), extra_config=a_config,
                          env={TOKEN_ENV: p.user_token("fed-a")},
                          settings={**BASE, "url": f"http://127.0.0.1:{a_port}", "peers": peers,
                                    "peer_timeout": A_TIMEOUT, "driver_interval": 0})
        yield {"a": a, "p": p, "silent": silent, "a_direct": peer_a["url"]}
    finally:
        if a is not None:
            a.stop()
        p.stop()
        silent.close()


def timed_post(broker: Broker, path: str, doc: dict[str, Any], **kwargs: Any) -> tuple[Any, float]:
    started = time.monotonic()
    response = broker.post(path, json=doc, **kwargs)
    return response, time.monotonic() - started


def kinds(doc: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for m in doc["meta"].get("messages") or []:
        found.setdefault(m["kind"], []).append(m)
    return found


def split(offerset: dict[str, Any], hub: RealHub) -> tuple[list[dict], list[dict]]:
    """The offers whose meta.url is on ``hub``, and the others."""
    mine = [o for o in offerset["offers"] if o["meta"]["url"].startswith(hub.broker)]
    return mine, [o for o in offerset["offers"] if o not in mine]


def test_merged_answer_in_bounded_time_with_peer_messages(hubs: dict[str, Any], tmp_path: Path) -> None:
    a, p = hubs["a"], hubs["p"]
    alice = Broker(a.broker, a.user_token("alice"))
    response, elapsed = timed_post(alice, "requests", request())
    assert response.status_code == 200, response.text
    assert elapsed < A_TIMEOUT + MARGIN, elapsed
    offerset = response.json()
    assert offerset["result"] == "YES"
    ours, theirs = split(offerset, a)
    assert ours and theirs, offerset
    assert all(o["meta"]["url"].startswith(p.broker + "sessions/") for o in theirs)
    starts = [session_start(o) for o in offerset["offers"]]
    assert starts == sorted(starts)  # merged by start time

    found = kinds(offerset)
    (timeout,) = found["urn:execplanner:peer-timeout"]
    assert timeout["level"] == "WARN" and timeout["values"]["peer"] == "silent"
    assert "timed out" in timeout["message"]
    # P asked A back (Via: P); A found itself in Via and said NO: P relays that, and A relays P
    relayed = [m for m in found["urn:execplanner:peer-message"] if m["values"]["peer"] == "p"]
    assert any("Peer a:" in m["message"] and "already handled this request" in m["message"]
               for m in relayed), relayed

    # the offerset, read again from A, has the same offers in the same order
    again = alice.get(f"offersets/{offerset['meta']['uuid']}").json()
    assert [o["meta"]["uuid"] for o in again["offers"]] == [o["meta"]["uuid"] for o in offerset["offers"]]

    # the command line shows the merged offers
    (tmp_path / "r.json").write_text(__import__("json").dumps(request()))
    shown = subprocess.run([EXECPLANNER, "ask", str(tmp_path / "r.json"), "--hub", a.url,
                            "--token", alice.token, "--timeout", "10"],
                           capture_output=True, text=True, timeout=60,
                           env={"PATH": "/usr/bin:/bin",
                                "EXECPLANNER_CLI_STATE": str(tmp_path / "last-ask.json")})
    assert shown.returncode == 0, shown.stderr
    rows = [line for line in shown.stdout.splitlines() if "small" in line]
    assert len(rows) == len(offerset["offers"]), shown.stdout


def test_accept_peer_offer_through_aggregator_runs_on_the_peer(hubs: dict[str, Any]) -> None:
    a, p = hubs["a"], hubs["p"]
    bob = Broker(a.broker, a.user_token("bob"))
    offerset = bob.post("requests", json=request()).json()
    ours, theirs = split(offerset, a)
    target = theirs[0]
    uuid = target["meta"]["uuid"]

    accepted = bob.accept(uuid)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["phase"] == "ACCEPTED"
    assert accepted.json()["meta"]["url"] == target["meta"]["url"]  # the peer's own document
    for sibling in ours:  # our offers of the merged set are rejected here
        assert bob.get(f"sessions/{sibling['meta']['uuid']}").json()["phase"] == "REJECTED"
    on_p = Broker(p.broker, p.user_token("fed-a"))
    for sibling in theirs[1:]:  # and the peer rejected its own siblings
        assert on_p.get(f"sessions/{sibling['meta']['uuid']}").json()["phase"] == "REJECTED"

    # another user of A does not see it
    assert Broker(a.broker, a.user_token("mallory")).get(f"sessions/{uuid}").status_code == 404

    deadline = time.monotonic() + 90
    session = accepted.json()
    while session["phase"] not in ("AVAILABLE", "RUNNING") and time.monotonic() < deadline:
        assert session["phase"] in ("ACCEPTED", "WAITING", "PREPARING"), session["meta"]["messages"]
        time.sleep(0.5)
        session = bob.get(f"sessions/{uuid}").json()
    assert session["phase"] in ("AVAILABLE", "RUNNING"), p.log_tail(30)
    assert session["connectors"][0]["location"].startswith(f"{p.url}/user/fed-a/")
    assert on_p.get(f"sessions/{uuid}").json()["phase"] in ("AVAILABLE", "RUNNING")
    listed = bob.get("sessions").json()["sessions"]
    assert [s["phase"] for s in listed if s["meta"]["uuid"] == uuid] in (["AVAILABLE"], ["RUNNING"])

    cancelled = bob.accept(uuid, "CANCELLED")
    assert cancelled.status_code == 200 and cancelled.json()["phase"] == "CANCELLED", cancelled.text
    assert on_p.get(f"sessions/{uuid}").json()["phase"] == "CANCELLED"
    again = bob.accept(uuid, "ACCEPTED")  # the peer's 409 comes through, naming the peer
    assert again.status_code == 409 and "Peer p" in again.json()["message"], again.text


def test_direct_on_aggregator_rejects_siblings_here_and_on_the_peer(hubs: dict[str, Any]) -> None:
    a, p = hubs["a"], hubs["p"]
    carol = Broker(a.broker, a.user_token("carol"))
    response = carol.post("direct", json=request())
    assert response.status_code == 200, response.text
    session = response.json()
    assert session["phase"] == "ACCEPTED"
    offerset = carol.get("sessions?offers=true").json()["sessions"]
    siblings = [s for s in offerset if s["meta"]["uuid"] != session["meta"]["uuid"]]
    urls = [s["meta"]["url"] for s in offerset]  # the merged set: offers of A and of P
    assert any(u.startswith(a.broker) for u in urls) and any(u.startswith(p.broker) for u in urls), urls
    assert siblings, offerset
    assert {s["phase"] for s in siblings} == {"REJECTED"}, [(s["meta"]["url"], s["phase"]) for s in siblings]
    on_p = Broker(p.broker, p.user_token("fed-a"))
    for s in siblings:
        if s["meta"]["url"].startswith(p.broker):
            assert on_p.get(s["meta"]["url"]).json()["phase"] == "REJECTED"
    carol.accept(session["meta"]["uuid"], "CANCELLED")


def test_aggregators_listing_each_other_do_not_loop(hubs: dict[str, Any]) -> None:
    a, p = hubs["a"], hubs["p"]
    # asked on P: P -> A (Via P) -> P again finds itself (NO) and the silent peer (timed out within
    # the time P gave A, so A's offers still reach P in time)
    dave = Broker(p.broker, p.user_token("dave"))
    response, elapsed = timed_post(dave, "requests", request())
    assert response.status_code == 200, response.text
    assert elapsed < P_TIMEOUT + MARGIN, elapsed
    offerset = response.json()
    on_p, on_a = split(offerset, p)
    # A's offers carry the URL P reached A at (A has no public_url set)
    assert on_p and on_a and all(o["meta"]["url"].startswith(hubs["a_direct"]) for o in on_a), offerset
    texts = [m["message"] for m in offerset["meta"]["messages"]]
    assert any(t.startswith("Peer a: Peer p:") and "already handled" in t for t in texts), texts
    assert any(t.startswith("Peer a: Peer silent gave no answer") for t in texts), texts
    assert not any("Peer a: Peer p: Peer a" in t for t in texts), texts  # cut at the first return

    # a request that has passed max_hops brokers is answered at once, from A's own offers only
    eve = Broker(a.broker, a.user_token("eve"))
    response, elapsed = timed_post(eve, "requests", request(),
                                   headers={"X-Execplanner-Via": "x1,x2"})
    assert elapsed < 1.5, elapsed
    offerset = response.json()
    assert offerset["offers"] and all(o["meta"]["url"].startswith(a.broker) for o in offerset["offers"])
    assert "urn:execplanner:federation-hop-limit" in kinds(offerset)


@pytest.mark.parametrize("via, timeout", [
    ("," * 5000, "nan"),
    ("x" * 8000, "-1"),
    ("a b c;\u00e9,<script>", "1e308"),
    (",".join(f"id{i}" for i in range(500)), "abc"),
    ("", "0"),
])
def test_hostile_federation_headers_never_give_5xx(hubs: dict[str, Any], via: str, timeout: str) -> None:
    a = hubs["a"]
    frank = Broker(a.broker, a.user_token("frank"))
    headers = {"X-Execplanner-Via": via.encode(), "X-Execplanner-Timeout": timeout}  # raw UTF-8 bytes
    response, elapsed = timed_post(frank, "requests", request(), headers=headers)
    assert response.status_code == 200, response.text[:300]
    assert response.json()["result"] in ("YES", "NO") and elapsed < A_TIMEOUT + MARGIN, elapsed


def test_the_2023_draft_is_federated_too(hubs: dict[str, Any]) -> None:
    """``POST request`` (the 2023 draft) on the aggregator: the peers' offers too, as 2023 ``offer:``
    documents, in the merged order; accepting a peer's through ``POST offers/{uuid}`` is done by the
    peer, and reading it through ``GET offers/{uuid}`` gives the peer's phase."""
    a, p = hubs["a"], hubs["p"]
    gina = Broker(a.broker, a.user_token("gina"))
    body = {"request": {
        "executable": {"type": "https://www.purl.org/ivoa.net/executable-types/jupyter-notebook",
                       "spec": {"notebook": "https://example.org/notebooks/train.ipynb"}},
        "resources": {"compute": [{"name": "compute-001",
                                   "type": "https://www.purl.org/ivoa.net/resource-types/generic-compute",
                                   "spec": {"mincores": 1, "minmemory": 1}}]},
    }}
    response = gina.post("request", json=body)
    assert response.status_code == 200, response.text
    answer = response.json()["response"]
    assert answer["result"] == "YES", answer
    idents = [o["ident"] for o in answer["offers"]]
    on_p = Broker(p.broker, p.user_token("fed-a"))
    theirs = [i for i in idents if on_p.get(f"sessions/{i}").status_code == 200]
    ours = [i for i in idents if i not in theirs]
    assert ours and theirs, idents  # A's offers and P's, in one 2023 answer
    for offer in answer["offers"]:
        assert offer["status"] == "OFFERED"
        assert offer["request"]["resources"]["compute"][0]["spec"]["mincores"] >= 1
    accepted = gina.post(f"offers/{theirs[0]}", json={"offer": {"ident": theirs[0], "status": "ACCEPTED"}})
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["offer"]["status"] == "ACCEPTED"
    assert on_p.get(f"sessions/{theirs[0]}").json()["phase"] in (
        "ACCEPTED", "WAITING", "PREPARING", "AVAILABLE", "RUNNING")
    shown = gina.get(f"offers/{theirs[0]}").json()["offer"]
    assert shown["ident"] == theirs[0] and shown["status"] == "ACCEPTED"
    assert gina.get(f"offers/{ours[0]}").json()["offer"]["status"] == "REJECTED"
    gina.accept(theirs[0], "CANCELLED")
