"""End to end through the broker: a notebook with requirements is fetched into a real server whose
kernel imports a package the base environment does not have; an uninstallable requirement and a
forbidden requirement line end FAILED with the reason. Packages come from a loopback wheel folder."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid as uuidlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hubprocess import RealHub
from loopback import Loopback, write_wheel
from requests_lib import KINDS
from test_sessions_run import Sessions, wait_for
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

from jupyterhub_execplanner import launch
from jupyterhub_execplanner.service.openapi import validate

pytestmark = pytest.mark.e2e

SECRET = "req-" + "2" * 60


@pytest.fixture(scope="module")
def wheel_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loopback]:
    folder = tmp_path_factory.mktemp("req-site")
    notebook = {"cells": [{"cell_type": "code", "metadata": {}, "source": "import tinypkg",
                           "outputs": [], "execution_count": None}],
                "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (folder / "analysis.ipynb").write_text(json.dumps(notebook))
    (folder / "requirements.txt").write_text("# what analysis.ipynb needs\ntinypkg==0.1\n")
    (folder / "unknown.txt").write_text("no-such-package-anywhere==9.9\n")
    (folder / "forbidden.txt").write_text("tinypkg\n-e git+https://example.org/repo.git#egg=x\n")
    (folder / "wheels").mkdir()
    write_wheel(folder / "wheels")
    server = Loopback(folder)
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="module")
def req_hub(tmp_path_factory: pytest.TempPathFactory, wheel_site: Loopback) -> Iterator[RealHub]:
    settings = {
        "profiles": [{"display_name": "Small", "slug": "small",
                      "kubespawner_override": {"cpu_limit": 1, "mem_limit": "1G"}}],
        "capacity": {"default": {"cores": 8, "memory": 16}},
        "prepare_time": 5,
        "max_offers": 1,
        # the admin's installer settings: packages come from the loopback folder only
        "pip_extra_args": ["--no-index", "--find-links", f"{wheel_site.url}/wheels/"],
        "fetch_allowed_hosts": ["127.0.0.0/8"],  # the notebook comes from a loopback site
    }
    hub = RealHub.start(tmp_path_factory.mktemp("req-hub"), settings=settings,
                        env={launch.SECRET_ENV: SECRET})
    try:
        yield hub
    finally:
        hub.stop()


def notebook_request(site: Loopback, requirements: str) -> dict[str, Any]:
    return {
        "executable": {"kind": f"{KINDS}/executable/jupyter-notebook.yaml", "meta": {"name": "analysis"},
                       "location": f"{site.url}/analysis.ipynb",
                       "requirements": requirements},
        "compute": {"kind": f"{KINDS}/compute/simple-compute-resource.yaml"},
        "schedule": {"requested": {"duration": "PT10M"}},
    }


async def execute(base_ws: str, kernel_id: str, token: str, code: str) -> str:
    """Run ``code`` in a kernel over the server's websocket; its stdout."""
    request = HTTPRequest(f"{base_ws}/api/kernels/{kernel_id}/channels",
                          headers={"Authorization": f"token {token}"})
    connection = await websocket_connect(request)
    msg_id = uuidlib.uuid4().hex
    connection.write_message(json.dumps({
        "header": {"msg_id": msg_id, "username": "test", "session": uuidlib.uuid4().hex,
                   "msg_type": "execute_request", "version": "5.3"},
        "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
        "content": {"code": code, "silent": False, "store_history": False, "user_expressions": {},
                    "allow_stdin": False, "stop_on_error": True},
    }))
    # the request's output (stream messages on iopub) may come after its execute_reply (shell): the
    # kernel is done with the request when it goes back to idle for it
    output, status, idle = [], None, False
    while status is None or not idle:
        raw = await connection.read_message()
        assert raw is not None, "the kernel's websocket closed"
        message = json.loads(raw)
        if message.get("parent_header", {}).get("msg_id") != msg_id:
            continue
        kind = message["header"]["msg_type"]
        if kind == "stream":
            output.append(message["content"]["text"])
        elif kind == "error":
            output.append(f"{message['content']['ename']}: {message['content']['evalue']}")
        elif kind == "execute_reply":
            status = message["content"]["status"]
        elif kind == "status" and message["content"].get("execution_state") == "idle":
            idle = True
    connection.close()
    assert status == "ok", output
    return "".join(output)


async def test_kernel_imports_a_requirement_the_base_lacks(req_hub: RealHub, wheel_site: Loopback) -> None:
    base = subprocess.run([sys.executable, "-c", "import tinypkg"], capture_output=True)
    assert base.returncode != 0, "the base environment must not have tinypkg for this test to mean much"
    alice = Sessions(req_hub, "alice")
    uuid = alice.accept_new(notebook_request(wheel_site, "requirements.txt"))["meta"]["uuid"]
    session = alice.wait_phase(uuid, {"AVAILABLE", "RUNNING"}, 90)
    validate(session, "ExecutionSession")
    (connector,) = session["connectors"]
    assert connector["status"] == "AVAILABLE" and connector["location"].startswith(req_hub.url)
    messages = [m["message"] for m in session["meta"]["messages"]]
    assert any("installing 1 requirement" in m for m in messages), messages
    name = launch.server_name_for(uuid)
    token = alice.broker.token
    http_base = f"{req_hub.url}/user/alice/{name}"
    headers = {"Authorization": f"token {token}"}
    path = f"execplanner/{name}/analysis.ipynb"
    notebook = httpx.get(f"{http_base}/api/contents/{path}", headers=headers, timeout=30).json()
    kernel_name = notebook["content"]["metadata"]["kernelspec"]["name"]
    assert kernel_name == f"execplanner-{name}"
    kernel = httpx.post(f"{http_base}/api/kernels", json={"name": kernel_name}, headers=headers,
                        timeout=60)
    assert kernel.status_code == 201, kernel.text
    printed = await execute(http_base.replace("http://", "ws://"), kernel.json()["id"], token,
                            "import tinypkg, sys; print(tinypkg.VALUE, sys.prefix)")
    value, prefix = printed.split()
    assert value == "42"
    assert prefix != sys.prefix, "the kernel runs in the session's own environment"
    cancelled = alice.broker.accept(uuid, "CANCELLED")
    assert cancelled.json()["phase"] == "CANCELLED"
    wait_for(lambda: alice.server(uuid).status_code == 404, 30, "the server to be removed")


@pytest.mark.parametrize(
    ("requirements", "expected"),
    [("unknown.txt", "no version of one of the requirements could be found"),
     ("forbidden.txt", "line 2")],
    ids=["uninstallable", "forbidden-line"],
)
def test_bad_requirements_fail_with_the_reason(req_hub: RealHub, wheel_site: Loopback,
                                               requirements: str, expected: str) -> None:
    bob = Sessions(req_hub, "bob")
    uuid = bob.accept_new(notebook_request(wheel_site, requirements))["meta"]["uuid"]
    session = bob.wait_phase(uuid, {"FAILED"}, 90)
    errors = [m["message"] for m in session["meta"]["messages"] if m["level"] == "ERROR"]
    assert any(expected in m for m in errors), errors
    assert not any("Traceback" in m for m in errors), errors
    # messages never quote what was fetched: neither the requirements file's lines nor pip's output
    fetched = (wheel_site.folder / requirements).read_text()
    for quoted in ("no-such-package-anywhere", "git+https", "example.org/repo"):
        if quoted in fetched:
            assert not any(quoted in m for m in errors), errors
    wait_for(lambda: bob.server(uuid).status_code == 404, 30, "the failed server to be removed")
