"""End to end: a real JupyterHub (configurable-http-proxy, SQLite, hub-managed broker service) asked
for offers by remote planners with real user tokens, in JSON and YAML, in both formats of the standard.
Every answer is validated against the broker's own OpenAPI document."""

from __future__ import annotations

import json

import pytest
import yaml
from brokers import Broker
from hubprocess import RealHub
from requests_lib import (
    CONTAINER_YAML,
    DRAFT_2023_GPU_YAML,
    DRAFT_2023_YAML,
    INTERIM_YAML,
    KINDS,
    NOTEBOOK_YAML,
    notebook,
)

from jupyterhub_execplanner.service.openapi import validate

pytestmark = pytest.mark.e2e

YAML = {"Content-Type": "application/yaml", "Accept": "application/yaml"}


def cancel_all(broker: Broker, offerset: dict) -> None:
    """Give back what a test accepted, so the shared hub's capacity is free for the next test."""
    for offer in offerset.get("offers", []):
        broker.accept(offer["meta"]["uuid"], "CANCELLED")


def test_service_info_needs_no_token(hub: RealHub) -> None:
    response = Broker(hub.broker, None).get("")
    assert response.status_code == 200
    info = response.json()
    validate(info, "ServiceInfo")
    assert info["name"] == "execplanner"
    assert f"{KINDS}/executable/jupyter-notebook.yaml" in info["kinds"]
    assert [p["slug"] for p in info["profiles"]] == ["small", "large"]
    large = info["profiles"][1]
    assert large["cores"] == {"min": 2, "max": 8} and large["memory"] == {"min": 4, "max": 16}


def test_openapi_document_is_served(hub: RealHub) -> None:
    response = Broker(hub.broker, None).get("openapi.yaml")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/yaml")
    document = yaml.safe_load(response.text)
    assert document["openapi"].startswith("3.1")
    assert "/requests" in document["paths"]


def test_json_request_gets_offers(alice: Broker) -> None:
    response = alice.post("requests", json=notebook(cores=(1, 2), memory=(1, 4)))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    offerset = response.json()
    validate(offerset, "OfferSetResponse")
    assert offerset["result"] == "YES"
    assert response.headers["Content-Location"] == offerset["meta"]["url"]
    offers = offerset["offers"]
    assert 1 <= len(offers) <= 4
    for offer in offers:
        assert offer["phase"] == "OFFERED"
        assert 1 <= offer["compute"]["cores"]["min"] <= offer["compute"]["cores"]["max"] <= 2
        assert 1 <= offer["compute"]["memory"]["min"] <= offer["compute"]["memory"]["max"] <= 4
        assert offer["executable"]["location"] == "https://example.org/notebooks/analysis.ipynb"
        assert offer["schedule"]["available"]["duration"] == "PT1H"
        assert offer["expires"] and offer["meta"]["url"].endswith(offer["meta"]["uuid"])
    # the same offerset and sessions can be read back
    again = alice.get(offerset["meta"]["url"])
    assert again.status_code == 200
    assert [o["meta"]["uuid"] for o in again.json()["offers"]] == [o["meta"]["uuid"] for o in offers]
    session = alice.get(offers[0]["meta"]["url"])
    assert session.status_code == 200
    validate(session.json(), "ExecutionSession")


def test_yaml_request_gets_yaml_offers(alice: Broker) -> None:
    response = alice.post("requests", content=NOTEBOOK_YAML, headers=YAML)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/yaml")
    offerset = yaml.safe_load(response.text)
    validate(offerset, "OfferSetResponse")
    assert offerset["result"] == "YES"
    # without Accept, the answer follows the request's format
    plain = alice.post("requests", content=NOTEBOOK_YAML,
                       headers={"Content-Type": "application/yaml"})
    assert plain.headers["content-type"].startswith("application/yaml")


def test_interim_kinds_are_understood(alice: Broker) -> None:
    response = alice.post("requests", content=INTERIM_YAML, headers={"Content-Type": "text/yaml",
                                                                      "Accept": "application/json"})
    assert response.status_code == 200, response.text
    offerset = response.json()
    assert offerset["result"] == "YES"
    # answers use the v1.0 kinds
    assert offerset["offers"][0]["compute"]["kind"] == f"{KINDS}/compute/simple-compute-resource.yaml"


