"""Spawn benchmark: accept → AVAILABLE through the broker against a bare hub REST spawn, same run.

Starts one real JupyterHub (``tests/hubprocess.py``) with the broker as its hub-managed service
(``prepare_time`` 1 s, ``driver_interval`` and the other driver settings at their defaults,
SimpleLocalProcessSpawner, named servers), and a loopback site (``tests/loopback.py``) serving a
notebook, an empty requirements file, a fixed requirements file naming three tiny hand-written wheels,
and the wheels' folder (the hub's ``pip_extra_args`` are ``--no-index --find-links <site>/wheels/``).
Then, in ``--rounds`` rounds, alternating which goes first:

* ``broker``: ``POST requests`` (the notebook, the empty requirements file), accept the first offer,
  poll ``GET sessions/{uuid}`` every ``--poll`` seconds until AVAILABLE; then cancel and wait until the
  server is gone from the hub and the session says so. Timed from the accept's response (and from the
  accept's request and the ``POST requests``) to the first poll that sees AVAILABLE.
* ``bare``: ``POST /hub/api/users/NAME/servers/bare`` with ``{}`` (an ordinary server of the same user,
  the same spawner, no broker), polling ``GET /hub/api/users/NAME/servers/bare`` every ``--poll``
  seconds from the POST's request (the POST itself waits for the spawn up to the hub's
  ``slow_spawn_timeout``) until ``ready``; then delete it and wait until it is gone.

Each round also reads the server's ``started`` time from the hub's model and the hub's own
"took N seconds to start" log line, and for the broker the phases seen and the preload's "preload took"
report, so the time splits into: reaching the hub's spawn, the hub's spawn (server process, preload,
the hub's readiness check), and what follows it until the client sees the result.

Then the preload alone, ``python -m jupyterhub_execplanner.singleuser -- python -c pass`` with
``$EXECPLANNER_PRELOAD`` as the spawner hook would set it, in a fresh folder each run, interleaved:
the fixed requirements file with uv (warm cache, and cold: a fresh ``UV_CACHE_DIR``) and with pip (warm
and cold ``PIP_CACHE_DIR``), the empty requirements file, and the bare ``python -c pass`` without and
with the wrapper. With ``--hub-installs N`` the fixed file also goes through the broker, N sessions on a
hub with ``preload_installer="uv"`` and N on a second hub with ``"pip"``.

Everything listens on and talks to 127.0.0.1; the hubs, their servers and the site are stopped and the
temporary folder removed at the end (also on Ctrl-C or SIGTERM; ``--keep`` keeps the folder).

Run: ``python benchmarks/spawn.py [--rounds 10] [--preload-rounds 5] [--hub-installs 2] [--json]``;
``--driver-interval S`` sets the broker's ``driver_interval`` (default: the product's default).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx
from machine import NO_USER_LIMITS, machine

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from hubprocess import RealHub  # noqa: E402
from loopback import Loopback, write_wheel  # noqa: E402

from jupyterhub_execplanner import launch  # noqa: E402
from jupyterhub_execplanner.launch import LaunchSpec  # noqa: E402
from jupyterhub_execplanner.singleuser.plan import PreloadPlan  # noqa: E402

KINDS = "https://www.purl.org/ivoa.net/Calycopis-openapi/schema/v1.0/kinds"
TARGET_RATIO = 1.2
USER = "bench"
BARE_SERVER = "bare"
PACKAGES = ("epbencha", "epbenchb", "epbenchc")
CLOSED = {"urn:execplanner:server-stopped", "urn:execplanner:no-server"}
TOOK = re.compile(r"User (\S+) took ([0-9.]+) seconds to start")
LOG_TIME = re.compile(r"\[[DIWEC] (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+) ")
PRELOAD_TOOK = re.compile(r"preload took ([0-9.]+) s")
NOTEBOOK = {"cells": [{"cell_type": "markdown", "metadata": {}, "source": "# Benchmark"}],
            "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)




def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def parse_hub_time(value: str | None) -> float | None:
    """A hub timestamp (``2025-01-01T00:00:00.123456Z``, UTC) as a Unix time."""
    if not value:
        return None
    return datetime.fromisoformat(value.rstrip("Z")).replace(tzinfo=timezone.utc).timestamp()


def wait_for(check: Callable[[], Any], timeout: float, what: str, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")


class HubLog:
    """Reads, from the hub's log written since ``mark()``, when a server's Jupyter Server said it was
    running (its URL line) and when the hub logged "User NAME:SERVER took N seconds to start"."""

    def __init__(self, hub: RealHub):
        self.path = hub.log_path
        self.offset = 0

    def mark(self) -> None:
        self.offset = self.path.stat().st_size if self.path and self.path.exists() else 0

    def _lines(self) -> list[tuple[float, str]]:
        if self.path is None:
            return []
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            text = f.read().decode(errors="replace")
        lines = []
        for line in text.splitlines():
            stamp = LOG_TIME.match(line)
            if stamp:  # the hub and the servers log in local time
                lines.append((datetime.strptime(stamp.group(1), "%Y-%m-%d %H:%M:%S.%f").timestamp(), line))
        return lines

    def times(self, user: str, server: str) -> tuple[float | None, float | None]:
        """(the server's "is running at" time, the hub's "took N seconds" time), as Unix times."""
        up = done = None
        for stamp, line in self._lines():
            if up is None and "ServerApp] http" in line and f"/user/{user}/{server}/" in line:
                up = stamp
            took = TOOK.search(line)
            if took and took.group(1) == f"{user}:{server}":
                done = stamp
        return up, done


# -- the loopback site --------------------------------------------------------------------------


def make_site(folder: Path) -> Loopback:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "analysis.ipynb").write_text(json.dumps(NOTEBOOK))
    (folder / "empty.txt").write_text("")
    (folder / "fixed.txt").write_text("".join(f"{name}==0.1\n" for name in PACKAGES))
    (folder / "wheels").mkdir(exist_ok=True)
    for name in PACKAGES:
        write_wheel(folder / "wheels", name)
    return Loopback(folder)


# -- the hub --------------------------------------------------------------------------------------


def start_hub(folder: Path, site: Loopback, installer: str, args: argparse.Namespace) -> RealHub:
    settings = {
        "profiles": [{"display_name": "Small", "slug": "small",
                      "kubespawner_override": {"cpu_limit": 1, "mem_limit": "1G"}}],
        "capacity": {"default": {"cores": 64, "memory": 256}},
        "prepare_time": args.prepare_time,
        "max_offers": 1,
        "hub_poll_interval": args.hub_poll_interval,
        "pip_extra_args": ["--no-index", "--find-links", f"{site.url}/wheels/"],
        "preload_installer": installer,
        **NO_USER_LIMITS,
    }
    if args.driver_interval is not None:
        settings["driver_interval"] = args.driver_interval
    old = os.environ.get(launch.SECRET_ENV)
    os.environ[launch.SECRET_ENV] = secrets.token_hex(32)  # setup_execplanner shares it with the service
    try:
        return RealHub.start(folder, settings=settings)
    finally:
        if old is None:
            os.environ.pop(launch.SECRET_ENV, None)
        else:
            os.environ[launch.SECRET_ENV] = old


class Client:
    """A user's keep-alive client of the hub's REST API and of the broker."""

    def __init__(self, hub: RealHub, user: str):
        self.hub, self.user = hub, user
        token = hub.user_token(user)
        self.http = httpx.Client(headers={"Authorization": f"token {token}"}, timeout=60)

    def close(self) -> None:
        self.http.close()

    def broker(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.request(method, self.hub.broker + path, **kwargs)

    def set_phase(self, uuid: str, phase: str) -> httpx.Response:
        return self.broker("POST", f"sessions/{uuid}",
                           json={"kind": "uri:enum-value-update", "path": "phase", "value": phase})

    def server_url(self, name: str) -> str:
        return f"{self.hub.url}/hub/api/users/{self.user}/servers/{name}"

    def server(self, name: str) -> httpx.Response:
        return self.http.get(self.server_url(name))


def request_body(site: Loopback, requirements: str) -> dict[str, Any]:
    return {
        "executable": {"kind": f"{KINDS}/executable/jupyter-notebook.yaml", "meta": {"name": "bench"},
                       "location": f"{site.url}/analysis.ipynb", "requirements": requirements},
        "compute": {"kind": f"{KINDS}/compute/simple-compute-resource.yaml",
                    "cores": {"min": 1}, "memory": {"min": 1}},
        "schedule": {"requested": {"duration": "PT10M"}},
    }


@dataclass
class BrokerRound:
    round: int
    from_request: float  # POST requests sent -> AVAILABLE seen
    from_accept_sent: float  # accept sent -> AVAILABLE seen
    from_accept: float  # the headline: accept's response -> AVAILABLE seen
    plan: float  # POST requests round trip
    accept: float  # accept round trip
    waited: bool  # the session went through WAITING
    preparing_seen: float | None  # accept's response -> PREPARING first seen
    # accept's response -> AVAILABLE seen, in four parts (from the hub's model and log):
    to_hub_start: float | None  # -> the hub's "started" stamp (the driver picks the session up)
    server_up: float | None  # -> the server's Jupyter Server logs its URL (preload included)
    hub_check: float | None  # -> the hub's readiness check gets an answer ("took N seconds")
    tail: float | None  # -> the client sees AVAILABLE
    hub_took: float | None  # the hub's own figure: spawn begins -> its readiness check passes
    preload: float | None  # the preload's own report (0.1 s steps; after its imports)
    phases: list[str] = field(default_factory=list)


@dataclass
class BareRound:
    round: int
    from_request: float  # POST servers sent -> ready seen
    post: float  # the POST's round trip (it waits for the spawn up to slow_spawn_timeout)
    to_hub_start: float | None
    server_up: float | None
    hub_check: float | None
    tail: float | None
    hub_took: float | None


def split(hub_log: HubLog, client: Client, name: str, model: dict[str, Any], since: float, seen: float
          ) -> dict[str, float | None]:
    """The four parts of ``since`` -> ``seen`` (Unix times), and the hub's own spawn time."""
    started = parse_hub_time(model.get("started"))
    up, done = hub_log.times(client.user, name)
    marks = [since, started, up, done, seen]
    parts = [b - a if a is not None and b is not None else None
             for a, b in zip(marks, marks[1:], strict=False)]
    took = done - started if done is not None and started is not None else None
    names = ("to_hub_start", "server_up", "hub_check", "tail")
    return dict(zip(names, parts, strict=True), hub_took=took)


