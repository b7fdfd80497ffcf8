"""The pre-spawn hook in a real hub: hand-made execplanner options are refused through the REST API
(403, "Spawn failed: ..." in the progress events, no server), even when signed with the hub's own secret
if the broker never issued them, and a launch the broker issued for an accepted session becomes a real
single-user server with the notebook, its kernel and its data, opened as the default URL."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from brokers import Broker
from hubprocess import RealHub
from loopback import Loopback, write_wheel
from requests_lib import KINDS

from jupyterhub_execplanner import launch
from jupyterhub_execplanner.launch import DataItem, LaunchSpec

pytestmark = pytest.mark.e2e

SECRET = "e2e-launch-secret"
NOTEBOOK = {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loopback]:
    folder = tmp_path_factory.mktemp("site")
    (folder / "wheels").mkdir()
    write_wheel(folder / "wheels")
    (folder / "analysis.ipynb").write_text(json.dumps(NOTEBOOK))
    (folder / "requirements.txt").write_text("tinypkg\n")
    (folder / "table.csv").write_text("a,b\n")
    server = Loopback(folder)
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="module")
def hook_hub(tmp_path_factory: pytest.TempPathFactory, site: Loopback) -> Iterator[RealHub]:
    hub = RealHub.start(
        tmp_path_factory.mktemp("hook-hub"),
        # the notebook, requirements and data come from a loopback site (not allowed by default)
        settings={"pip_extra_args": ["--no-index", "--find-links", f"{site.url}/wheels/"],
                  "fetch_allowed_hosts": ["127.0.0.0/8"]},
        env={launch.SECRET_ENV: SECRET},  # the hub (and its service) sign with this one
    )
    try:
        yield hub
    finally:
        hub.stop()


def spec_for(user: str, session: str, site: Loopback, **changes: Any) -> LaunchSpec:
    values: dict[str, Any] = dict(
        session=session, owner=user, server_name=launch.server_name_for(session), profile="default",
        cores=1, memory=1, end="2030-01-01T00:00:00Z", notebook=f"{site.url}/analysis.ipynb",
        requirements="requirements.txt", data=(DataItem("table.csv", f"{site.url}/table.csv"),),
    )
    values.update(changes)
    return LaunchSpec(**values)


def progress(hub: RealHub, user: str, server: str) -> list[dict]:
    events = []
    with httpx.stream("GET", f"{hub.url}/hub/api/users/{user}/servers/{server}/progress",
                      headers={"Authorization": f"token {hub.admin_token}"}, timeout=60) as response:
        for line in response.iter_lines():
            if line.startswith("data:"):
                events.append(json.loads(line[5:]))
    return events


def test_hand_made_options_are_refused(hook_hub: RealHub, site: Loopback) -> None:
    hook_hub.user_token("mallory")
    spec = spec_for("mallory", "0badc0de-0000-4000-8000-000000000001", site)
    options = launch.to_user_options(spec, "not-the-hubs-secret")
    response = hook_hub.api("POST", f"users/mallory/servers/{spec.server_name}",
                            json={"display_name": "forged", "user_options": options})
    assert response.status_code == 403, response.text
    message = response.json()["message"]
    assert "was not started: the execplanner launch is not signed by this hub's broker" in message
    events = progress(hook_hub, "mallory", spec.server_name)
    assert events[-1]["failed"] is True
    assert events[-1]["message"] == f"Spawn failed: {message}"
    model = hook_hub.api("GET", "users/mallory").json()
    server = model["servers"].get(spec.server_name)
    assert server is None or not (server["ready"] or server["pending"])


def test_a_launch_the_broker_never_issued_is_refused(hook_hub: RealHub, site: Loopback) -> None:
    """Signed with the hub's own secret, but for no session of the broker: the claim fails."""
    hook_hub.user_token("trudy")
    spec = spec_for("trudy", "7e57ab1e-0000-4000-8000-000000000003", site)
    response = hook_hub.api("POST", f"users/trudy/servers/{spec.server_name}",
                            json={"user_options": launch.to_user_options(spec, SECRET)})
    assert response.status_code == 403, response.text
    assert "was not started: the broker has no such session" in response.json()["message"]
    server = hook_hub.api("GET", "users/trudy").json()["servers"].get(spec.server_name)
    assert server is None or not (server["ready"] or server["pending"])


