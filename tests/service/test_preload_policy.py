"""The preload's notebook and requirements fetches under the hub's policy, over real loopback servers:
the address policy (loopback refused unless allowed), the source lists (data_denied_sources and
data_allowed_sources now apply to them too), the one exception (this broker's snapshot on the hub's
own address; traversal in any spelling is refused before anything is sent), messages that never quote
what a server sent, the line cap, and a reason too long for one report reaching the session cut."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from loopback import Loopback

from jupyterhub_execplanner import launch
from jupyterhub_execplanner.launch import LaunchSpec
from jupyterhub_execplanner.singleuser import preload
from jupyterhub_execplanner.singleuser.fetch import FetchError, stream
from jupyterhub_execplanner.singleuser.plan import PreloadPlan
from jupyterhub_execplanner.singleuser.report import MAX_MESSAGE, Reporter
from jupyterhub_execplanner.singleuser.requirements import RequirementRefused

SESSION = "5a1d0c3e-0000-4000-8000-00000000abcd"
LOOPBACK = ("127.0.0.0/8", "::1", "localhost")  # allowed explicitly, as an admin would
TOKEN = "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-ab"
SNAPSHOTS = "/services/execplanner/snapshots/"
NOTEBOOK = json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}).encode()
SECRET = "preload-policy-secret-" + "7" * 40


class Site:
    """A loopback server with fixed answers, recording every request line it gets (method, raw path).
    ``routes`` maps a path to (status, headers, body); a body of bytes starting with ``RAW:`` is sent
    as the whole answer, status line included."""

    def __init__(self, routes: dict[str, tuple[int, dict[str, str], bytes]], host: str = "127.0.0.1") -> None:
        self.routes, self.seen = routes, []
        seen = self.seen

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                seen.append(("GET", self.path))
                status, headers, body = routes.get(self.path, (404, {}, b"no such file"))
                if body.startswith(b"RAW:"):
                    self.wfile.write(body[len(b"RAW:"):])
                    return
                reason = headers.pop("X-Reason", None)
                self.send_response(status, reason)
                for key, value in {"Content-Length": str(len(body)), **headers}.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.url = f"http://{host}:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


ROUTES = {
    "/nb/analysis.ipynb": (200, {}, NOTEBOOK),
    "/nb/requirements.txt": (200, {}, b"# nothing to install\n"),
    f"{SNAPSHOTS}{TOKEN}/analysis.ipynb": (200, {}, NOTEBOOK),
    f"{SNAPSHOTS}{TOKEN}/requirements.txt": (200, {}, b"# nothing to install\n"),
    f"{SNAPSHOTS}{TOKEN}/to-the-api.ipynb": (302, {"Location": "/hub/api/users"}, b""),
    "/hub/api/users": (200, {}, NOTEBOOK),  # what must not be reached through the exception
    "/secret/reason.ipynb": (404, {"X-Reason": "SECRET-REASON"}, b"SECRET-BODY"),
    "/secret/page.ipynb": (200, {}, b"<html>SECRET-CONTENT</html>"),
    "/secret/status.ipynb": (200, {}, b"RAW:SECRET-STATUS-LINE\r\n\r\n"),
    "/many.txt": (200, {}, b"a\nb\n# c\n\nd\n"),
}


@pytest.fixture
def site() -> Iterator[Site]:
    server = Site(dict(ROUTES))
    yield server
    server.close()


class Lines:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def info(self, message: str) -> None:
        self.lines.append(message)


def plan_for(notebook: str, requirements: str | None = "requirements.txt", **changes: Any) -> PreloadPlan:
    spec = LaunchSpec(session=SESSION, owner="alice", server_name=launch.server_name_for(SESSION),
                      profile="small", cores=1, memory=1, end="2030-01-01T00:00:00Z", notebook=notebook,
                      requirements=requirements)
    return PreloadPlan(spec=spec, timeout=10, **changes)


def fetch(plan: PreloadPlan, tmp_path: Path) -> tuple[dict | None, dict | None]:
    """The notebook and the requirements' kernelspec, as the preload fetches them."""
    folder = tmp_path / "session"
    folder.mkdir(exist_ok=True)
    notebook, _ = preload._notebook(plan, tmp_path, Lines())  # type: ignore[arg-type]
    return notebook, preload._environment(plan, folder, Lines())  # type: ignore[arg-type]


def test_loopback_is_refused_unless_the_admin_allows_it(site: Site, tmp_path: Path) -> None:
    url = f"{site.url}/nb/analysis.ipynb"
    with pytest.raises(FetchError) as caught:
        fetch(plan_for(url), tmp_path)
    assert str(caught.value) == (
        f"the notebook at {url} was not fetched: 127.0.0.1 is not an address this hub fetches from "
        "(loopback, private, link-local, reserved and the hub's own addresses are refused unless "
        "c.ExecPlanner.fetch_allowed_hosts allows them); use a public URL, or ask the hub's administrator "
        "to allow the host")
    assert site.seen == []
    with pytest.raises(FetchError, match=r"^the requirements file at .* was not fetched: 127.0.0.1 is not"):
        preload._environment(plan_for(url), tmp_path, Lines())  # type: ignore[arg-type]
    assert site.seen == []
    notebook, kernel = fetch(plan_for(url, fetch_allowed_hosts=LOOPBACK), tmp_path)
    assert notebook is not None and notebook["nbformat"] == 4 and kernel is None  # nothing to install
    assert site.seen == [("GET", "/nb/analysis.ipynb"), ("GET", "/nb/requirements.txt")]


