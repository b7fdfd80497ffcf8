"""The size probe over real HTTP on loopback: Content-Length, 404, a server that never answers,
redirects re-checked against the source policy (in the probe and in the preload's download), the cap
on the URLs of one request; and in the service: the caller's budget bounds the probe, and a loop visit
probes nothing.

The address policy (platform/netguard) over real sockets: loopback is refused by default and the
caller learns only "not measured (address not allowed)"; a redirect from an allowed host to loopback
and a DNS answer that changes between the check and the connection (rebinding) never reach loopback.
These tests serve on loopback, so most allow it explicitly, as an admin would (LOOPBACK)."""

from __future__ import annotations

import io
import ipaddress
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
from jupyterhub_execplanner.client import tls_context
from jupyterhub_execplanner.launch import DataItem, LaunchSpec
from jupyterhub_execplanner.platform.datasets import DataConfig
from jupyterhub_execplanner.platform.netguard import NetGuard
from jupyterhub_execplanner.platform.probe import MAX_PROBES, MAX_REDIRECTS, NOT_ALLOWED, probe_sizes
from jupyterhub_execplanner.singleuser.fetch import FetchError, FetchPolicy, fetch_bytes, stream
from jupyterhub_execplanner.singleuser.plan import PreloadPlan

SIZE = 123_456
# the tests serve on loopback: they allow it as an admin would (c.ExecPlanner.fetch_allowed_hosts)
LOOPBACK = ("127.0.0.0/8", "::1", "localhost")
ALLOW_LOOPBACK = DataConfig(fetch_allowed_hosts=LOOPBACK)
LOOPBACK_GUARD = NetGuard.build(LOOPBACK)
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
    redirects (302) to ``/hop/<n-1>/<path>``, and ``/hop/0/<path>`` to ``/<path>``; ``/to/<url>``
    redirects to ``http://<url>``. ``host`` and ``port``: where it listens."""

    def __init__(self, folder: Path, host: str = "127.0.0.1", port: int = 0) -> None:
        seen: list[tuple[str, str]] = []
        self.seen = seen

        class Handler(SimpleHTTPRequestHandler):
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, directory=str(folder), **kwargs)

            def _redirect(self) -> bool:
                seen.append((self.command, self.path))
                parts = self.path.split("/", 3)  # '', 'hop', n, rest
                if parts[1] == "to":
                    self.send_response(302)
                    self.send_header("Location", "http://" + self.path[len("/to/"):])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return True
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

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://{host}:{self.port}"
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
    probes = await probe_sizes([found_url, missing, silent, found_url], timeout=1.0, config=ALLOW_LOOPBACK)
    elapsed = time.monotonic() - started
    assert list(probes) == [found_url, missing, silent]  # each URL once
    assert probes[found_url].size == SIZE and probes[found_url].status == 200
    assert probes[missing].size is None and probes[missing].status == 404
    assert probes[silent].size is None and "within 1 s" in (probes[silent].error or "")
    assert elapsed < 3  # concurrently, bounded by the timeout


async def test_nothing_to_probe() -> None:
    assert await probe_sizes([]) == {}


# -- the address policy -------------------------------------------------------------------------------


async def test_the_probe_refuses_loopback_by_default_and_says_only_that(site: Loopback, silent: str,
                                                                       redirector: Redirector) -> None:
    closed = f"http://127.0.0.1:{free_port()}/x"
    urls = [f"{site.url}/survey/cat.fits", f"{site.url}/survey/none.fits", silent, closed,
            f"http://localhost:{redirector.port}/public/cat.fits", f"http://[::1]:{redirector.port}/x",
            f"http://[::ffff:127.0.0.1]:{redirector.port}/public/cat.fits", "http://169.254.169.254/latest/"]
    started = time.monotonic()
    probes = await probe_sizes(urls, timeout=5)
    # an open port with a file, a 404, a port that never answers and a closed one: all the same
    assert {url: probe.error for url, probe in probes.items()} == dict.fromkeys(urls, NOT_ALLOWED)
    assert all(p.size is None and p.status is None for p in probes.values())
    assert time.monotonic() - started < 2  # nothing waited for the port that never answers
    assert redirector.seen == []  # nothing was asked
    # the same, allowed by the admin: today's answers
    probes = await probe_sizes(urls[:4], timeout=1, config=ALLOW_LOOPBACK)
    assert probes[urls[0]].size == SIZE and probes[urls[1]].status == 404
    assert "within 1 s" in (probes[silent].error or "")
    assert probes[closed].error == "HEAD failed: ConnectError"


