"""``snapshots``: upload by a user, download by anyone holding the URL, expiry, limits, bad bodies."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import httpx
import pytest
from service_support import Clock

from jupyterhub_execplanner.service.openapi import validate

NOTEBOOK = json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5, "note": "é"})


async def upload(client: httpx.AsyncClient, base: str, files: dict[str, str]) -> httpx.Response:
    return await client.post(base + "snapshots", json={"files": files})


async def test_upload_then_fetch_without_a_token(start_service, client, service_hub) -> None:
    clock = Clock()
    service = await start_service(clock, snapshot_lifetime=600)
    response = await upload(client, service.base, {"analysis.ipynb": NOTEBOOK,
                                                   "requirements.txt": "numpy\n", "data.csv": "a,b\n"})
    assert response.status_code == 201, response.text
    doc = response.json()
    validate(doc, "Snapshot")
    assert doc["expires"] == (clock.now + timedelta(seconds=600)).strftime("%Y-%m-%dT%H:%M:%SZ")
    urls = doc["urls"]
    assert set(urls) == {"analysis.ipynb", "requirements.txt", "data.csv"}
    for url in urls.values():
        assert url.startswith(service.base + "snapshots/")  # absolute, on the broker's public URL
    token = urls["analysis.ipynb"].split("/")[-2]
    assert len(token) >= 43 and token == urls["requirements.txt"].split("/")[-2]

    async with httpx.AsyncClient(timeout=30) as anonymous:
        notebook = await anonymous.get(urls["analysis.ipynb"])
        assert notebook.status_code == 200
        assert notebook.content == NOTEBOOK.encode("utf-8")
        assert notebook.headers["content-type"] == "application/x-ipynb+json"
        assert notebook.headers["x-content-type-options"] == "nosniff"
        assert notebook.headers["cache-control"] == "private, no-store"
        requirements = await anonymous.get(urls["requirements.txt"])
        assert requirements.text == "numpy\n"
        assert requirements.headers["content-type"].startswith("text/plain")
        head = await anonymous.head(urls["analysis.ipynb"])  # a link checker's HEAD: not a 405
        assert head.status_code == 200 and head.content == b""
        other = await anonymous.get(urls["data.csv"])
        assert other.headers["content-type"] == "application/octet-stream"

        wrong = urls["analysis.ipynb"].replace(token, token[:-4] + "AAAA")
        assert (await anonymous.get(wrong)).status_code == 404
        missing = urls["analysis.ipynb"].replace("analysis.ipynb", "other.ipynb")
        assert (await anonymous.get(missing)).status_code == 404
        # uploading needs a token
        assert (await anonymous.post(service.base + "snapshots", json={"files": {"a.txt": "x"}})
                ).status_code == 401


async def test_delete_by_owner_only(start_service, client, service_hub) -> None:
    hub, _port, _token = service_hub
    service = await start_service()
    doc = (await upload(client, service.base, {"a.ipynb": NOTEBOOK})).json()
    headers = {"Authorization": f"token {hub.user_token('bob')}"}
    async with httpx.AsyncClient(timeout=30, headers=headers) as bob:
        assert (await bob.delete(service.base + f"snapshots/{doc['uuid']}")).status_code == 404
    assert (await httpx.AsyncClient().get(doc["urls"]["a.ipynb"])).status_code == 200
    admin = {"Authorization": f"token {hub.user_token('admin', admin=True)}"}
    async with httpx.AsyncClient(timeout=30, headers=admin) as boss:
        doc2 = (await upload(client, service.base, {"b.ipynb": NOTEBOOK})).json()
        assert (await boss.delete(service.base + f"snapshots/{doc2['uuid']}")).status_code == 204
    assert (await client.delete(service.base + f"snapshots/{doc['uuid']}")).status_code == 204
    async with httpx.AsyncClient(timeout=30) as anonymous:
        assert (await anonymous.get(doc["urls"]["a.ipynb"])).status_code == 404
        assert (await anonymous.get(doc2["urls"]["b.ipynb"])).status_code == 404
    assert (await client.delete(service.base + f"snapshots/{doc['uuid']}")).status_code == 404


async def test_expiry_by_the_clock_and_the_periodic_loop(start_service, client) -> None:
    clock = Clock()
    service = await start_service(clock, snapshot_lifetime=60)
    doc = (await upload(client, service.base, {"a.ipynb": NOTEBOOK})).json()
    async with httpx.AsyncClient(timeout=30) as anonymous:
        clock.advance(59)
        assert (await anonymous.get(doc["urls"]["a.ipynb"])).status_code == 200
        assert service.app.snapshots.get(doc["uuid"]) is not None
        clock.advance(2)
        assert (await anonymous.get(doc["urls"]["a.ipynb"])).status_code == 404
    for _ in range(40):  # the periodic loop runs every second
        if service.app.snapshots.get(doc["uuid"]) is None:
            break
        await asyncio.sleep(0.1)
    assert service.app.snapshots.get(doc["uuid"]) is None, "the expired snapshot was deleted"


async def test_snapshots_survive_a_restart(start_service, client) -> None:
    first = await start_service()
    doc = (await upload(client, first.base, {"a.ipynb": NOTEBOOK})).json()
    await first.stop()
    await start_service()
    async with httpx.AsyncClient(timeout=30) as anonymous:
        assert (await anonymous.get(doc["urls"]["a.ipynb"])).content == NOTEBOOK.encode()


async def test_size_cap_names_the_setting(start_service, client) -> None:
    service = await start_service(snapshot_max_size=2048)
    fits = await upload(client, service.base, {"a.txt": "x" * 1000, "b.txt": "y" * 1000})
    assert fits.status_code == 201
    response = await upload(client, service.base, {"a.txt": "x" * 1500, "b.txt": "y" * 1500})
    assert response.status_code == 413
    assert "snapshot_max_size" in response.json()["message"]
    # multi-byte characters count as their UTF-8 bytes
    response = await upload(client, service.base, {"a.txt": "é" * 1100})
    assert response.status_code == 413
    huge = await upload(client, service.base, {"a.txt": "z" * 200_000})
    assert huge.status_code == 413 and "snapshot_max_size" in huge.json()["message"]


@pytest.mark.parametrize(
    "body,field",
    [
        (b"{not json", "body"),
        (json.dumps({"files": ["a.ipynb"]}).encode(), "files"),
        (json.dumps({"nofiles": {}}).encode(), "files"),
        (json.dumps({"files": {}}).encode(), "files is empty"),
        (json.dumps({"files": {"dir/a.ipynb": "x"}}).encode(), "slash"),
        (json.dumps({"files": {"..": "x"}}).encode(), "'..'"),
        (json.dumps({"files": {f"f{i}.txt": "x" for i in range(5)}}).encode(), "at most 4"),
        (json.dumps({"files": {"a.txt": 3}}).encode(), "files['a.txt']"),
        (json.dumps([1, 2]).encode(), "files"),
        (b'{"files": {"a.ipynb": "\\ud800"}}', "files['a.ipynb'] holds a lone UTF-16 surrogate"),
        (b'{"files": {"\\ud800.ipynb": "x"}}', "files['?.ipynb'] holds a lone UTF-16 surrogate"),
    ],
)
async def test_bad_bodies_name_the_field(start_service, client, body: bytes, field: str) -> None:
    service = await start_service()
    response = await client.post(service.base + "snapshots", content=body,
                                 headers={"Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    assert field in response.json()["message"]
