"""The edges of HTTP, through the hub's real proxy: oversized bodies, methods an endpoint does not
answer, empty bodies, query parameters, lone surrogates, and what ``GET /`` promises."""

from __future__ import annotations

import json
import re

import httpx
import pytest
from brokers import Broker
from hubprocess import RealHub
from requests_lib import KINDS, notebook

pytestmark = pytest.mark.e2e


def counted(hub: RealHub, endpoint: str, method: str, status: int) -> float:
    """The broker's count of answers with ``status`` to ``method`` at ``endpoint`` (Prometheus)."""
    text = Broker(hub.broker, hub.admin_token).get("metrics").text
    labels = {f'code="{status}"', f'endpoint="{endpoint}"', f'method="{method}"'}
    for line in text.splitlines():
        found = re.match(r"execplanner_http_requests_total\{(.*)\} ([0-9.e+]+)$", line)
        if found and set(found.group(1).split(",")) == labels:
            return float(found.group(2))
    return 0.0


def test_a_70_mib_body_is_413_through_the_proxy(alice: Broker) -> None:
    body = b"{" + b" " * (70 * 1024 * 1024) + b"}"
    for path in ("requests", "direct", "snapshots"):
        response = alice.post(path, content=body, headers={"Content-Type": "application/json"})
        assert response.status_code == 413, (path, response.status_code, response.text[:200])
        assert "limit" in response.json()["message"]
    assert alice.post("requests", json=notebook()).json()["result"] == "YES"


def test_405_says_what_is_allowed(alice: Broker) -> None:
    response = httpx.delete(alice.url("requests"), headers=alice.headers(), timeout=30)
    assert response.status_code == 405
    assert response.headers["Allow"] == "POST"
    assert "POST" in response.json()["message"]
    sessions = httpx.put(alice.url("sessions"), headers=alice.headers(), timeout=30)
    assert sessions.status_code == 405 and sessions.headers["Allow"] == "GET"


def test_trace_is_refused_cleanly_and_counted(hub: RealHub, alice: Broker) -> None:
    before = counted(hub, "requests", "TRACE", 405)
    response = httpx.request("TRACE", alice.url("requests"), headers=alice.headers(), timeout=30)
    assert response.status_code == 405
    assert counted(hub, "requests", "TRACE", 405) == before + 1
    assert "finish() called twice" not in hub.log_tail(200)
    assert "Uncaught exception" not in hub.log_tail(200)


def test_direct_with_an_empty_or_unreadable_body_is_a_failed_session(alice: Broker) -> None:
    for body in (b"", b"{not json", b"\xff\xfe"):
        response = alice.post("direct", content=body, headers={"Content-Type": "application/json"})
        assert response.status_code == 400, response.text
        session = response.json()
        assert session["phase"] == "FAILED"
        assert session["meta"]["messages"][0]["message"]


def test_an_empty_update_asks_for_an_update(alice: Broker) -> None:
    offer = alice.post("requests", json=notebook()).json()["offers"][0]["meta"]["uuid"]
    response = alice.post(f"sessions/{offer}", content=b"", headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert "enum-value-update" in response.json()["message"]
    assert "ExecutionRequest" not in response.json()["message"]


def test_boolean_query_parameters_are_checked(alice: Broker) -> None:
    response = alice.get("sessions", params={"offers": "bogus"})
    assert response.status_code == 400
    assert "offers" in response.json()["message"]
    assert alice.get("sessions", params={"offers": "true"}).status_code == 200


def test_info_lists_only_kinds_this_hub_can_offer(hub: RealHub) -> None:
    kinds = Broker(hub.broker, None).get("").json()["kinds"]
    assert f"{KINDS}/executable/jupyter-notebook.yaml" in kinds
    assert f"{KINDS}/executable/singularity-container.yaml" not in kinds
    # the e2e hub's profiles run no image: it cannot give a docker-container offer either
    assert f"{KINDS}/executable/docker-container.yaml" not in kinds
    assert f"{KINDS}/compute/simple-compute-resource.yaml" in kinds


@pytest.mark.parametrize("field", ["executable.location", "executable.meta.name", "kind"])
def test_a_lone_surrogate_is_400_and_stores_nothing(hub: RealHub, alice: Broker, bob: Broker,
                                                   field: str) -> None:
    """The issue's case: a surrogate once stored a session whose uuid was never returned and broke
    the owner's and the admin's listings for good."""
    admin = Broker(hub.broker, hub.user_token("admin", admin=True))
    before = len(alice.get("sessions", params={"offers": "true"}).json()["sessions"])
    body = notebook()
    *parents, last = field.split(".")
    node = body
    for name in parents:
        node = node.setdefault(name, {})
    node[last] = "SURROGATE"
    text = json.dumps(body).replace("SURROGATE", "\\ud800")
    assert "\\ud800" in text
    for path in ("direct", "requests"):
        response = alice.post(path, content=text.encode(), headers={"Content-Type": "application/json"})
        assert response.status_code == 400, (path, response.text)
        assert field in str(response.json()), response.text
    assert len(alice.get("sessions", params={"offers": "true"}).json()["sessions"]) == before
    for who in (alice, bob, admin):
        assert who.get("sessions").status_code == 200