def broker_round(client: Client, hub_log: HubLog, site: Loopback, requirements: str, index: int,
                 poll: float, timeout: float) -> BrokerRound:
    hub_log.mark()
    t0 = time.monotonic()
    offerset = client.broker("POST", "requests", json=request_body(site, requirements))
    t1 = time.monotonic()
    offerset.raise_for_status()
    doc = offerset.json()
    if doc.get("result") != "YES":
        raise RuntimeError(f"the broker said {doc.get('result')}: {doc.get('messages')}")
    uuid = doc["offers"][0]["meta"]["uuid"]
    t2 = time.monotonic()
    accepted = client.set_phase(uuid, "ACCEPTED")
    t3, wall3 = time.monotonic(), time.time()
    if accepted.status_code != 200:
        raise RuntimeError(f"accepting {uuid}: {accepted.status_code} {accepted.text[:300]}")
    phases: list[str] = []
    preparing_seen = None
    deadline = t3 + timeout
    while True:
        session = client.broker("GET", f"sessions/{uuid}").json()
        now, wall = time.monotonic(), time.time()
        phase = session["phase"]
        if not phases or phases[-1] != phase:
            phases.append(phase)
            if phase == "PREPARING" and preparing_seen is None:
                preparing_seen = now - t3
        if phase in ("AVAILABLE", "RUNNING"):
            break
        if phase == "FAILED" or now > deadline:
            raise RuntimeError(f"session {uuid} is {phase}: {session['meta'].get('messages')}")
        time.sleep(max(0.0, poll - (time.monotonic() - now)))
    name = launch.server_name_for(uuid)
    parts = split(hub_log, client, name, client.server(name).json(), wall3, wall)
    reports = [PRELOAD_TOOK.search(m.get("message", "")) for m in session["meta"].get("messages", [])]
    result = BrokerRound(
        round=index, from_request=now - t0, from_accept_sent=now - t2, from_accept=now - t3,
        plan=t1 - t0, accept=t3 - t2, waited="WAITING" in phases, preparing_seen=preparing_seen,
        preload=next((float(m.group(1)) for m in reports if m), None), phases=phases, **parts,
    )
    # tear down: cancel, wait until the hub has no server and the session says it is closed
    client.set_phase(uuid, "CANCELLED")
    wait_for(lambda: client.server(name).status_code == 404, 60, f"server {name} to be removed")
    wait_for(lambda: CLOSED & {m["kind"] for m in client.broker("GET", f"sessions/{uuid}").json()
                                ["meta"]["messages"]}, 30, f"session {uuid} to note its server's end")
    return result


