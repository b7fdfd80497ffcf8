"""Handlers on a real tornado server, with the clock in the test's hand and real hub tokens."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import httpx
import yaml
from service_support import PROFILES, Clock

from jupyterhub_execplanner.model.messages import format_time

KINDS = "https://www.purl.org/ivoa.net/Calycopis-openapi/schema/v1.0/kinds"
ACCEPT = {"kind": "uri:enum-value-update", "path": "phase", "value": "ACCEPTED"}


def request(cores: int = 2, memory: int = 2, duration: str = "PT1H") -> dict[str, Any]:
    return {
        "executable": {"kind": f"{KINDS}/executable/jupyter-notebook.yaml", "meta": {"name": "nb"}},
        "compute": {"kind": f"{KINDS}/compute/simple-compute-resource.yaml",
                    "cores": {"min": cores}, "memory": {"min": memory}},
        "schedule": {"requested": {"duration": duration}},
    }


def span(offer: dict[str, Any]) -> tuple[datetime, datetime]:
    schedule = offer["schedule"]
    start = datetime.fromisoformat(schedule["preparing"]["start"].replace("Z", "+00:00"))
    end = datetime.fromisoformat(schedule["releasing"]["start"].replace("Z", "+00:00"))
    return start, end


async def test_offers_expire_on_time_and_free_their_capacity(start_service, client) -> None:
    clock = Clock()
    service = await start_service(clock, offer_expiry=300)
    offer = (await client.post(service.base + "requests", json=request())).json()["offers"][0]
    assert offer["expires"] == format_time(clock.now + timedelta(seconds=300))
    assert service.app.manager.calendar.has(offer["meta"]["uuid"])
    clock.advance(299)
    assert (await client.get(offer["meta"]["url"])).json()["phase"] == "OFFERED"
    clock.advance(2)
    assert (await client.get(offer["meta"]["url"])).json()["phase"] == "EXPIRED"
    assert not service.app.manager.calendar.has(offer["meta"]["uuid"])
    late = await client.post(offer["meta"]["url"], json=ACCEPT)
    assert late.status_code == 409
    assert "expired" in late.json()["message"] and "ask for new offers" in late.json()["message"]


async def test_concurrent_requests_never_oversubscribe(start_service, client) -> None:
    """Forty planners ask at once for 2 of 8 cores: at any moment at most 4 offers overlap."""
    # one planner without per-user limits (as an admin would give an aggregator)
    service = await start_service(offer_expiry=600, max_offers=1, limit_open_offers=0, limit_core_hours=0)
    answers = await asyncio.gather(
        *(client.post(service.base + "requests", json=request()) for _ in range(40))
    )
    offers = [a.json()["offers"][0] for a in answers if a.json()["result"] == "YES"]
    assert len(offers) == 40, "there is always a later slot within the default window"
    spans = [span(o) for o in offers]
    for start, _end in spans:
        overlapping = sum(1 for s, e in spans if s <= start < e)
        assert overlapping <= 4, f"{overlapping} offers of 2 cores overlap at {start} on 8 cores"
    starts = sorted(s for s, _ in spans)
    assert starts[3] < starts[4], "the first four fit now, the fifth has to wait"


async def test_state_survives_a_restart_on_the_same_database(start_service, client) -> None:
    pool = {"default": {"cores": 2, "memory": 2}}
    first = await start_service(max_offers=1, capacity=pool)
    offer = (await client.post(first.base + "requests", json=request())).json()
    uuid = offer["offers"][0]["meta"]["uuid"]
    assert (await client.post(first.base + f"sessions/{uuid}", json=ACCEPT)).status_code == 200
    await first.stop()
    second = await start_service(max_offers=1, capacity=pool)
    assert second.app.manager.calendar.has(uuid), "the calendar was rebuilt from the database"
    session = (await client.get(second.base + f"sessions/{uuid}")).json()
    assert session["phase"] == "ACCEPTED"
    again = (await client.post(second.base + "requests", json=request())).json()
    assert span(again["offers"][0])[0] >= span(session)[1]


async def test_bodies_over_the_limit_are_413(start_service, client) -> None:
    service = await start_service(max_body_size=4096)
    big = {"padding": "x" * 5000, **request()}
    response = await client.post(service.base + "requests", json=big)
    assert response.status_code == 413
    assert "4096" in response.json()["message"]
    assert (await client.post(service.base + "requests", json=request())).status_code == 200


async def test_accepting_tells_listeners_and_rejects_siblings(start_service, client) -> None:
    four = {"display_name": "Four cores", "slug": "four",
            "kubespawner_override": {"cpu_limit": 4, "mem_limit": "4G"}}
    service = await start_service(profiles=[*PROFILES, four], max_offers=4)
    seen: list[tuple[str, str, str]] = []
    service.app.manager.listeners.append(lambda r, prev: seen.append((r.uuid, prev.value,
                                                                      r.phase.value)))
    doc = request(cores=2)
    doc["compute"]["cores"]["max"] = 4
    offers = (await client.post(service.base + "requests", json=doc)).json()["offers"]
    assert len(offers) >= 2
    chosen = offers[1]["meta"]["uuid"]
    await client.post(service.base + f"sessions/{chosen}", json=ACCEPT)
    assert (chosen, "OFFERED", "ACCEPTED") in seen
    for other in offers:
        if other["meta"]["uuid"] != chosen:
            assert (other["meta"]["uuid"], "OFFERED", "REJECTED") in seen
            assert not service.app.manager.calendar.has(other["meta"]["uuid"])
    assert service.app.manager.calendar.has(chosen)


async def test_yaml_and_json_negotiation(start_service, client) -> None:
    service = await start_service()
    as_yaml = await client.post(service.base + "requests", json=request(),
                                headers={"Accept": "application/yaml"})
    assert as_yaml.headers["content-type"].startswith("application/yaml")
    assert yaml.safe_load(as_yaml.text)["result"] == "YES"  # quoted: a bare YES is a YAML 1.1 bool
    q = await client.post(service.base + "requests", json=request(),
                          headers={"Accept": "application/yaml;q=0.5, application/json;q=0.9"})
    assert q.headers["content-type"].startswith("application/json")
    err = await client.post(service.base + "requests", content=b"a: [",
                            headers={"Content-Type": "application/yaml"})
    assert err.status_code == 400 and err.headers["content-type"].startswith("application/yaml")


async def test_service_info_lists_profiles_and_kinds(start_service) -> None:
    service = await start_service()
    async with httpx.AsyncClient() as anonymous:
        info = (await anonymous.get(service.base)).json()
    assert info["profiles"][0]["slug"] == "two"
    assert info["endpoints"]["requests"] == service.base + "requests"