def test_the_source_lists_apply_to_the_notebook_and_requirements(site: Site, tmp_path: Path) -> None:
    url = f"{site.url}/nb/analysis.ipynb"
    denied = plan_for(url, fetch_allowed_hosts=LOOPBACK, data_denied_sources=(f"{site.url}/nb/",))
    with pytest.raises(FetchError, match=f"a source this hub's policy forbids: data_denied_sources has "
                                         f"'{site.url}/nb/'"):
        fetch(denied, tmp_path)
    elsewhere = plan_for(url, fetch_allowed_hosts=LOOPBACK, data_allowed_sources=("archive.example.org",))
    with pytest.raises(FetchError, match="it is not in data_allowed_sources"):
        fetch(elsewhere, tmp_path)
    only_requirements = plan_for(url, fetch_allowed_hosts=LOOPBACK,
                                 data_denied_sources=(f"{site.url}/nb/requirements",))
    with pytest.raises(FetchError, match=r"^the requirements file at .* forbids: data_denied_sources"):
        fetch(only_requirements, tmp_path)
    assert site.seen == [("GET", "/nb/analysis.ipynb")]  # the notebook of the last plan only


def snapshot_plan(site: Site, name: str = "analysis.ipynb", **changes: Any) -> PreloadPlan:
    """The hub is the site (its URL is the hub's own); the admin allows no internal host and lists
    the archives data may come from."""
    values: dict[str, Any] = dict(hub_urls=(f"{site.url}/hub/api",), snapshot_paths=(SNAPSHOTS,),
                                  data_allowed_sources=("https://archive.example.org/",))
    values.update(changes)
    return plan_for(f"{site.url}{SNAPSHOTS}{TOKEN}/{name}", **values)


def test_the_brokers_snapshot_on_the_hub_is_fetched(site: Site, tmp_path: Path) -> None:
    notebook, kernel = fetch(snapshot_plan(site), tmp_path)
    assert notebook is not None and kernel is None
    assert site.seen == [("GET", f"{SNAPSHOTS}{TOKEN}/analysis.ipynb"),
                         ("GET", f"{SNAPSHOTS}{TOKEN}/requirements.txt")]