def bare_round(client: Client, hub_log: HubLog, index: int, poll: float, timeout: float) -> BareRound:
    hub_log.mark()
    outcome: dict[str, Any] = {}

    def post() -> None:
        try:
            response = client.http.post(client.server_url(BARE_SERVER), json={})
            outcome["status"], outcome["text"] = response.status_code, response.text[:300]
        except httpx.HTTPError as e:
            outcome["status"], outcome["text"] = 0, str(e)
        outcome["done"] = time.monotonic()

    t0, wall0 = time.monotonic(), time.time()
    thread = threading.Thread(target=post, daemon=True)
    thread.start()
    deadline = t0 + timeout
    while True:
        response = client.server(BARE_SERVER)
        now, wall = time.monotonic(), time.time()
        if response.status_code == 200 and response.json().get("ready"):
            model = response.json()
            break
        if outcome.get("status") not in (None, 201, 202) or now > deadline:
            raise RuntimeError(f"bare spawn: {outcome.get('status')} {outcome.get('text')}")
        time.sleep(max(0.0, poll - (time.monotonic() - now)))
    thread.join(timeout)
    parts = split(hub_log, client, BARE_SERVER, model, wall0, wall)
    result = BareRound(round=index, from_request=now - t0, post=outcome.get("done", now) - t0, **parts)
    client.http.request("DELETE", client.server_url(BARE_SERVER), json={"remove": True})
    wait_for(lambda: client.server(BARE_SERVER).status_code == 404, 60, "the bare server to be removed")
    return result