@pytest.mark.parametrize(
    ("request_doc", "kind", "path"),
    [
        (notebook(cores=(64, None)), "urn:resource-limit", "compute.cores"),
        (notebook(memory=(512, None)), "urn:resource-limit", "compute.memory"),
        ({"executable": {"kind": "https://example.org/kinds/cobol-program"}}, "uri:unknown-type",
         "executable.kind"),
        ({"compute": {"kind": f"{KINDS}/compute/simple-compute-resource.yaml"}},
         "urn:executable-required", "executable"),
        (notebook(duration="PT100H"), "urn:schedule-unsatisfiable", "schedule.requested.duration"),
        (notebook(cores=(4, 2)), "urn:invalid-value", "compute.cores"),
        (notebook(start="2020-01-01T00:00:00Z/PT1H"), "urn:invalid-value", "schedule.requested.start"),
    ],
    ids=["too-many-cores", "too-much-memory", "unknown-kind", "no-executable", "too-long",
         "min-above-max", "window-passed"],
)
def test_unservable_requests_get_no_with_a_reason(alice: Broker, request_doc: dict, kind: str,
                                                  path: str) -> None:
    response = alice.post("requests", json=request_doc)
    assert response.status_code == 200, response.text
    offerset = response.json()
    validate(offerset, "OfferSetResponse")
    assert offerset["result"] == "NO"
    assert not offerset.get("offers")
    messages = offerset["meta"]["messages"]
    assert any(m["kind"] == kind for m in messages), messages
    assert any(m["values"].get("path", "").startswith(path) for m in messages), messages
    assert all(m["message"] and m["level"] in ("ERROR", "WARN", "INFO") for m in messages)


def test_container_request_is_refused_on_a_notebook_hub(alice: Broker) -> None:
    response = alice.post("requests", content=CONTAINER_YAML, headers=YAML)
    offerset = yaml.safe_load(response.text)
    assert offerset["result"] == "NO"
    assert any("ghcr.io/example/checksum:1.0" in m["message"] for m in offerset["meta"]["messages"])


def test_accept_rejects_siblings_and_forbidden_changes_are_409(alice: Broker) -> None:
    offerset = alice.post("requests", json=notebook(cores=(1, 8), memory=(1, 16))).json()
    offers = offerset["offers"]
    assert len(offers) >= 2, "two profiles fit this request, so there are alternatives"
    first, second = offers[0]["meta"]["uuid"], offers[1]["meta"]["uuid"]
    accepted = alice.accept(first)
    assert accepted.status_code == 200, accepted.text
    validate(accepted.json(), "ExecutionSession")
    assert accepted.json()["phase"] == "ACCEPTED"
    assert alice.get(f"sessions/{second}").json()["phase"] == "REJECTED"
    again = alice.accept(second)
    assert again.status_code == 409
    assert "REJECTED" in again.json()["message"]
    back = alice.accept(first, "REJECTED")
    assert back.status_code == 409
    assert "CANCELLED" in back.json()["message"], "the message says what may be set instead"
    cancelled = alice.post(f"sessions/{first}", json={"kind": "uri:enum-value-update",
                                                       "path": "/phase", "value": "CANCELLED"})
    assert cancelled.status_code == 200
    assert cancelled.json()["phase"] == "CANCELLED"
    listed = alice.get("sessions").json()["sessions"]
    assert first in [s["meta"]["uuid"] for s in listed]


@pytest.mark.parametrize(
    "update",
    [
        {"kind": "uri:string-value-update", "path": "phase", "value": "ACCEPTED"},
        {"kind": "uri:enum-value-update", "path": "cores", "value": "4"},
        {"kind": "uri:enum-value-update", "path": "phase", "value": "DANCING"},
        ["not", "a", "mapping"],
    ],
    ids=["wrong-kind", "wrong-path", "wrong-value", "not-a-mapping"],
)
def test_bad_updates_are_400(alice: Broker, update: object) -> None:
    offer = alice.post("requests", json=notebook()).json()["offers"][0]
    response = alice.post(f"sessions/{offer['meta']['uuid']}", json=update)
    assert response.status_code == 400
    assert response.json()["status"] == 400 and response.json()["message"]
    assert alice.get(f"sessions/{offer['meta']['uuid']}").json()["phase"] == "OFFERED"


