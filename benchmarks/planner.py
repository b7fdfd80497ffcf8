"""Load benchmark: ``POST requests`` on the broker against a bare tornado handler, same machine, same run.

Starts a real JupyterHub (``tests/hubprocess.py``) with the broker as the hub-managed service it is in
production, on a known port, with a very large static capacity so that no request is refused for lack
of room while every offer still holds a reservation until it expires (``offer_expiry`` is left at its
default, 300 s: the calendar and the database fill with thousands of offers during the run). Then,
for each target, a warm-up and a measured closed loop of ``--clients`` keep-alive clients posting the
same ExecutionRequest with a user token:

* ``bare``: a tornado app in its own process whose one POST handler reads the body, ``json.loads`` it
  and writes a canned JSON document of the same size as the broker's answer (a real answer, captured
  first), at the same path;
* ``direct``: the broker at its own port (the headline comparison with ``bare``: same client, same
  path, one Python process each);
* ``proxy``: the broker through the hub's configurable-http-proxy, as clients reach it.

The load generator is ``wrk`` when installed (``apt-get install wrk``), else ``httpx.AsyncClient``
loops in ``--workers`` processes; the output says which. Everything listens on and talks to 127.0.0.1;
the hub, the service and the bare server are stopped at the end.

Run: ``python benchmarks/planner.py [--duration 10] [--warmup 2] [--clients 20] [--json]``.
``--profile FILE`` runs the service under cProfile and prints its top functions (the figures of such a
run are slowed by the profiler: use it to see where the time goes, not for throughput).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pstats
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
from machine import NO_USER_LIMITS, cpu_seconds, machine

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "e2e"))

from hubprocess import RealHub, free_port  # noqa: E402
from requests_lib import notebook  # noqa: E402

PREFIX = "/services/execplanner/"
PATH = PREFIX + "requests"
PROFILES = [
    {
        "display_name": "Small server",
        "slug": "small",
        "kubespawner_override": {
            "cpu_guarantee": 1, "cpu_limit": 2, "mem_guarantee": "2G", "mem_limit": "4G",
        },
    },
    {
        "display_name": "Large server",
        "slug": "large",
        "kubespawner_override": {
            "cpu_guarantee": 2, "cpu_limit": 4, "mem_guarantee": "4G", "mem_limit": "8G",
        },
    },
]
TARGET_RATIO = 0.5  # of the bare handler (the first goal; see docs/performance.md)
TARGET_SQLITE_RATIO = 0.8  # of the bare handler with the writes a request makes
TARGET_P99_MS = 20.0

WRK_SCRIPT = """
wrk.method = "POST"
wrk.body = [==[{body}]==]
wrk.headers["Content-Type"] = "application/json"
{auth}
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {{"duration_us": %d, "requests": %d, "bytes": %d, "connect": %d, "read": %d, ' ..
    '"write": %d, "status": %d, "timeout": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, ' ..
    '"max_us": %d, "mean_us": %.1f}}\\n',
    summary.duration, summary.requests, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean))
end
"""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass
class Figures:
    target: str
    description: str
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    errors: int
    # CPU seconds the answering process used per request during the measured run (user + system,
    # from /proc): what a request costs the server, whatever else the machine was doing
    cpu_ms: float | None = None


# -- the bare handler (a subprocess of this script) ------------------------------------------------


SQLITE_SCHEMA = """
CREATE TABLE offersets (uuid TEXT PRIMARY KEY, owner TEXT NOT NULL, name TEXT NOT NULL,
    created TEXT NOT NULL, result TEXT NOT NULL, messages TEXT NOT NULL, sessions TEXT NOT NULL);
CREATE INDEX offersets_owner ON offersets (owner);
CREATE TABLE sessions (uuid TEXT PRIMARY KEY, offerset TEXT NOT NULL, owner TEXT NOT NULL,
    name TEXT NOT NULL, phase TEXT NOT NULL, created TEXT NOT NULL, modified TEXT NOT NULL,
    expires TEXT NOT NULL, request TEXT NOT NULL, offer TEXT NOT NULL, messages TEXT NOT NULL,
    connectors TEXT NOT NULL);