# -- the preload alone ----------------------------------------------------------------------------


SESSION = "be4c0000-aaaa-4bbb-8ccc-0123456789ab"


def preload_plan(site: Loopback, requirements: str, installer: str) -> PreloadPlan:
    spec = LaunchSpec(session=SESSION, owner=USER, server_name=launch.server_name_for(SESSION),
                      profile="small", cores=1, memory=1, end="2030-01-01T00:00:00Z",
                      notebook=f"{site.url}/analysis.ipynb", requirements=requirements)
    return PreloadPlan(
        spec=spec,
        report_url=f"{site.url}/services/execplanner/sessions/{SESSION}/progress",
        report_token=launch.report_token("bench", SESSION),
        pip_extra_args=("--no-index", "--find-links", f"{site.url}/wheels/"),
        installer=installer,
        timeout=30,
    )


@dataclass(frozen=True)
class Variant:
    name: str
    description: str
    requirements: str | None  # None: no preload at all
    installer: str = "auto"
    cache: str = "warm"  # warm: a cache shared by the runs (primed first); cold: a fresh one per run
    wrapper: bool = True


VARIANTS = (
    Variant("python", "`python -c pass`, no wrapper (interpreter start-up)", None, wrapper=False),
    Variant("wrapper", "the wrapper without `$EXECPLANNER_PRELOAD`", None),
    Variant("empty", "notebook + empty requirements file", "empty.txt"),
    Variant("uv-warm", "notebook + fixed file, uv, warm `UV_CACHE_DIR`", "fixed.txt", "uv"),
    Variant("uv-cold", "notebook + fixed file, uv, fresh `UV_CACHE_DIR`", "fixed.txt", "uv", "cold"),
    Variant("pip-warm", "notebook + fixed file, pip, warm `PIP_CACHE_DIR`", "fixed.txt", "pip"),
    Variant("pip-cold", "notebook + fixed file, pip, fresh `PIP_CACHE_DIR`", "fixed.txt", "pip", "cold"),
)


