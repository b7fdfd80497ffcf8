"""Every malformed or hostile body gets a 4xx or a NO with a message, never a 5xx, and the broker
keeps answering afterwards. Sent through the real proxy to the real hub-managed service."""

from __future__ import annotations

import random

import pytest
from brokers import Broker
from hostile import HOSTILE
from requests_lib import notebook

pytestmark = pytest.mark.e2e

@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_body_gets_4xx_or_no(alice: Broker, name: str) -> None:
    content_type, body = HOSTILE[name]
    offer = alice.post("requests", json=notebook()).json()["offers"][0]["meta"]["uuid"]
    for path in ("requests", "direct", "request", f"sessions/{offer}", f"offers/{offer}", "snapshots"):
        response = alice.post(path, content=body,
                              headers={"Content-Type": content_type, "Accept": "application/json"})
        assert response.status_code < 500, (path, response.status_code, response.text[:300])
        if response.status_code == 200:
            answer = response.json()
            assert answer.get("result", answer.get("response", {}).get("result")) == "NO"
        elif response.status_code not in (400, 413, 415):
            pytest.fail(f"{path}: unexpected {response.status_code}")
        elif path.startswith(("sessions/", "offers/", "snapshots")):
            assert response.json()["message"], "every 4xx says what is wrong"
        elif path == "direct" and "phase" in response.json():
            failed = response.json()  # direct's own answer for a request with no offer
            assert failed["phase"] == "FAILED" and failed["meta"]["messages"]
        else:
            assert response.json()["message"], "every 4xx says what is wrong"
    assert alice.get(f"sessions/{offer}").json()["phase"] == "OFFERED", "no state was lost or changed"
    assert alice.post("requests", json=notebook()).json()["result"] == "YES"


WRONG_TYPES = [
    {"executable": "jupyter"},
    {"executable": {"kind": 42}},
    {"executable": {"kind": None}},
    {"executable": ["a"]},
    {"executable": {"kind": "https://www.purl.org/ivoa.net/Calycopis-openapi/schema/v1.0/kinds/"
                            "executable/jupyter-notebook.yaml", "location": {"a": 1}}},
    {**notebook(), "compute": "big"},
    {**notebook(), "compute": {"kind": "https://www.purl.org/ivoa.net/Calycopis-openapi/schema/"
                                        "v1.0/kinds/compute/simple-compute-resource.yaml",
                               "cores": {"min": "lots"}}},
    {**notebook(), "compute": {"cores": {"min": True}}},
    {**notebook(), "compute": {"cores": {"min": 10**100}}},
    {**notebook(), "compute": {"cores": {"min": -3}}},
    {**notebook(), "compute": {"memory": {"min": 1.5}}},
    {**notebook(), "schedule": "tomorrow"},
    {**notebook(), "schedule": {"requested": {"start": "next tuesday", "duration": "1H"}}},
    {**notebook(), "schedule": {"requested": {"duration": "P1H"}}},
    {**notebook(), "data": {"not": "a list"}},
    {**notebook(), "data": [None, 3, "x"]},
    {**notebook(), "storage": [{"kind": "x"}]},
    {**notebook(), "costs": [{"kind": "y", "max": "cheap"}]},
]


@pytest.mark.parametrize("doc", WRONG_TYPES, ids=[f"wrong-{i}" for i in range(len(WRONG_TYPES))])
def test_wrong_types_get_no_with_a_message(alice: Broker, doc: dict) -> None:
    response = alice.post("requests", json=doc)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["result"] == "NO"
    assert answer["meta"]["messages"], "a NO always says why"
    assert all(m["values"].get("path") for m in answer["meta"]["messages"] if m["level"] == "ERROR")


def test_random_documents_never_give_5xx(alice: Broker) -> None:
    rng = random.Random(20261124)
    leaves = [None, True, 0, -1, 2**70, 1.5, "", "x" * 300, "PT1H", "2026-01-01T00:00:00Z/PT1H"]
    keys = ["executable", "compute", "kind", "cores", "memory", "min", "max", "schedule",
            "requested", "start", "duration", "data", "storage", "location", "meta", "volumes"]

    def junk(depth: int) -> object:
        if depth == 0 or rng.random() < 0.3:
            return rng.choice(leaves)
        if rng.random() < 0.5:
            return [junk(depth - 1) for _ in range(rng.randint(0, 3))]
        return {rng.choice(keys): junk(depth - 1) for _ in range(rng.randint(0, 4))}

    for _ in range(150):
        doc = junk(5)
        response = alice.post("requests", json=doc)
        assert response.status_code < 500, (doc, response.text[:300])