async def test_a_redirect_from_an_allowed_host_to_loopback_is_refused(redirector: Redirector) -> None:
    """``localhost`` is allowed by name only; it redirects to 127.0.0.1 by address, which is not."""
    by_name = DataConfig(fetch_allowed_hosts=("localhost",))
    direct = f"http://localhost:{redirector.port}/public/cat.fits"
    assert (await probe_sizes([direct], timeout=5, config=by_name))[direct].size == SIZE
    hop = f"http://localhost:{redirector.port}/to/127.0.0.1:{redirector.port}/private/cat.fits"
    [probe] = (await probe_sizes([hop], timeout=5, config=by_name)).values()
    assert probe == type(probe)(error=NOT_ALLOWED, refused=True)
    guard = NetGuard.build(("localhost",))
    with pytest.raises(FetchError) as caught:
        stream(hop, io.BytesIO(), max_size=10**6, timeout=10, what="data resource 'd'",
               policy=FetchPolicy(guard=guard))
    assert str(caught.value).startswith(
        f"the data resource 'd' at {hop} was not fetched: 127.0.0.1 is not an address this hub fetches from")
    assert "c.ExecPlanner.fetch_allowed_hosts" in str(caught.value)
    assert ("HEAD", "/private/cat.fits") not in redirector.seen
    assert ("GET", "/private/cat.fits") not in redirector.seen
    assert ("GET", f"/to/127.0.0.1:{redirector.port}/private/cat.fits") in redirector.seen


class Rebinding:
    """A DNS server in one function: the first answer is ``first``, every later one ``then``."""

    def __init__(self, first: str, then: str) -> None:
        self.first, self.then, self.calls = first, then, 0

    def __call__(self, host: str, port: int) -> list[str]:
        self.calls += 1
        return [self.first if self.calls == 1 else self.then]


@pytest.fixture
def twins(tmp_path: Path) -> Iterator[tuple[Redirector, Redirector]]:
    """The same port on 127.0.0.2 (allowed, serves public/) and 127.0.0.1 (not allowed, the target)."""
    for part in ("good", "evil"):
        (tmp_path / part / "public").mkdir(parents=True)
    (tmp_path / "good" / "public" / "cat.fits").write_bytes(b"g" * SIZE)
    (tmp_path / "evil" / "public" / "cat.fits").write_bytes(b"e" * (SIZE + 1))
    for _ in range(20):
        good = Redirector(tmp_path / "good", host="127.0.0.2")
        try:
            evil = Redirector(tmp_path / "evil", host="127.0.0.1", port=good.port)
        except OSError:  # that port is taken on 127.0.0.1: try another
            good.close()
            continue
        yield good, evil
        good.close()
        evil.close()
        return
    pytest.skip("no port free on both 127.0.0.1 and 127.0.0.2")


