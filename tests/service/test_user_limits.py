"""Per-user limits on a real server with real hub tokens: one user cannot starve the others."""

from __future__ import annotations

import httpx
from test_service import ACCEPT, request


def other(service_hub, name: str, admin: bool = False) -> httpx.AsyncClient:
    hub, _port, _token = service_hub
    return httpx.AsyncClient(headers={"Authorization": f"token {hub.user_token(name, admin=admin)}"},
                             timeout=30)


def messages(answer: dict) -> str:
    return " ".join(m["message"] for m in answer["meta"].get("messages", []))


async def test_open_offers_past_the_limit_get_a_no_naming_it(start_service, client, service_hub) -> None:
    service = await start_service(max_offers=1, limit_open_offers=2)
    for _ in range(2):
        assert (await client.post(service.base + "requests", json=request())).json()["result"] == "YES"
    third = (await client.post(service.base + "requests", json=request())).json()
    assert third["result"] == "NO"
    assert "ExecPlanner.limit_open_offers = 2" in messages(third)
    async with other(service_hub, "bob") as bob:
        assert (await bob.post(service.base + "requests", json=request())).json()["result"] == "YES"
    # rejecting an offer makes room again
    first = (await client.get(service.base + "sessions", params={"offers": "true"})).json()["sessions"][0]
    reject = {**ACCEPT, "value": "REJECTED"}
    assert (await client.post(first["meta"]["url"], json=reject)).status_code == 200
    assert (await client.post(service.base + "requests", json=request())).json()["result"] == "YES"


async def test_sessions_past_the_limit_are_429_with_retry_after(start_service, client, service_hub) -> None:
    service = await start_service(max_offers=1, limit_sessions=1)
    assert (await client.post(service.base + "direct", json=request())).status_code == 200
    again = await client.post(service.base + "direct", json=request())
    assert again.status_code == 429, again.text
    assert int(again.headers["Retry-After"]) > 3000  # until the one-hour session ends
    assert "ExecPlanner.limit_sessions = 1" in again.json()["message"]
    offer = (await client.post(service.base + "requests", json=request())).json()["offers"][0]
    refused = await client.post(offer["meta"]["url"], json=ACCEPT)
    assert refused.status_code == 429
    assert (await client.get(offer["meta"]["url"])).json()["phase"] == "OFFERED", "nothing changed"
    async with other(service_hub, "admin", admin=True) as admin:  # the broker's admins have no limits
        assert (await admin.post(service.base + "direct", json=request())).status_code == 200
        assert (await admin.post(service.base + "direct", json=request())).status_code == 200


async def test_requests_per_minute(start_service, client, service_hub) -> None:
    service = await start_service(max_offers=1, limit_requests_per_minute=3)
    for _ in range(3):
        assert (await client.post(service.base + "requests", json=request())).status_code == 200
    fourth = await client.post(service.base + "requests", json=request())
    assert fourth.status_code == 429
    assert 0 < int(fourth.headers["Retry-After"]) <= 61
    assert "limit_requests_per_minute = 3" in fourth.json()["message"]
    async with other(service_hub, "bob") as bob:
        assert (await bob.post(service.base + "requests", json=request())).status_code == 200
    assert (await client.get(service.base + "sessions")).status_code == 200, "reads are not counted"


async def test_core_hours_held_ahead(start_service, client) -> None:
    service = await start_service(max_offers=1, limit_core_hours=12)
    big = (await client.post(service.base + "requests", json=request(2, 2, "PT8H"))).json()
    assert big["result"] == "NO"
    assert "ExecPlanner.limit_core_hours = 12" in messages(big)
    small = (await client.post(service.base + "requests", json=request(2, 2, "PT5H"))).json()
    assert small["result"] == "YES"
    # that set holds ~10 core-hours: another 5-hour request would pass the limit
    assert (await client.post(service.base + "requests", json=request(2, 2, "PT5H"))).json()["result"] == "NO"


async def test_snapshot_bytes(start_service, client) -> None:
    service = await start_service(limit_snapshot_bytes=3000)
    files = {"files": {"a.ipynb": "x" * 2000}}
    first = await client.post(service.base + "snapshots", json=files)
    assert first.status_code == 201
    second = await client.post(service.base + "snapshots", json=files)
    assert second.status_code == 429
    assert "ExecPlanner.limit_snapshot_bytes = 3000" in second.json()["message"]
    assert int(second.headers["Retry-After"]) > 0
    deleted = await client.delete(service.base + f"snapshots/{first.json()['uuid']}")
    assert deleted.status_code == 204
    assert (await client.post(service.base + "snapshots", json=files)).status_code == 201