CREATE INDEX sessions_offerset ON sessions (offerset);
CREATE INDEX sessions_owner ON sessions (owner);
"""


def serve_bare(port: int, answer_file: str, database: str | None = None) -> None:
    """A tornado app with one POST handler: read the body, parse it, answer a canned JSON document.
    With ``database``, the handler also writes what the broker writes for a request, in one SQLite
    transaction (WAL, ``synchronous=NORMAL``, as the broker's store): the offerset row and one row per
    offer, with the request and each offer as JSON text, in tables shaped like the broker's."""
    import sqlite3
    import uuid as uuidlib
    from datetime import datetime, timezone

    from tornado import web
    from tornado.httpserver import HTTPServer

    canned = Path(answer_file).read_bytes()
    offers = [json.dumps(o) for o in json.loads(canned).get("offers", [])]
    connection = None
    if database is not None:
        connection = sqlite3.connect(database, isolation_level=None)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.executescript(SQLITE_SCHEMA)

    def write(body: bytes) -> None:
        assert connection is not None
        now = datetime.now(timezone.utc).isoformat()
        offerset = str(uuidlib.uuid4())
        uuids = [str(uuidlib.uuid4()) for _ in offers]
        request = body.decode()
        connection.execute("BEGIN")
        connection.execute("INSERT INTO offersets VALUES (?, ?, ?, ?, ?, ?, ?)",
                           (offerset, "bench", "bench", now, "YES", "[]", json.dumps(uuids)))
        connection.executemany(
            "INSERT INTO sessions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(u, offerset, "bench", "offer", "OFFERED", now, now, now, request, offer, "[]", "[]")
             for u, offer in zip(uuids, offers, strict=True)],
        )
        connection.execute("COMMIT")

    class Bare(web.RequestHandler):
        def post(self) -> None:
            json.loads(self.request.body)
            if connection is not None:
                write(self.request.body)
            self.set_header("Content-Type", "application/json")
            self.finish(canned)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        server = HTTPServer(web.Application([(PATH, Bare)]))
        server.listen(port, "127.0.0.1")
        await stop.wait()
        server.stop()

    asyncio.run(run())


def start_bare(folder: Path, answer: bytes, database: Path | None = None) -> tuple[subprocess.Popen, str]:
    answer_file = folder / "bare-answer.json"
    answer_file.write_bytes(answer)
    port = free_port()
    writes = ["--database", str(database)] if database is not None else []
    process = subprocess.Popen(
        [sys.executable, __file__, "--serve-bare", str(port), "--answer-file", str(answer_file), *writes],
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}{PATH}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the bare server exited with {process.returncode}")
        try:
            if httpx.post(url, content=b"{}", timeout=2, trust_env=False).status_code == 200:
                return process, url
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    stop_process(process)
    raise TimeoutError("the bare server did not start in 30 s")