async def test_a_second_dns_answer_cannot_lead_the_connection_elsewhere(
    twins: tuple[Redirector, Redirector],
) -> None:
    good, evil = twins
    url = f"http://data.example.test:{good.port}/public/cat.fits"
    allowed = ("127.0.0.2/32",)
    # the probe: checked on the first answer, connected to it
    rebinding = Rebinding("127.0.0.2", "127.0.0.1")
    guard = NetGuard.build(allowed, resolver=rebinding)
    [probe] = (await probe_sizes([url], timeout=5, guard=guard)).values()
    assert probe.size == SIZE, probe
    # the preload: the notebook fetch and a data download
    policy = FetchPolicy(guard=NetGuard.build(allowed, resolver=Rebinding("127.0.0.2", "127.0.0.1")))
    assert fetch_bytes(url, max_size=10**6, timeout=10, what="notebook", policy=policy) == b"g" * SIZE
    # the next fetch is answered 127.0.0.1: refused, not connected
    with pytest.raises(FetchError, match="data.example.test is not an address this hub fetches from"):
        stream(url, io.BytesIO(), max_size=10**6, timeout=10, what="data", policy=policy)
    policy = FetchPolicy(guard=NetGuard.build(allowed, resolver=Rebinding("127.0.0.2", "127.0.0.1")))
    assert stream(url, io.BytesIO(), max_size=10**6, timeout=10, what="data", policy=policy) == SIZE
    assert evil.seen == [] and len(good.seen) == 3
    # an answer with both addresses at once is refused as a whole
    both = NetGuard.build(allowed, resolver=lambda host, port: ["127.0.0.2", "127.0.0.1"])
    [probe] = (await probe_sizes([url], timeout=5, guard=both)).values()
    assert probe.error == NOT_ALLOWED
    with pytest.raises(FetchError, match="data.example.test is not an address this hub fetches from"):
        fetch_bytes(url, max_size=10**6, timeout=10, what="notebook", policy=FetchPolicy(guard=both))
    assert evil.seen == [] and len(good.seen) == 3
    # and honestly: with the second answer alone, the connection goes to 127.0.0.1 when it is allowed
    loopback = NetGuard.build(LOOPBACK, resolver=lambda host, port: ["127.0.0.1"])
    [probe] = (await probe_sizes([url], timeout=5, guard=loopback)).values()
    assert probe.size == SIZE + 1 and evil.seen == [("HEAD", "/public/cat.fits")]


def test_the_address_checked_is_the_one_connected_to() -> None:
    """The guard connects to the very address it checked, never resolving twice."""
    listener = socket.socket()
    listener.bind(("127.0.0.2", 0))
    listener.listen(1)
    try:
        port = listener.getsockname()[1]
        rebinding = Rebinding("127.0.0.2", "127.0.0.1")
        connection = NetGuard.build(("127.0.0.2",), resolver=rebinding).connect("x.test", port, 5)
        assert ipaddress.ip_address(connection.getpeername()[0]) == ipaddress.ip_address("127.0.0.2")
        assert rebinding.calls == 1
        connection.close()
    finally:
        listener.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- redirects ------------------------------------------------------------------------------------


async def test_probe_follows_allowed_redirects_and_stops_at_a_forbidden_one(redirector: Redirector) -> None:
    url = redirector.url
    denied = DataConfig(denied=(f"{url}/private/",), fetch_allowed_hosts=LOOPBACK)
    allowed_only = DataConfig(allowed=(f"{url}/hop/", f"{url}/public/"), fetch_allowed_hosts=LOOPBACK)
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
    [probe] = (await probe_sizes([to_denied], timeout=5, config=ALLOW_LOOPBACK)).values()
    assert probe.size == SIZE and ("HEAD", "/private/cat.fits") in redirector.seen


async def test_probe_follows_at_most_five_redirects(redirector: Redirector) -> None:
    url = redirector.url
    ok = f"{url}/hop/{MAX_REDIRECTS - 1}/public/cat.fits"
    too_many = f"{url}/hop/{MAX_REDIRECTS}/public/cat.fits"
    probes = await probe_sizes([ok, too_many], timeout=5, config=ALLOW_LOOPBACK)
    assert probes[ok].size == SIZE
    assert probes[too_many].size is None
    assert probes[too_many].error == f"HEAD was redirected more than {MAX_REDIRECTS} times"


async def test_probe_measures_at_most_the_cap(redirector: Redirector) -> None:
    urls = [f"{redirector.url}/public/cat.fits?{i}" for i in range(MAX_PROBES + 5)]
    probes = await probe_sizes(urls, timeout=5, config=ALLOW_LOOPBACK)
    assert list(probes) == urls
    assert [p.size for p in probes.values()][:MAX_PROBES] == [SIZE] * MAX_PROBES
    assert len([m for m, _ in redirector.seen if m == "HEAD"]) == MAX_PROBES
    for url in urls[MAX_PROBES:]:
        assert probes[url].size is None
        assert probes[url].error == f"not measured: this hub measures at most {MAX_PROBES} URLs of a request"


