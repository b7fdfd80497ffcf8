"""The size probe over real HTTP on loopback: Content-Length, 404, a server that never answers,
redirects re-checked against the source policy (in the probe and in the preload's download), the cap
on the URLs of one request; and in the service: the caller's budget bounds the probe, and a loop visit
probes nothing."""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from loopback import Loopback, Silent

from jupyterhub_execplanner import launch
from jupyterhub_execplanner.launch import DataItem, LaunchSpec
from jupyterhub_execplanner.platform.datasets import DataConfig
from jupyterhub_execplanner.platform.probe import MAX_PROBES, MAX_REDIRECTS, probe_sizes
from jupyterhub_execplanner.singleuser.fetch import FetchError, stream
from jupyterhub_execplanner.singleuser.plan import PreloadPlan

SIZE = 123_456
KINDS = "https://www.purl.org/ivoa.net/Calycopis-openapi/schema/v1.0/kinds"


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Loopback]:
    (tmp_path / "survey").mkdir()
    (tmp_path / "survey" / "cat.fits").write_bytes(b"x" * SIZE)
    server = Loopback(tmp_path)
    yield server
    server.close()


@pytest.fixture
def silent() -> Iterator[str]:
    """A port that accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/never"
    listener.close()


class Redirector:
    """Serves ``folder`` on loopback and records every request (method, path). ``/hop/<n>/<path>``
    redirects (302) to ``/hop/<n-1>/<path>``, and ``/hop/0/<path>`` to ``/<path>``."""

    def __init__(self, folder: Path) -> None:
        seen: list[tuple[str, str]] = []
        self.seen = seen

        class Handler(SimpleHTTPRequestHandler):
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, directory=str(folder), **kwargs)

            def _redirect(self) -> bool:
                seen.append((self.command, self.path))
                parts = self.path.split("/", 3)  # '', 'hop', n, rest
                if len(parts) == 4 and parts[1] == "hop" and parts[2].isdigit():
                    n = int(parts[2])
                    self.send_response(302)
                    self.send_header("Location", f"/hop/{n - 1}/{parts[3]}" if n else f"/{parts[3]}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return True
                return False

            def do_HEAD(self) -> None:  # noqa: N802
                if not self._redirect():
                    super().do_HEAD()

            def do_GET(self) -> None:  # noqa: N802
                if not self._redirect():
                    super().do_GET()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def redirector(tmp_path: Path) -> Iterator[Redirector]:
    for part in ("public", "private"):
        (tmp_path / "r" / part).mkdir(parents=True)
        (tmp_path / "r" / part / "cat.fits").write_bytes(b"y" * SIZE)
    server = Redirector(tmp_path / "r")
    yield server
    server.close()


async def test_probe_sizes(site: Loopback, silent: str) -> None:
    found_url, missing = f"{site.url}/survey/cat.fits", f"{site.url}/survey/none.fits"
    started = time.monotonic()
    probes = await probe_sizes([found_url, missing, silent, found_url], timeout=1.0)
    elapsed = time.monotonic() - started
    assert list(probes) == [found_url, missing, silent]  # each URL once
    assert probes[found_url].size == SIZE and probes[found_url].status == 200
    assert probes[missing].size is None and probes[missing].status == 404
    assert probes[silent].size is None and "within 1 s" in (probes[silent].error or "")
    assert elapsed < 3  # concurrently, bounded by the timeout


async def test_nothing_to_probe() -> None:
    assert await probe_sizes([]) == {}


# -- redirects ------------------------------------------------------------------------------------


async def test_probe_follows_allowed_redirects_and_stops_at_a_forbidden_one(redirector: Redirector) -> None:
    url = redirector.url
    denied = DataConfig(denied=(f"{url}/private/",))
    allowed_only = DataConfig(allowed=(f"{url}/hop/", f"{url}/public/"))
    fine, to_denied, outside = (f"{url}/hop/2/public/cat.fits", f"{url}/hop/0/private/cat.fits",
                                f"{url}/hop/1/private/cat.fits")
    probes = await probe_sizes([fine, to_denied], timeout=5, config=denied)
    assert probes[fine].size == SIZE, probes[fine]  # three redirects within the policy
    assert probes[to_denied].size is None
    assert probes[to_denied].error == (f"HEAD was redirected to {url}/private/cat.fits, a source this hub's "
                                       f"policy forbids: data_denied_sources has '{url}/private/'")
    assert ("HEAD", "/private/cat.fits") not in redirector.seen  # never asked
    [probe] = (await probe_sizes([outside], timeout=5, config=allowed_only)).values()
    assert probe.size is None and "it is not in data_allowed_sources" in (probe.error or ""), probe
    assert ("HEAD", "/hop/0/private/cat.fits") in redirector.seen  # followed while allowed
    assert ("HEAD", "/private/cat.fits") not in redirector.seen
    # without a policy the same redirect is followed (the check above is what stops it)
    [probe] = (await probe_sizes([to_denied], timeout=5)).values()
    assert probe.size == SIZE and ("HEAD", "/private/cat.fits") in redirector.seen


async def test_probe_follows_at_most_five_redirects(redirector: Redirector) -> None:
    url = redirector.url
    ok = f"{url}/hop/{MAX_REDIRECTS - 1}/public/cat.fits"
    too_many = f"{url}/hop/{MAX_REDIRECTS}/public/cat.fits"
    probes = await probe_sizes([ok, too_many], timeout=5)
    assert probes[ok].size == SIZE
    assert probes[too_many].size is None
    assert probes[too_many].error == f"HEAD was redirected more than {MAX_REDIRECTS} times"


async def test_probe_measures_at_most_the_cap(redirector: Redirector) -> None:
    urls = [f"{redirector.url}/public/cat.fits?{i}" for i in range(MAX_PROBES + 5)]
    probes = await probe_sizes(urls, timeout=5)
    assert list(probes) == urls
    assert [p.size for p in probes.values()][:MAX_PROBES] == [SIZE] * MAX_PROBES
    assert len([m for m, _ in redirector.seen if m == "HEAD"]) == MAX_PROBES
    for url in urls[MAX_PROBES:]:
        assert probes[url].size is None
        assert probes[url].error == f"not measured: this hub measures at most {MAX_PROBES} URLs of a request"


def test_download_stops_at_a_redirect_to_a_forbidden_source(redirector: Redirector) -> None:
    url = redirector.url
    denied = DataConfig(denied=(f"{url}/private/",))
    out = io.BytesIO()
    assert stream(f"{url}/hop/2/public/cat.fits", out, max_size=10**6, timeout=10, what="data resource 'a'",
                  policy=denied) == SIZE
    with pytest.raises(FetchError) as caught:
        stream(f"{url}/hop/1/private/cat.fits", io.BytesIO(), max_size=10**6, timeout=10,
               what="data resource 'b'", policy=denied)
    assert str(caught.value) == (
        f"the data resource 'b' at {url}/hop/0/private/cat.fits redirects to {url}/private/cat.fits, a "
        f"source this hub's policy forbids: data_denied_sources has '{url}/private/'")
    assert ("GET", "/private/cat.fits") not in redirector.seen
    with pytest.raises(FetchError, match="it is not in data_allowed_sources"):
        stream(f"{url}/hop/0/private/cat.fits", io.BytesIO(), max_size=10**6, timeout=10, what="data",
               policy=DataConfig(allowed=(f"{url}/hop/",)))
    with pytest.raises(FetchError, match="redirect"):
        stream(f"{url}/hop/{MAX_REDIRECTS}/public/cat.fits", io.BytesIO(), max_size=10**6, timeout=10,
               what="data")


def test_the_preload_gets_the_policy_from_the_plan(tmp_path: Path, redirector: Redirector) -> None:
    url = redirector.url
    session = "5a1d0c3e-0000-4000-8000-00000000000f"
    spec = LaunchSpec(session=session, owner="alice", server_name=launch.server_name_for(session),
                      profile="small", cores=1, memory=1, end="2030-01-01T00:00:00Z",
                      data=(DataItem("cat", f"{url}/hop/1/private/cat.fits", "stage", "data/cat", None, SIZE,
                                     1.0),))
    plan = PreloadPlan(spec=spec, timeout=10, root_dir=str(tmp_path / "home"),
                       data_denied_sources=(f"{url}/private/",))
    assert PreloadPlan.from_json(plan.to_json()) == plan
    env = {**os.environ, launch.PRELOAD_ENV: plan.to_json()}
    done = subprocess.run([sys.executable, "-m", "jupyterhub_execplanner.singleuser", "--", sys.executable,
                           "-c", "print('STARTED')"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "STARTED" not in done.stdout, done.stderr
    assert f"a source this hub's policy forbids: data_denied_sources has '{url}/private/'" in done.stderr
    assert ("GET", "/private/cat.fits") not in redirector.seen
    assert not (tmp_path / "home" / launch.session_folder(spec) / "data" / "cat").exists()


# -- in the service: the probe comes after the route, within the caller's budget -------------------------


def data_request(location: str) -> dict[str, Any]:
    return {
        "executable": {"kind": f"{KINDS}/executable/jupyter-notebook.yaml", "meta": {"name": "nb"}},
        "compute": {"kind": f"{KINDS}/compute/simple-compute-resource.yaml",
                    "cores": {"min": 2}, "memory": {"min": 2}},
        "data": [{"kind": f"{KINDS}/data/simple-data-resource.yaml", "meta": {"name": "cat"},
                  "location": location}],
        "schedule": {"requested": {"duration": "PT10M"}},
    }


def texts(doc: dict[str, Any]) -> list[str]:
    return [m["message"] for o in doc.get("offers", []) for m in o["meta"].get("messages", [])]


async def test_the_callers_budget_bounds_the_probe(start_service, client, silent: str) -> None:
    service = await start_service(data_probe_timeout=5.0)
    started = time.monotonic()
    response = await client.post(service.base + "requests", json=data_request(silent),
                                 headers={"X-Execplanner-Timeout": "1"})
    elapsed = time.monotonic() - started
    assert response.status_code == 200, response.text
    doc = response.json()
    assert doc["result"] == "YES", doc["meta"]["messages"]
    # budget(1 s) = 1 * 0.8 - 0.2: the aggregator still gets the answer in time
    assert any("no answer to HEAD within 0.6 s" in t for t in texts(doc)), texts(doc)
    assert elapsed < 3, elapsed  # not the 5 s of data_probe_timeout


async def test_a_loop_visit_probes_nothing(start_service, client, redirector: Redirector) -> None:
    peer = Silent()
    try:
        service = await start_service(peers=[{"name": "hung", "url": peer.url, "token": "never-used"}],
                                      peer_timeout=2.0, max_hops=2)
        own = service.app.federation.broker_id
        body = data_request(f"{redirector.url}/public/cat.fits")
        response = await client.post(service.base + "requests", json=body,
                                     headers={"X-Execplanner-Via": f"other,{own}"})
        doc = response.json()
        assert response.status_code == 200 and doc["result"] == "NO", doc
        assert any("already handled" in m["message"] for m in doc["meta"]["messages"]), doc
        assert redirector.seen == []  # no HEAD for a NO
        # past max_hops (not a loop) the same request is measured, and the peers are not asked
        response = await client.post(service.base + "requests", json=body,
                                     headers={"X-Execplanner-Via": "x1,x2"})
        doc = response.json()
        assert doc["result"] == "YES", doc
        assert redirector.seen == [("HEAD", "/public/cat.fits")]
        assert any("123 kB" in t for t in texts(doc)), texts(doc)
    finally:
        peer.close()