def stop_process(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


# -- load generators --------------------------------------------------------------------------------


def run_wrk(url: str, body: bytes, token: str | None, args: argparse.Namespace, seconds: float,
            folder: Path) -> dict[str, Any]:
    auth = f'wrk.headers["Authorization"] = "token {token}"' if token else ""
    script = folder / "post.lua"
    script.write_text(WRK_SCRIPT.format(body=body.decode(), auth=auth))
    command = [
        "wrk", f"-t{args.wrk_threads}", f"-c{args.clients}", f"-d{max(1, round(seconds))}s",
        "--timeout", "10s", "--latency", "-s", str(script), url,
    ]
    out = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60, check=True)
    match = re.search(r"^WRKJSON (.*)$", out.stdout, re.MULTILINE)
    if match is None:
        raise RuntimeError(f"no figures in wrk's output:\n{out.stdout}\n{out.stderr}")
    raw = json.loads(match.group(1))
    return {
        "requests": raw["requests"],
        "seconds": raw["duration_us"] / 1e6,
        "p50_ms": raw["p50_us"] / 1000,
        "p90_ms": raw["p90_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "max_ms": raw["max_us"] / 1000,
        "errors": sum(raw[k] for k in ("connect", "read", "write", "status", "timeout")),
    }


async def _worker_loop(url: str, body: bytes, headers: dict[str, str], clients: int,
                       warmup: float, duration: float) -> dict[str, Any]:
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(limits=limits, timeout=30, trust_env=False, headers=headers) as client:
        begin = time.perf_counter() + warmup
        end = begin + duration

        async def one_client() -> None:
            nonlocal errors
            while True:
                t0 = time.perf_counter()
                if t0 >= end:
                    return
                try:
                    response = await client.post(url, content=body)
                    ok = response.status_code < 400
                except httpx.HTTPError:
                    ok = False
                t1 = time.perf_counter()
                if begin <= t1 < end:
                    latencies.append((t1 - t0) * 1000)
                    errors += not ok

        await asyncio.gather(*(one_client() for _ in range(clients)))
    return {"latencies": latencies, "errors": errors}


def load_worker(args: argparse.Namespace) -> None:
    """One process of the httpx generator: prints its latencies (ms) as JSON."""
    headers = {"Content-Type": "application/json"}
    if args.token:
        headers["Authorization"] = f"token {args.token}"
    body = Path(args.body_file).read_bytes()
    result = asyncio.run(
        _worker_loop(args.load_worker, body, headers, args.clients, args.warmup, args.duration)
    )
    print(json.dumps(result))


def run_httpx(url: str, body: bytes, token: str | None, args: argparse.Namespace, seconds: float,
              warmup: float, folder: Path) -> dict[str, Any]:
    body_file = folder / "body.json"
    body_file.write_bytes(body)
    workers = max(1, min(args.workers, args.clients))
    shares = [args.clients // workers + (i < args.clients % workers) for i in range(workers)]
    processes = [
        subprocess.Popen(
            [sys.executable, __file__, "--load-worker", url, "--body-file", str(body_file),
             "--token", token or "", "--clients", str(n), "--warmup", str(warmup),
             "--duration", str(seconds)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for n in shares
    ]
    latencies: list[float] = []
    errors = 0
    try:
        for process in processes:
            out, _ = process.communicate(timeout=warmup + seconds + 120)
            if process.returncode != 0:
                raise RuntimeError(f"a load worker exited with {process.returncode}")
            result = json.loads(out)
            latencies += result["latencies"]
            errors += result["errors"]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(len(latencies) * p / 100))] if latencies else 0.0

    return {
        "requests": len(latencies),
        "seconds": seconds,
        "p50_ms": statistics.median(latencies) if latencies else 0.0,
        "p90_ms": pct(90),
        "p99_ms": pct(99),
        "max_ms": latencies[-1] if latencies else 0.0,
        "errors": errors,
    }


def listening_pid(port: int) -> int | None:
    """The process that listens on 127.0.0.1:``port`` (Linux /proc), or None."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:  # LISTEN
                inodes.add(f"socket:[{fields[9]}]")
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if any(os.readlink(fd) in inodes for fd in (proc / "fd").iterdir()):
                return int(proc.name)
        except OSError:
            continue
    return None


def measure(target: str, description: str, url: str, body: bytes, token: str | None,
            args: argparse.Namespace, generator: str, folder: Path) -> Figures:
    log(f"  {target}: {args.warmup:g} s warm-up, then {args.duration:g} s at {args.clients} clients ...")
    pid = listening_pid(int(httpx.URL(url).port or 80))
    if generator == "wrk":
        if args.warmup > 0:
            run_wrk(url, body, token, args, args.warmup, folder)
        before = cpu_seconds(pid)
        raw = run_wrk(url, body, token, args, args.duration, folder)
        after = cpu_seconds(pid)
    else:  # the workers warm up inside the run: the CPU figure includes the warm-up's requests
        before = cpu_seconds(pid)
        raw = run_httpx(url, body, token, args, args.duration, args.warmup, folder)
        after = cpu_seconds(pid)
    rps = raw["requests"] / raw["seconds"] if raw["seconds"] else 0.0
    cpu = (1000 * (after - before) / raw["requests"]
           if before is not None and after is not None and raw["requests"] else None)
    return Figures(target=target, description=description, rps=rps, cpu_ms=cpu, **raw)


# -- the hub and the broker -------------------------------------------------------------------------


def profile_config(path: Path) -> str:
    """Extra hub config that runs the hub-managed service under cProfile (written when it exits)."""
    return f"""
for _s in c.JupyterHub.services:
    if _s["name"] == "execplanner":
        _s["command"] = [_s["command"][0], "-m", "cProfile", "-o", {str(path)!r}, *_s["command"][1:]]
"""


def broker_metrics(direct: str, admin_token: str) -> dict[str, float]:
    response = httpx.get(direct + "metrics", headers={"Authorization": f"token {admin_token}"},
                         timeout=30, trust_env=False)
    response.raise_for_status()
    wanted = {
        "offered": r'^execplanner_sessions\{phase="OFFERED"\} (\S+)$',
        "expired": r'^execplanner_sessions\{phase="EXPIRED"\} (\S+)$',
        "yes": r'^execplanner_offersets_total\{result="YES"\} (\S+)$',
        "no": r'^execplanner_offersets_total\{result="NO"\} (\S+)$',
        "offers": r"^execplanner_offers_total (\S+)$",
    }
    histogram = "execplanner_http_request_duration_seconds"
    wanted["time_sum"] = rf'^{histogram}_sum\{{endpoint="requests"\}} (\S+)$'
    wanted["time_count"] = rf'^{histogram}_count\{{endpoint="requests"\}} (\S+)$'
    for le in ("0.001", "0.002", "0.005", "0.01"):
        wanted[f"le_{le}"] = rf'^{histogram}_bucket\{{endpoint="requests",le="{le}"\}} (\S+)$'
    found: dict[str, float] = {}
    for key, pattern in wanted.items():
        match = re.search(pattern, response.text, re.MULTILINE)
        found[key] = float(match.group(1)) if match else 0.0
    return found


def print_profile(path: Path, top: int, stream: Any) -> None:
    if not path.exists():
        log(f"no profile was written to {path}")
        return
    stats = pstats.Stats(str(path), stream=stream)
    stats.strip_dirs()
    print(f"\n-- cProfile of the service, by cumulative time (top {top}) --", file=stream)
    stats.sort_stats("cumulative").print_stats(top)
    print(f"\n-- by own time (top {top}) --", file=stream)
    stats.sort_stats("tottime").print_stats(top)




def run(args: argparse.Namespace) -> dict[str, Any]:
    generator = args.generator
    if generator == "auto":
        generator = "wrk" if shutil.which("wrk") else "httpx"
    elif generator == "wrk" and not shutil.which("wrk"):
        raise SystemExit("wrk is not installed: apt-get install wrk, or use --generator httpx")
    folder = Path(tempfile.mkdtemp(prefix="execplanner-bench-"))
    service_port = free_port()
    direct = f"http://127.0.0.1:{service_port}{PREFIX}"
    settings: dict[str, Any] = {
        "url": f"http://127.0.0.1:{service_port}",
        "profiles": PROFILES,
        "capacity": {"default": {"cores": args.capacity, "memory": args.capacity}},
        "hub_poll_interval": args.hub_poll_interval,
        **NO_USER_LIMITS,
    }
    profile = Path(args.profile).resolve() if args.profile else None
    extra = profile_config(profile) if profile else ""
    hub = bare = sqlite = None
    results: list[Figures] = []
    try:
        log(f"Starting a hub in {folder} ...")
        hub = RealHub.start(folder / "hub", settings=settings, extra_config=extra)
        token = hub.user_token("bench")
        body = json.dumps(notebook()).encode()
        sample = httpx.post(direct + "requests", content=body, timeout=30, trust_env=False,
                            headers={"Authorization": f"token {token}", "Content-Type": "application/json"})
        sample.raise_for_status()
        answer = sample.json()
        if answer.get("result") != "YES":
            raise RuntimeError(f"the broker answered NO: {answer.get('meta', {}).get('messages')}")
        log(f"A broker answer is {len(sample.content)} bytes with {len(answer['offers'])} offers; "
            f"the request is {len(body)} bytes.")
        bare, bare_url = start_bare(folder, sample.content)
        sqlite, sqlite_url = start_bare(folder, sample.content, folder / "bare.sqlite")
        plan = {
            "bare": ("bare tornado handler, direct", bare_url, None),
            "bare+sqlite": ("bare handler + SQLite writes", sqlite_url, None),
            "direct": ("broker, direct to the service", direct + "requests", token),
            "proxy": ("broker, through the hub's proxy", hub.broker + "requests", token),
        }
        log(f"Load generator: {generator}")
        for target in args.targets:
            description, url, auth = plan[target]
            results.append(measure(target, description, url, body, auth, args, generator, folder))
        counts = broker_metrics(direct, hub.admin_token)
    finally:
        for process in (bare, sqlite):
            if process is not None:
                stop_process(process)
        if hub is not None:
            log("Stopping the hub ...")
            hub.stop()
        if args.keep:
            log(f"Kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    by_target = {f.target: f for f in results}
    report: dict[str, Any] = {
        "machine": machine(),
        "generator": generator,
        "clients": args.clients,
        "duration_s": args.duration,
        "warmup_s": args.warmup,
        "request_bytes": len(body),
        "answer_bytes": len(sample.content),
        "offers_per_answer": len(answer["offers"]),
        "targets": [asdict(f) for f in results],
        "broker": {
            "reservations_held": int(counts["offered"]),
            "offersets_yes": int(counts["yes"]),
            "offersets_no": int(counts["no"]),
            "offers_made": int(counts["offers"]),
            "expired": int(counts["expired"]),
            # the service's own timing of every POST requests of the run (handler start to finish,
            # without HTTP parsing, queueing or the proxy), from its Prometheus histogram
            "handler_mean_ms": (
                1000 * counts["time_sum"] / counts["time_count"] if counts["time_count"] else 0.0
            ),
            "handler_share_within_ms": {
                str(round(float(le) * 1000)): counts[f"le_{le}"] / counts["time_count"]
                for le in ("0.001", "0.002", "0.005", "0.01") if counts["time_count"]
            },
        },
        "profiled": bool(profile),
    }
    if "bare" in by_target and "direct" in by_target and by_target["bare"].rps:
        ratio = by_target["direct"].rps / by_target["bare"].rps
        report["ratio_direct_to_bare"] = ratio
        report["ratio_pass"] = ratio >= TARGET_RATIO
    if "bare+sqlite" in by_target and "direct" in by_target and by_target["bare+sqlite"].rps:
        ratio = by_target["direct"].rps / by_target["bare+sqlite"].rps
        report["ratio_direct_to_sqlite"] = ratio
        report["ratio_sqlite_pass"] = ratio >= TARGET_SQLITE_RATIO
    if "bare" in by_target and "proxy" in by_target and by_target["bare"].rps:
        report["ratio_proxy_to_bare"] = by_target["proxy"].rps / by_target["bare"].rps
    if "direct" in by_target:
        report["p99_direct_ms"] = by_target["direct"].p99_ms
        report["p99_pass"] = by_target["direct"].p99_ms < TARGET_P99_MS
    if profile:
        report["profile"] = str(profile)
    return report


def print_table(report: dict[str, Any]) -> None:
    m = report["machine"]
    print(f"machine: {m['cores']} cores, {m['cpu']}, Python {m['python']}")
    print(f"load: {report['generator']}, {report['clients']} clients, closed loop, keep-alive, "
          f"{report['warmup_s']:g} s warm-up + {report['duration_s']:g} s per target")
    print(f"request {report['request_bytes']} bytes; answer {report['answer_bytes']} bytes "
          f"({report['offers_per_answer']} offers)")
    print()
    print(f"{'target':<34} {'req/s':>9} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8} "
          f"{'errors':>7} {'CPU ms/req':>10}")
    for f in report["targets"]:
        cpu = f"{f['cpu_ms']:>10.3f}" if f["cpu_ms"] is not None else f"{'-':>10}"
        print(f"{f['description']:<34} {f['rps']:>9.1f} {f['p50_ms']:>8.2f} {f['p90_ms']:>8.2f} "
              f"{f['p99_ms']:>8.2f} {f['max_ms']:>8.2f} {f['errors']:>7d} {cpu}")
    print()
    if "ratio_direct_to_bare" in report:
        verdict = "PASS" if report["ratio_pass"] else "FAIL"
        print(f"throughput broker/bare (both direct): {report['ratio_direct_to_bare']:.2f}  "
              f"(target >= {TARGET_RATIO:.2f})  {verdict}")
    if "ratio_direct_to_sqlite" in report:
        verdict = "PASS" if report["ratio_sqlite_pass"] else "FAIL"
        print(f"throughput broker/(bare + SQLite writes): {report['ratio_direct_to_sqlite']:.2f}  "
              f"(target >= {TARGET_SQLITE_RATIO:.2f})  {verdict}")
    if "ratio_proxy_to_bare" in report:
        print(f"throughput broker through proxy/bare: {report['ratio_proxy_to_bare']:.2f}  (information)")
    if "p99_direct_ms" in report:
        verdict = "PASS" if report["p99_pass"] else "FAIL"
        print(f"p99 broker direct: {report['p99_direct_ms']:.2f} ms  "
              f"(target < {TARGET_P99_MS:g} ms at 20 clients)  {verdict}")
    b = report["broker"]
    print(f"broker at the end: {b['reservations_held']} offers holding reservations, "
          f"{b['offersets_yes']} YES / {b['offersets_no']} NO offersets, {b['expired']} expired")
    shares = ", ".join(f"{100 * v:.0f}% <= {k} ms" for k, v in b["handler_share_within_ms"].items())
    print(f"broker's own handler time for POST requests (whole run): mean {b['handler_mean_ms']:.2f} ms; "
          f"{shares}")
    if report["generator"] == "httpx":
        print("NOTE: with the httpx generator the client, not the server, limits the bare handler's figure "
              "(Python clients on 2 cores); the ratio is then too kind to the broker. Install wrk.")
    if report["profiled"]:
        print("NOTE: the service ran under cProfile; these figures are slowed by the profiler.")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds per target (10)")
    parser.add_argument("--warmup", type=float, default=2.0, help="warm-up seconds per target (2)")
    parser.add_argument("--clients", type=int, default=20, help="concurrent keep-alive clients (20)")
    parser.add_argument("--targets", default="bare,bare+sqlite,direct,proxy",
                        help="comma-separated, in order, of bare, bare+sqlite, direct, proxy (all)")
    parser.add_argument("--generator", choices=("auto", "wrk", "httpx"), default="auto",
                        help="load generator: wrk if installed, else httpx (auto)")
    parser.add_argument("--wrk-threads", type=int, default=1, help="wrk threads (1)")
    parser.add_argument("--workers", type=int, default=2, help="httpx generator processes (2)")
    parser.add_argument("--capacity", type=float, default=1_000_000.0,
                        help="cores and GiB of the broker's one pool, enough never to say NO (1e6)")
    parser.add_argument("--hub-poll-interval", type=float, default=10.0,
                        help="the broker's hub_poll_interval setting (10, its default)")
    parser.add_argument("--profile", metavar="FILE", help="run the service under cProfile, write FILE")
    parser.add_argument("--profile-top", type=int, default=30, help="functions to print from --profile")
    parser.add_argument("--keep", action="store_true", help="keep the hub's folder (logs, databases)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    # internal modes: the bare server and the httpx load workers are subprocesses of this script
    parser.add_argument("--serve-bare", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--answer-file", help=argparse.SUPPRESS)
    parser.add_argument("--database", help=argparse.SUPPRESS)
    parser.add_argument("--load-worker", help=argparse.SUPPRESS)
    parser.add_argument("--body-file", help=argparse.SUPPRESS)
    parser.add_argument("--token", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_bare:
        serve_bare(args.serve_bare, args.answer_file, args.database)
        return
    if args.load_worker:
        load_worker(args)
        return
    args.targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    unknown = set(args.targets) - {"bare", "bare+sqlite", "direct", "proxy"}
    if unknown:
        parser.error(f"unknown target(s) {sorted(unknown)}: use bare, bare+sqlite, direct, proxy")
    # SIGTERM ends the run like Ctrl-C: the hub, the service and the bare server are still stopped
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    # only loopback traffic: never route it through a proxy from the environment
    os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"
    report = run(args)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_table(report)
    if args.profile:
        # with --json, stdout holds only the JSON document
        print_profile(Path(args.profile), args.profile_top, sys.stderr if args.json else sys.stdout)


if __name__ == "__main__":
    main()