def test_download_stops_at_a_redirect_to_a_forbidden_source(redirector: Redirector) -> None:
    url = redirector.url
    denied = FetchPolicy(DataConfig(denied=(f"{url}/private/",)), LOOPBACK_GUARD)
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
               policy=FetchPolicy(DataConfig(allowed=(f"{url}/hop/",)), LOOPBACK_GUARD))
    with pytest.raises(FetchError, match="redirect"):
        stream(f"{url}/hop/{MAX_REDIRECTS}/public/cat.fits", io.BytesIO(), max_size=10**6, timeout=10,
               what="data", policy=FetchPolicy(guard=LOOPBACK_GUARD))


def test_the_preload_gets_the_policy_from_the_plan(tmp_path: Path, redirector: Redirector) -> None:
    url = redirector.url
    session = "5a1d0c3e-0000-4000-8000-00000000000f"
    spec = LaunchSpec(session=session, owner="alice", server_name=launch.server_name_for(session),
                      profile="small", cores=1, memory=1, end="2030-01-01T00:00:00Z",
                      data=(DataItem("cat", f"{url}/hop/1/private/cat.fits", "stage", "data/cat", None, SIZE,
                                     1.0),))
    plan = PreloadPlan(spec=spec, timeout=10, root_dir=str(tmp_path / "home"),
                       data_denied_sources=(f"{url}/private/",), fetch_allowed_hosts=LOOPBACK)
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
    service = await start_service(data_probe_timeout=5.0, fetch_allowed_hosts=list(LOOPBACK))
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
                                      peer_timeout=2.0, max_hops=2, fetch_allowed_hosts=list(LOOPBACK))
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


# -- TLS still verifies the URL's host name, though the connection goes to the checked address ---------


def certificate_files(folder: Path) -> tuple[Path, Path, Path]:
    """A CA, and a server certificate and key for ``tls.test`` signed by it (PEM files)."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    def name(text: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(name("test CA")).issuer_name(name("test CA"))
          .public_key(ca_key.public_key()).serial_number(1).not_valid_before(now - datetime.timedelta(1))
          .not_valid_after(now + datetime.timedelta(1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    server = (x509.CertificateBuilder().subject_name(name("tls.test")).issuer_name(ca.subject)
              .public_key(key.public_key()).serial_number(2).not_valid_before(now - datetime.timedelta(1))
              .not_valid_after(now + datetime.timedelta(1))
              .add_extension(x509.SubjectAlternativeName([x509.DNSName("tls.test")]), critical=False)
              .sign(ca_key, hashes.SHA256()))
    paths = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(server.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return paths


async def test_tls_checks_the_urls_host_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import ssl

    ca, certificate, key = certificate_files(tmp_path)
    (tmp_path / "site" / "public").mkdir(parents=True)
    (tmp_path / "site" / "public" / "cat.fits").write_bytes(b"t" * SIZE)
    server = Redirector(tmp_path / "site", host="127.0.0.2")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certificate, key)
    server.server.socket = context.wrap_socket(server.server.socket, server_side=True)
    monkeypatch.setenv("SSL_CERT_FILE", str(ca))  # the only CA trusted, by the probe and the preload
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    tls_context.cache_clear()  # the probe's context is made once per process: make it again, now
    try:
        guard = NetGuard.build(("127.0.0.2",), resolver=lambda host, port: ["127.0.0.2"])
        good, wrong = (f"https://{host}:{server.port}/public/cat.fits" for host in ("tls.test", "other.test"))
        probes = await probe_sizes([good, wrong], timeout=5, guard=guard)
        assert probes[good].size == SIZE, probes[good]
        assert probes[wrong].size is None and probes[wrong].error == "HEAD failed: ConnectError"
        policy = FetchPolicy(guard=guard)
        assert fetch_bytes(good, max_size=10**6, timeout=10, what="notebook", policy=policy) == b"t" * SIZE
        with pytest.raises(FetchError, match="certificate verify failed"):
            fetch_bytes(wrong, max_size=10**6, timeout=10, what="notebook", policy=policy)
        assert server.seen == [("HEAD", "/public/cat.fits"), ("GET", "/public/cat.fits")]
    finally:
        server.close()
        tls_context.cache_clear()  # not this test's CA for the next ones