def test_users_see_only_their_own_sessions(hub: RealHub, alice: Broker, bob: Broker) -> None:
    offerset = alice.post("requests", json=notebook()).json()
    uuid = offerset["offers"][0]["meta"]["uuid"]
    assert bob.get(f"sessions/{uuid}").status_code == 404
    assert bob.get(offerset["meta"]["url"]).status_code == 404
    assert bob.accept(uuid).status_code == 404
    admin = Broker(hub.broker, hub.user_token("admin", admin=True))
    assert admin.get(f"sessions/{uuid}").status_code == 200
    assert alice.get(f"sessions/{uuid}").json()["phase"] == "OFFERED"


def test_tokens_are_required_and_scopes_enforced(hub: RealHub) -> None:
    anonymous = Broker(hub.broker, None)
    response = anonymous.post("requests", json=notebook())
    assert response.status_code == 401
    assert "token" in response.json()["message"]
    assert Broker(hub.broker, "not-a-token").post("requests", json=notebook()).status_code == 401
    narrow = Broker(hub.broker, hub.user_token("carol", scopes=["read:users:name!user=carol"]))
    forbidden = narrow.post("requests", json=notebook())
    assert forbidden.status_code == 403
    assert "custom:execplanner:request" in forbidden.json()["message"]
    asker = Broker(hub.broker, hub.user_token("dave", scopes=["custom:execplanner:request"]))
    offer = asker.post("requests", json=notebook()).json()["offers"][0]
    assert asker.accept(offer["meta"]["uuid"]).status_code == 403


def test_direct_accepts_the_first_offer(alice: Broker) -> None:
    response = alice.post("direct", json=notebook())
    assert response.status_code == 200, response.text
    session = response.json()
    validate(session, "ExecutionSession")
    assert session["phase"] == "ACCEPTED"
    alice.accept(session["meta"]["uuid"], "CANCELLED")
    refused = alice.post("direct", json=notebook(cores=(64, None)))
    assert refused.status_code == 400
    failed = refused.json()
    validate(failed, "ExecutionSession")
    assert failed["phase"] == "FAILED"
    assert any(m["kind"] == "urn:resource-limit" for m in failed["meta"]["messages"])


def test_2023_draft_round_trip(alice: Broker) -> None:
    response = alice.post("request", content=DRAFT_2023_YAML, headers=YAML)
    assert response.status_code == 200, response.text
    answer = yaml.safe_load(response.text)
    validate(answer, "Response2023")
    assert answer["response"]["result"] == "YES"
    offer = answer["response"]["offers"][0]
    assert offer["status"] == "OFFERED"
    spec = offer["request"]["resources"]["compute"][0]["spec"]
    assert spec["mincores"] >= 1 and spec["minmemory"] >= 2
    read = alice.get(f"offers/{offer['ident']}", headers={"Accept": "application/yaml"})
    assert yaml.safe_load(read.text)["offer"]["ident"] == offer["ident"]
    accepted = alice.post(f"offers/{offer['ident']}", headers=YAML,
                          content=f"offer:\n  ident: {offer['ident']}\n  status: ACCEPTED\n")
    assert accepted.status_code == 200, accepted.text
    assert yaml.safe_load(accepted.text)["offer"]["status"] == "ACCEPTED"
    alice.accept(offer["ident"], "CANCELLED")


def test_2023_gpu_request_is_no_on_a_hub_without_gpus(alice: Broker) -> None:
    answer = yaml.safe_load(alice.post("request", content=DRAFT_2023_GPU_YAML, headers=YAML).text)
    assert answer["response"]["result"] == "NO"
    assert answer["response"]["reasons"] and all(r["text"] for r in answer["response"]["reasons"])


def test_unknown_endpoint_is_a_json_404(alice: Broker) -> None:
    response = alice.get("no-such-thing")
    assert response.status_code == 404
    assert json.loads(response.text)["status"] == 404
    assert alice.get("sessions/not-a-uuid").status_code == 404


def test_metrics_need_read_metrics(hub: RealHub) -> None:
    assert Broker(hub.broker, None).get("metrics").status_code == 401
    scraper = Broker(hub.broker, hub.admin_token)
    response = scraper.get("metrics")
    assert response.status_code == 200
    assert "execplanner_offersets_total" in response.text
    assert "execplanner_sessions{" in response.text