TRAVERSALS = [
    f"{SNAPSHOTS}../../hub/api/users",
    f"{SNAPSHOTS}{TOKEN}/../../../hub/api/users",
    f"{SNAPSHOTS}%2e%2e/%2e%2e/hub/api/users",
    f"{SNAPSHOTS}{TOKEN}%2F..%2F..%2F..%2Fhub%2Fapi%2Fusers",
    f"{SNAPSHOTS}%252e%252e/%252e%252e/hub/api/users",
    f"{SNAPSHOTS}{TOKEN}/..%5c..%5c..%5chub%5capi%5cusers",
    f"{SNAPSHOTS}./{TOKEN}/analysis.ipynb",
    f"{SNAPSHOTS}{TOKEN}/analysis.ipynb?x=/../../hub/api/users",
    f"{SNAPSHOTS}{TOKEN}/sub/analysis.ipynb",
    "/hub/api/users",
    "/nb/analysis.ipynb",
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_nothing_else_on_the_hub_is_fetched(site: Site, tmp_path: Path, path: str) -> None:
    plan = plan_for(f"{site.url}{path}", requirements=None, hub_urls=(f"{site.url}/hub/api",),
                    snapshot_paths=(SNAPSHOTS,))
    with pytest.raises(FetchError, match="127.0.0.1 is not an address this hub fetches from"):
        fetch(plan, tmp_path)
    assert site.seen == []


def test_the_exception_is_narrow(site: Site, tmp_path: Path) -> None:
    # a redirect from the snapshot to the hub's API is a new connection, refused
    with pytest.raises(FetchError, match="127.0.0.1 is not an address this hub fetches from"):
        fetch(snapshot_plan(site, "to-the-api.ipynb", data_allowed_sources=()), tmp_path)
    assert ("GET", "/hub/api/users") not in site.seen
    # data is never fetched from the hub, snapshot or not
    policy = preload.fetch_policy(snapshot_plan(site, data_allowed_sources=()))
    with pytest.raises(FetchError, match="127.0.0.1 is not an address this hub fetches from"):
        stream(f"{site.url}{SNAPSHOTS}{TOKEN}/analysis.ipynb", io.BytesIO(), max_size=10**6, timeout=10,
               what="data", policy=policy)
    # a denied source stays denied
    denied = snapshot_plan(site, data_denied_sources=(f"{site.url}/",))
    with pytest.raises(FetchError, match="data_denied_sources has"):
        fetch(denied, tmp_path)
    # the same path on another loopback address is not the hub
    other = Site(dict(ROUTES), host="127.0.0.2")
    try:
        plan = plan_for(f"{other.url}{SNAPSHOTS}{TOKEN}/analysis.ipynb", requirements=None,
                        hub_urls=(f"{site.url}/hub/api",), snapshot_paths=(SNAPSHOTS,))
        with pytest.raises(FetchError, match="127.0.0.2 is not an address this hub fetches from"):
            fetch(plan, tmp_path)
        assert other.seen == []
    finally:
        other.close()
    assert site.seen == [("GET", f"{SNAPSHOTS}{TOKEN}/to-the-api.ipynb")]


@pytest.mark.parametrize(("path", "expected"), [
    ("/secret/reason.ipynb", "could not be fetched: HTTP 404"),
    ("/secret/page.ipynb",
     "is not a Jupyter notebook (a JSON document of nbformat 4 with 'cells' is expected)"),
    ("/secret/status.ipynb", "could not be fetched: the answer is not valid HTTP (BadStatusLine)"),
])
def test_messages_never_quote_what_the_server_sent(site: Site, tmp_path: Path, path: str,
                                                   expected: str) -> None:
    url = f"{site.url}{path}"
    with pytest.raises((FetchError, preload.NotebookError)) as caught:
        fetch(plan_for(url, requirements=None, fetch_allowed_hosts=LOOPBACK), tmp_path)
    assert str(caught.value) == f"the notebook at {url} {expected}"
    assert "SECRET" not in str(caught.value).replace(url, "")


def test_the_number_of_requirement_lines_is_the_plans(site: Site, tmp_path: Path) -> None:
    plan = plan_for(f"{site.url}/nb/analysis.ipynb", requirements=f"{site.url}/many.txt",
                    fetch_allowed_hosts=LOOPBACK, requirements_max_lines=2)
    with pytest.raises(RequirementRefused, match=r"has 3 requirement lines; this hub installs at most 2 "
                                                 r"\(c.ExecPlanner.requirements_max_lines\)"):
        preload._environment(plan, tmp_path, Lines())  # type: ignore[arg-type]


def test_a_megabyte_line_fails_the_session_with_a_short_reason(tmp_path: Path) -> None:
    """Through the preload as the server runs it: the reason names the line and is short."""
    (tmp_path / "site" / "nb").mkdir(parents=True)
    (tmp_path / "site" / "nb" / "analysis.ipynb").write_bytes(NOTEBOOK)
    (tmp_path / "site" / "nb" / "requirements.txt").write_text("numpy\n" + "x" * (1000 * 1024) + " ==>1\n")
    server = Loopback(tmp_path / "site")
    try:
        plan = plan_for(f"{server.url}/nb/analysis.ipynb", report_url=f"{server.url}/progress",
                        report_token="t", fetch_allowed_hosts=LOOPBACK, root_dir=str(tmp_path / "home"))
        command = [sys.executable, "-m", "jupyterhub_execplanner.singleuser", "--", sys.executable, "-c",
                   "print('STARTED')"]
        done = subprocess.run(command, env={**os.environ, launch.PRELOAD_ENV: plan.to_json()},
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 1 and "STARTED" not in done.stdout
        [failed] = [r for r in server.reports if r["failed"]]
        assert failed["message"] == (f"requirements line 2: not a package requirement; name packages only, "
                                     f'e.g. "numpy>=1.26" or "astropy[all]==6.1" (in {server.url}/nb/'
                                     "requirements.txt)")
    finally:
        server.close()


KINDS = "https://www.purl.org/ivoa.net/Calycopis-openapi/schema/v1.0/kinds"


async def test_a_long_reason_reaches_the_session_cut(start_service, client,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(launch.SECRET_ENV, SECRET)
    service = await start_service()
    request = {
        "executable": {"kind": f"{KINDS}/executable/jupyter-notebook.yaml", "meta": {"name": "nb"}},
        "compute": {"kind": f"{KINDS}/compute/simple-compute-resource.yaml", "cores": {"min": 2},
                    "memory": {"min": 2}},
        "schedule": {"requested": {"duration": "PT10M"}},
    }
    answer = (await client.post(service.base + "requests", json=request)).json()
    assert answer["result"] == "YES", answer["meta"]["messages"]
    offer = answer["offers"][0]
    uuid, url = offer["meta"]["uuid"], offer["meta"]["url"]
    reason = "pip could not install the requirements (exit status 1): " + "y" * (2 * 1024 * 1024)
    # as it was: the whole reason in one report is refused, and the session would never say why
    token = launch.report_token(SECRET, uuid)
    raw = await client.post(url + "/progress", json={"message": reason, "failed": True},
                            headers={"Authorization": f"{launch.REPORT_SCHEME} {token}"})
    assert raw.status_code != 204
    Reporter(url + "/progress", token, timeout=10).failed(reason)
    messages = [m["message"] for m in (await client.get(url)).json()["meta"]["messages"]]
    [kept] = [m for m in messages if m.startswith("pip could not install")]
    assert len(kept) == MAX_MESSAGE and kept.endswith("…") and reason.startswith(kept[:-1])