def run_preload(folder: Path, site: Loopback, variant: Variant, caches: Path) -> float:
    """One run in a fresh folder; its wall time in seconds. Checks that the packages are importable."""
    folder.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f"{variant.name}-", dir=folder))
    home = work / "home"
    home.mkdir()
    cache = caches if variant.cache == "warm" else work / "cache"
    env = {**os.environ, "HOME": str(home), "JUPYTER_DATA_DIR": str(work / "jupyter-data"),
           "UV_CACHE_DIR": str(cache / "uv"), "PIP_CACHE_DIR": str(cache / "pip")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    env.pop(launch.PRELOAD_ENV, None)
    if variant.requirements is not None:
        env[launch.PRELOAD_ENV] = preload_plan(site, variant.requirements, variant.installer).to_json()
    command = [sys.executable, "-c", "pass"]
    if variant.wrapper:
        command = [sys.executable, "-m", "jupyterhub_execplanner.singleuser", "--", *command]
    tic = time.perf_counter()
    done = subprocess.run(command, cwd=home, env=env, capture_output=True, text=True, timeout=600)
    seconds = time.perf_counter() - tic
    if done.returncode != 0:
        raise RuntimeError(f"preload {variant.name} failed: {done.stderr[-2000:]}")
    if variant.requirements == "fixed.txt":
        python = home / launch.SESSIONS_FOLDER / launch.server_name_for(SESSION) / ".venv" / "bin" / "python"
        check = subprocess.run([str(python), "-c", f"import {', '.join(PACKAGES)}"], capture_output=True)
        if check.returncode != 0:
            raise RuntimeError(f"preload {variant.name}: the packages are not importable")
    shutil.rmtree(work, ignore_errors=True)
    return seconds


def preload_benchmark(folder: Path, site: Loopback, rounds: int) -> dict[str, list[float]]:
    caches = folder / "warm-caches"
    for variant in VARIANTS:  # prime the warm caches, and the OS's file cache for every variant
        run_preload(folder, site, variant, caches)
    times: dict[str, list[float]] = {v.name: [] for v in VARIANTS}
    for index in range(rounds):
        order = VARIANTS if index % 2 == 0 else tuple(reversed(VARIANTS))
        for variant in order:
            times[variant.name].append(run_preload(folder, site, variant, caches))
        log(f"preload round {index + 1}/{rounds}: "
            + ", ".join(f"{name} {values[-1]:.2f}s" for name, values in times.items()))
    return times


# -- summaries and output ---------------------------------------------------------------------------


def summary(values: list[float | None]) -> dict[str, float | None]:
    present = [v for v in values if v is not None]
    if not present:
        return {"median": None, "min": None, "max": None, "p25": None, "p75": None, "n": 0}
    quartiles = statistics.quantiles(present, n=4) if len(present) > 1 else [present[0]] * 3
    return {"median": statistics.median(present), "min": min(present), "max": max(present),
            "p25": quartiles[0], "p75": quartiles[2], "n": len(present)}


def fmt(s: dict[str, float | None]) -> str:
    if s["median"] is None:
        return "-"
    return f"{s['median']:.3f} [{s['min']:.3f}–{s['max']:.3f}]"


def print_table(report: dict[str, Any]) -> None:
    m, cfg = report["machine"], report["config"]
    print(f"machine: {m['cores']} cores, {m['cpu']}, Python {m['python']}; "
          f"load before {report['load_before']}, after {report['load_after']}")
    print(f"rounds: {cfg['rounds']} (+{cfg['warmup']} warm-up), poll every {cfg['poll'] * 1000:.0f} ms, "
          f"prepare_time {cfg['prepare_time']} s, driver_interval "
          f"{cfg.get('driver_interval') or 'default (1 s)'}")
    print()
    print("seconds: median [min–max]")
    print(f"{'':46} {'broker':>22} {'bare':>22}")
    rows = report["summary"]
    for broker_key, bare_key, label in (
        ("from_accept", "from_request", "accept response / POST servers -> ready seen"),
        ("to_hub_start", "to_hub_start", " 1. -> the hub's spawn begins ('started')"),
        ("server_up", "server_up", " 2. -> Jupyter Server running (its log)"),
        ("hub_check", "hub_check", " 3. -> the hub's check answered ('took')"),
        ("tail", "tail", " 4. -> the client sees it ready"),
        ("hub_took", "hub_took", "the hub's own spawn time (2. + 3.)"),
        ("from_accept_sent", None, "accept request -> AVAILABLE seen"),
        ("from_request", None, "POST requests -> AVAILABLE seen"),
        ("preparing_seen", None, "accept response -> PREPARING seen"),
        ("preload", None, "preload (its own report, after its imports)"),
        ("plan", None, "POST requests round trip"),
        ("accept", None, "accept round trip"),
        (None, "post", "POST servers round trip (waits for the spawn)"),
    ):
        broker = fmt(rows["broker"][broker_key]) if broker_key else ""
        bare = fmt(rows["bare"][bare_key]) if bare_key else ""
        print(f"{label:46} {broker:>22} {bare:>22}")
    verdict = report["verdict"]
    print()
    print(f"WAITING seen in {rows['broker']['waited']}/{cfg['rounds']} broker rounds")
    print(f"ratio of medians broker/bare: {verdict['ratio']:.3f} (target <= {TARGET_RATIO}): "
          f"{'PASS' if verdict['pass'] else 'FAIL'}; from the accept's request: "
          f"{verdict['ratio_from_accept_request']:.3f}")
    print(f"without part 1 on both paths (the hub's spawn begins -> ready seen): "
          f"{verdict['ratio_without_part_1']:.3f}")
    if report.get("preload"):
        print()
        print(f"preload alone, {cfg['preload_rounds']} runs each, seconds: median [min–max]")
        for variant in VARIANTS:
            print(f"  {variant.name:9} {fmt(report['preload'][variant.name]):>20}  {variant.description}")
    if report.get("hub_installs"):
        print()
        print("fixed requirements through the broker (accept -> AVAILABLE, preload's report), seconds:")
        for installer, rounds in report["hub_installs"].items():
            shown = ", ".join(f"{r['from_accept']:.2f} (preload {r['preload']}, server up "
                              f"{r['server_up']:.2f})" for r in rounds)
            print(f"  {installer:4} {shown}")


@contextmanager
def hub_context(folder: Path, site: Loopback, installer: str, args: argparse.Namespace
                ) -> Iterator[tuple[RealHub, Client, HubLog]]:
    log(f"starting a hub (preload_installer={installer!r}) in {folder}")
    hub = start_hub(folder, site, installer, args)
    client = None
    try:
        client = Client(hub, USER)
        yield hub, client, HubLog(hub)
    finally:
        if client is not None:
            client.close()
        hub.stop()


def run(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    report: dict[str, Any] = {"machine": machine(), "load_before": load(), "config": {
        "rounds": args.rounds, "warmup": args.warmup, "poll": args.poll, "prepare_time": args.prepare_time,
        "driver_interval": args.driver_interval,
        "hub_poll_interval": args.hub_poll_interval, "preload_rounds": args.preload_rounds,
        "hub_installs": args.hub_installs, "settle": args.settle}}
    site = make_site(folder / "site")
    try:
        broker_rounds: list[BrokerRound] = []
        bare_rounds: list[BareRound] = []
        hub_installs: dict[str, list[dict[str, Any]]] = {}
        with hub_context(folder / "hub-uv", site, "uv", args) as (_hub, client, hub_log):
            for index in range(-args.warmup, args.rounds):
                paths = ("broker", "bare") if index % 2 == 0 else ("bare", "broker")
                for path in paths:
                    time.sleep(args.settle)
                    if path == "broker":
                        b = broker_round(client, hub_log, site, "empty.txt", index, args.poll, args.timeout)
                        if index >= 0:
                            broker_rounds.append(b)
                        log(f"round {index}: broker {b.from_accept:.2f}s ({'/'.join(b.phases)}, "
                            f"hub took {b.hub_took}, preload {b.preload})")
                    else:
                        r = bare_round(client, hub_log, index, args.poll, args.timeout)
                        if index >= 0:
                            bare_rounds.append(r)
                        log(f"round {index}: bare {r.from_request:.2f}s (hub took {r.hub_took})")
            if args.hub_installs:
                hub_installs["uv"] = []
                for index in range(args.hub_installs):
                    time.sleep(args.settle)
                    b = broker_round(client, hub_log, site, "fixed.txt", index, args.poll, args.timeout)
                    hub_installs["uv"].append(asdict(b))
                    log(f"fixed.txt with uv through the broker: {b.from_accept:.2f}s (preload {b.preload})")
        if args.hub_installs:
            with hub_context(folder / "hub-pip", site, "pip", args) as (_hub, client, hub_log):
                hub_installs["pip"] = []
                for index in range(args.hub_installs):
                    time.sleep(args.settle)
                    b = broker_round(client, hub_log, site, "fixed.txt", index, args.poll, args.timeout)
                    hub_installs["pip"].append(asdict(b))
                    log(f"fixed.txt with pip through the broker: {b.from_accept:.2f}s (preload {b.preload})")
        preload = {}
        if args.preload_rounds:
            preload = preload_benchmark(folder / "preload", site, args.preload_rounds)
    finally:
        site.close()
    report["load_after"] = load()
    broker = {key: summary([getattr(r, key) for r in broker_rounds]) for key in (
        "from_request", "from_accept_sent", "from_accept", "plan", "accept", "preparing_seen",
        "to_hub_start", "server_up", "hub_check", "tail", "hub_took", "preload")}
    broker["headline"] = broker["from_accept"]
    broker["waited"] = sum(r.waited for r in broker_rounds)  # type: ignore[assignment]
    bare = {key: summary([getattr(r, key) for r in bare_rounds]) for key in (
        "from_request", "post", "to_hub_start", "server_up", "hub_check", "tail", "hub_took")}
    bare["headline"] = bare["from_request"]
    ratio = broker["headline"]["median"] / bare["headline"]["median"]  # type: ignore[operator]
    ratio_sent = broker["from_accept_sent"]["median"] / bare["headline"]["median"]  # type: ignore[operator]
    later = [statistics.median(r.from_accept - r.to_hub_start for r in broker_rounds if r.to_hub_start)
             / statistics.median(r.from_request - r.to_hub_start for r in bare_rounds if r.to_hub_start)]
    report["summary"] = {"broker": broker, "bare": bare}
    report["verdict"] = {"ratio": ratio, "ratio_from_accept_request": ratio_sent, "target": TARGET_RATIO,
                         "pass": ratio <= TARGET_RATIO, "ratio_without_part_1": later[0]}
    report["rounds"] = {"broker": [asdict(r) for r in broker_rounds],
                        "bare": [asdict(r) for r in bare_rounds]}
    report["preload"] = {name: summary(values) for name, values in preload.items()}  # type: ignore[arg-type]
    report["preload_runs"] = preload
    report["hub_installs"] = hub_installs
    return report


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=10, help="measured rounds of each path (10)")
    parser.add_argument("--warmup", type=int, default=1, help="unmeasured rounds of each path first (1)")
    parser.add_argument("--poll", type=float, default=0.05, help="seconds between polls, both paths (0.05)")
    parser.add_argument("--settle", type=float, default=1.0, help="seconds of rest before each spawn (1)")
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds a spawn may take (180)")
    parser.add_argument("--prepare-time", type=float, default=1.0, help="the broker's prepare_time (1)")
    parser.add_argument("--driver-interval", type=float, default=None,
                        help="the broker's driver_interval (default: not set, the product's default)")
    parser.add_argument("--hub-poll-interval", type=float, default=10.0,
                        help="the broker's hub_poll_interval (10, its default)")
    parser.add_argument("--preload-rounds", type=int, default=5,
                        help="runs of each preload variant (5; 0 skips them)")
    parser.add_argument("--hub-installs", type=int, default=2,
                        help="sessions with the fixed requirements through the broker, per installer (2)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (hub logs)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    # SIGTERM ends the run like Ctrl-C: the hubs and their servers are still stopped
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    # only loopback traffic, and no installer settings from the environment (both installers see the
    # same arguments: pip_extra_args only)
    os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"
    for name in list(os.environ):
        if name.startswith(("PIP_", "UV_")):
            os.environ.pop(name)
    folder = Path(tempfile.mkdtemp(prefix="execplanner-spawn-"))
    try:
        report = run(args, folder)
    finally:
        if args.keep:
            log(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_table(report)


if __name__ == "__main__":
    main()