def test_an_accepted_session_becomes_a_preloaded_server(hook_hub: RealHub, site: Loopback) -> None:
    token = hook_hub.user_token("alice")
    broker = Broker(hook_hub.broker, token)
    request = {
        "executable": {"kind": f"{KINDS}/executable/jupyter-notebook.yaml", "meta": {"name": "analysis"},
                       "location": f"{site.url}/analysis.ipynb", "requirements": "requirements.txt"},
        "data": [{"kind": f"{KINDS}/data/simple-data-resource.yaml", "meta": {"name": "table.csv"},
                  "location": f"{site.url}/table.csv"}],
        "compute": {"kind": f"{KINDS}/compute/simple-compute-resource.yaml"},
        "schedule": {"requested": {"duration": "PT10M"}},
    }
    started = time.monotonic()
    session = broker.post("direct", json=request).json()
    uuid = session["meta"]["uuid"]
    deadline = time.monotonic() + 90
    while session["phase"] not in ("AVAILABLE", "RUNNING"):
        assert session["phase"] != "FAILED" and time.monotonic() < deadline, (
            session["meta"]["messages"], hook_hub.log_tail())
        time.sleep(0.5)
        session = broker.get(f"sessions/{uuid}").json()
    elapsed = time.monotonic() - started
    server_name = launch.server_name_for(uuid)
    server = hook_hub.api("GET", "users/alice").json()["servers"][server_name]
    spec = LaunchSpec.from_dict(server["user_options"][launch.LAUNCH_OPTION])
    assert spec.session == uuid and spec.nonce, "the launch the broker issued, with its nonce"
    headers = {"Authorization": f"token {token}"}
    base = f"{hook_hub.url}/user/alice/{server_name}"
    path = launch.notebook_path(spec)
    try:
        notebook = httpx.get(f"{base}/api/contents/{path}", headers=headers, timeout=30)
        assert notebook.status_code == 200, notebook.text
        kernel = f"execplanner-{server_name}"
        assert notebook.json()["content"]["metadata"]["kernelspec"]["name"] == kernel
        specs = httpx.get(f"{base}/api/kernelspecs", headers=headers, timeout=30).json()
        assert specs["kernelspecs"][kernel]["spec"]["display_name"] == "Python (analysis.ipynb)"
        (data,) = spec.data  # downloaded where the offer placed it, in the session's folder
        table = f"{launch.session_folder(spec)}/{data.mount}"
        assert httpx.get(f"{base}/api/contents/{table}", headers=headers, timeout=30).status_code == 200
        # the default URL opens the notebook in JupyterLab
        lab = httpx.get(f"{base}/", headers=headers, timeout=30)
        assert lab.status_code in (301, 302)
        assert lab.headers["location"].split("?")[0].endswith(f"/lab/tree/{path}")
        print(f"accepted session with one requirement ready in {elapsed:.1f} s")
    finally:
        broker.accept(uuid, "CANCELLED")


def test_servers_without_options_are_ordinary(hook_hub: RealHub) -> None:
    hook_hub.user_token("olga")
    response = hook_hub.api("POST", "users/olga/servers/plain", json={"display_name": "plain"})
    assert response.status_code in (201, 202), response.text
    events = progress(hook_hub, "olga", "plain")
    try:
        assert events[-1].get("ready"), events
        assert events[-1]["url"] == "/user/olga/plain/"
    finally:
        hook_hub.api("DELETE", "users/olga/servers/plain")
