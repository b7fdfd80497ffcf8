"""Large-hub benchmark: the broker counts every running server of a big hub, and answers as fast there.

Starts two real JupyterHubs (``tests/hubprocess.py``), each with the broker as its hub-managed service
on a known port and the light spawner (``tests/lightspawner.py``: every server is one shared tiny HTTP
server in the hub's process, so hundreds of servers run without hundreds of processes), with the same
settings: a small hub (``--small-users`` users, ``--small-running`` of them with a running server) and
a large one (``--users``, ``--running``). Users are created with the admin API in bulk (``POST
/hub/api/users`` with a list of names) and servers started with ``--spawn-concurrency`` concurrent
``POST /hub/api/users/NAME/server``. Then:

1. capacity, on each hub: what the broker holds for the hub's servers, against what the hub runs. The
   hub's count is the servers the script started (each start answered 201 or 202) and, read back, the
   ready servers over every page of ``GET users?state=active``; the broker's is the pool's cores less
   the cores it offers to a request for "1 core up to the whole pool, now, for a minute" (then
   rejected). The light spawner's servers are started without options, so each holds the
   ``server_footprint`` (1 core): the broker's used cores must be the servers started x 1. The script
   waits up to three poll intervals for them to agree, and exits with status 1, saying so, when they
   do not. It also shows how many users one unpaged ``GET users?state=active`` returns (what the
   broker read before it followed pages);
2. ``POST requests``: ``--warmup`` requests on each hub, then ``--requests`` on each, sequential, in
   blocks of ``--block`` with the hubs taking turns, so that both meet the same background load
   (``notebook()`` of ``tests/e2e/requests_lib.py``: 1-2 cores, 1-4 GiB, one hour), straight to the
   service's port, from ``--askers`` users in turn (keep-alive clients; each user stays under the
   broker's per-user request rate); p50, p95, max, the service's own handler time (its metrics) and
   the CPU the hub, service and proxy processes of each hub used meanwhile. Each answer's offers are
   rejected after it (untimed), so every request meets the same calendar;
3. the poll, on each hub: ``--poll-reads`` timed reads of every active user as the broker's poll reads
   them (``HubAPI.active_users`` with the broker's scopes, then ``running_servers`` and
   ``external_usage``), and the broker's own CPU per read (parsing the pages and counting).

The goal: the large hub's ``POST requests`` p50 at most 1.5x the small hub's. The brokers poll their
hubs every ``--hub-poll-interval`` seconds (default 1 s, ten times as often as the product's default,
so that the timed requests overlap many polls).

Run: ``python benchmarks/large_hub.py [--users 2000] [--running 500] [--requests 200] [--json]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from machine import cpu_seconds as machine_cpu_seconds
from machine import machine

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "e2e"))

from hubprocess import RealHub, free_port  # noqa: E402
from lightspawner import light_config  # noqa: E402
from requests_lib import notebook  # noqa: E402

from jupyterhub_execplanner.platform.profiles import Profile  # noqa: E402
from jupyterhub_execplanner.platform.usage import external_usage, running_servers  # noqa: E402
from jupyterhub_execplanner.worker.hubapi import PAGE_SIZE, PAGINATION, HubAPI, read_page  # noqa: E402

PREFIX = "/services/execplanner/"
TARGET_RATIO = 1.5
FOOTPRINT = {"cores": 1, "memory": 1}
PROFILES = [{"display_name": "Any size", "slug": "any",
             "kubespawner_override": {"cpu_guarantee": 1, "mem_guarantee": "1G"}}]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))] if ordered else 0.0


# -- the hub --------------------------------------------------------------------------------------


def start_hub(folder: Path, running: int, args: argparse.Namespace) -> tuple[RealHub, str]:
    service_port = free_port()
    settings: dict[str, Any] = {
        "url": f"http://127.0.0.1:{service_port}",
        "profiles": PROFILES,
        "capacity": {"default": {"cores": args.capacity, "memory": args.capacity}},
        "server_footprint": FOOTPRINT,
        "hub_poll_interval": args.hub_poll_interval,
    }
    extra = light_config() + READER_CONFIG + (
        f"c.JupyterHub.concurrent_spawn_limit = {max(100, 2 * args.spawn_concurrency)}\n"
        f"c.JupyterHub.active_server_limit = {running + 100}\n"
    )
    hub = RealHub.start(folder, settings=settings, extra_config=extra, timeout=120)
    return hub, f"http://127.0.0.1:{service_port}{PREFIX}"


def populate(hub: RealHub, users: int, running: int, concurrency: int, prefix: str) -> dict[str, float]:
    """``users`` users (bulk, 500 a call), the first ``running`` with a started server."""
    names = [f"{prefix}{i:05d}" for i in range(users)]
    t0 = time.perf_counter()
    for i in range(0, len(names), 500):
        hub.api("POST", "users", json={"usernames": names[i:i + 500]}).raise_for_status()
    t1 = time.perf_counter()
    asyncio.run(start_servers(hub, names[:running], concurrency))
    t2 = time.perf_counter()
    return {"create_users_s": t1 - t0, "start_servers_s": t2 - t1}


async def start_servers(hub: RealHub, names: list[str], concurrency: int) -> None:
    gate = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    headers = {"Authorization": f"token {hub.admin_token}"}
    async with httpx.AsyncClient(headers=headers, timeout=120, limits=limits, trust_env=False) as client:

        async def start(name: str) -> None:
            async with gate:
                response = await client.post(f"{hub.url}/hub/api/users/{name}/server", json={})
                if response.status_code not in (201, 202):
                    raise RuntimeError(f"starting {name}'s server: {response.status_code} {response.text}")

        await asyncio.gather(*(start(name) for name in names))


POLL_SCOPES = ["list:users", "read:users:name", "read:servers"]  # what the broker's own token has
READER_TOKEN = secrets.token_hex(16)
READER_CONFIG = f"""
c.JupyterHub.services.append({{"name": "poll-reader", "api_token": {READER_TOKEN!r}}})
c.JupyterHub.load_roles.append({{"name": "poll-reader", "scopes": {POLL_SCOPES!r},
                                "services": ["poll-reader"]}})
"""


def reader_token(hub: RealHub) -> str:
    """A service token with the broker's scopes (the user models the hub sends depend on them)."""
    return READER_TOKEN


async def read_active(hub: RealHub, api: HubAPI | None = None) -> tuple[int, int, float]:
    """(users, ready servers, seconds) of one read of every active user, the broker's way."""
    own = api is None
    api = api or HubAPI(f"{hub.url}/hub/api", reader_token(hub))
    try:
        t0 = time.perf_counter()
        users = await api.active_users()
        servers = running_servers(users)
        external_usage(servers, [Profile(slug="any", display_name="Any")], FOOTPRINT, held=set())
        seconds = time.perf_counter() - t0
    finally:
        if own:
            await api.close()
    ready = sum(1 for u in users for s in (u.get("servers") or {}).values() if s.get("ready"))
    return len(users), ready, seconds


def raw_pages(hub: RealHub) -> list[bytes]:
    """The bodies of every page of ``GET users?state=active``, as the broker's poll asks for them."""
    headers = {"Authorization": f"token {reader_token(hub)}", "Accept": PAGINATION}
    bodies: list[bytes] = []
    offset, limit = 0, PAGE_SIZE
    with httpx.Client(headers=headers, timeout=60, trust_env=False) as client:
        while True:
            response = client.get(f"{hub.url}/hub/api/users",
                                  params={"state": "active", "offset": offset, "limit": limit})
            response.raise_for_status()
            bodies.append(response.content)
            _items, following = read_page(json.loads(response.content), offset)
            if following is None:
                return bodies
            offset, limit = following


def broker_cpu_ms(bodies: list[bytes], rounds: int = 20) -> float:
    """The broker's own work on one poll's pages (parse, servers, usage), p50 over ``rounds``, ms."""
    profiles = [Profile(slug="any", display_name="Any")]
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        users: list[Any] = []
        offset = 0
        for body in bodies:
            items, following = read_page(json.loads(body), offset)
            users += items
            offset = following[0] if following else offset
        external_usage(running_servers(users), profiles, FOOTPRINT, held=set())
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


# -- the broker -----------------------------------------------------------------------------------


def broker_used_cores(client: httpx.Client, direct: str, capacity: float) -> float:
    """The pool's cores less what the broker offers now to "1 core up to the whole pool"."""
    request = notebook(cores=(1, int(capacity)), memory=(1, 1), duration="PT1M")
    answer = client.post(direct + "requests", json=request).json()
    if answer.get("result") != "YES":
        raise RuntimeError(f"the broker said NO: {answer.get('meta', {}).get('messages')}")
    offers = answer["offers"]
    for offer in offers:  # give the room back
        client.post(direct + f"sessions/{offer['meta']['uuid']}",
                    json={"kind": "uri:enum-value-update", "path": "phase", "value": "REJECTED"})
    return capacity - float(offers[0]["compute"]["cores"]["min"])


def capacity_check(hub: RealHub, client: httpx.Client, direct: str, started: int,
                   args: argparse.Namespace) -> dict[str, Any]:
    """Wait (up to three polls of the broker) until the broker holds ``started`` x the footprint."""
    expected = started * FOOTPRINT["cores"]
    deadline = time.monotonic() + 3 * args.hub_poll_interval + 15
    while True:
        users, ready, _ = asyncio.run(read_active(hub))
        used = broker_used_cores(client, direct, args.capacity)
        if used == expected and ready == started or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    # what the broker read before it followed pages: one list, cut at the hub's api_page_max_limit
    unpaged = len(hub.api("GET", "users", params={"state": "active"}).json())
    return {"started_servers": started, "ready_servers_read": ready, "active_users": users,
            "unpaged_read_users": unpaged,
            "broker_used_cores": used, "expected_cores": expected,
            "ok": used == expected and ready == started}


HANDLER = re.compile(
    r'^execplanner_http_request_duration_seconds_(sum|count)\{endpoint="requests"\} (\S+)$', re.MULTILINE
)


def handler_time(hub: RealHub, direct: str) -> tuple[float, float]:
    """(seconds, count) of the service's own handler time for ``POST requests`` so far."""
    text = httpx.get(direct + "metrics", headers={"Authorization": f"token {hub.admin_token}"},
                     timeout=30, trust_env=False).text
    found = {kind: float(value) for kind, value in HANDLER.findall(text)}
    return found.get("sum", 0.0), found.get("count", 0.0)


def cpu_seconds(hub: RealHub) -> dict[str, float]:
    """CPU seconds (user + system) so far of the hub's process and of its children: the broker's
    service and the proxy."""
    assert hub.process is not None
    pids = {"hub": hub.process.pid}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == hub.process.pid:
            name = "service" if b"jupyterhub_execplanner.service" in cmdline else "proxy"
            pids[name] = int(stat.parent.name)
    found = {name: machine_cpu_seconds(pid) for name, pid in pids.items()}
    return {name: seconds for name, seconds in found.items() if seconds is not None}


def ask(side: Side, body: bytes) -> float:
    """One ``POST requests`` (ms) from the side's next user; its offers rejected after (untimed), so
    every request meets the same calendar and no user reaches a per-user limit."""
    client = side.clients[1 + side.asked % (len(side.clients) - 1)]
    side.asked += 1
    t0 = time.perf_counter()
    response = client.post(side.direct + "requests", content=body)
    elapsed = (time.perf_counter() - t0) * 1000
    if response.status_code not in (200, 201) or response.json().get("result") != "YES":
        raise RuntimeError(f"POST requests on {side.name}: {response.status_code} {response.text[:300]}")
    for offer in response.json()["offers"]:
        client.post(side.direct + f"sessions/{offer['meta']['uuid']}",
                    json={"kind": "uri:enum-value-update", "path": "phase", "value": "REJECTED"})
    return elapsed


def figures(latencies: list[float]) -> dict[str, float]:
    return {"requests": len(latencies), "p50_ms": statistics.median(latencies),
            "p95_ms": pct(latencies, 95), "max_ms": max(latencies), "mean_ms": statistics.fmean(latencies)}


def time_polls(hub: RealHub, reads: int) -> dict[str, float]:
    """``reads`` reads of every active user with one client (as the broker keeps one), and the
    broker's own share of one: parsing the pages and counting the servers."""

    async def loop() -> list[float]:
        api = HubAPI(f"{hub.url}/hub/api", reader_token(hub))
        try:
            await read_active(hub, api)  # the connection, as the broker's is, open
            return [(await read_active(hub, api))[2] * 1000 for _ in range(reads)]
        finally:
            await api.close()

    seconds = asyncio.run(loop())
    bodies = raw_pages(hub)
    return {"reads": reads, "p50_ms": statistics.median(seconds), "max_ms": max(seconds),
            "pages": len(bodies), "bytes": sum(len(b) for b in bodies),
            "broker_cpu_ms": broker_cpu_ms(bodies)}


def user_client(hub: RealHub, name: str) -> httpx.Client:
    headers = {"Authorization": f"token {hub.user_token(name)}", "Content-Type": "application/json"}
    return httpx.Client(headers=headers, timeout=60, trust_env=False)


@dataclass
class Side:
    """One hub of the comparison, and what was measured on it."""

    name: str
    users: int
    running: int
    hub: RealHub | None = None
    direct: str = ""
    clients: list[httpx.Client] = field(default_factory=list)  # [0] probes capacity, the rest ask
    asked: int = 0
    latencies: list[float] = field(default_factory=list)
    report: dict[str, Any] = field(default_factory=dict)


def prepare(side: Side, folder: Path, args: argparse.Namespace) -> None:
    log(f"{side.name}: starting a hub with {side.users} users, {side.running} running servers ...")
    side.hub, side.direct = start_hub(folder, side.running, args)
    setup = populate(side.hub, side.users, side.running, args.spawn_concurrency, side.name[0])
    log(f"  created users in {setup['create_users_s']:.1f} s, "
        f"started servers in {setup['start_servers_s']:.1f} s")
    # users asking in turn: each stays under the broker's per-user request rate
    side.clients = [user_client(side.hub, f"asker{i}") for i in range(args.askers + 1)]
    capacity = capacity_check(side.hub, side.clients[0], side.direct, side.running, args)
    log(f"  capacity: {capacity['started_servers']} servers started, {capacity['ready_servers_read']} "
        f"ready over every page, the broker holds {capacity['broker_used_cores']:g} cores for them")
    side.report = {"name": side.name, "users": side.users, "running": side.running, **setup,
                   "capacity": capacity}


def time_interleaved(sides: list[Side], args: argparse.Namespace) -> None:
    """``--warmup`` requests on each hub, then ``--requests`` on each in blocks of ``--block``, the
    hubs taking turns (first one, then the other, block after block), so that both meet the same
    background load; with the CPU the hubs' processes used meanwhile and the services' own handler
    time."""
    body = json.dumps(notebook()).encode()
    for side in sides:
        for _ in range(args.warmup):
            ask(side, body)
    before = {s.name: (cpu_seconds(s.hub), handler_time(s.hub, s.direct)) for s in sides}  # type: ignore[arg-type]
    t0 = time.perf_counter()
    block = 0
    while any(len(s.latencies) < args.requests for s in sides):
        for side in sides if block % 2 == 0 else sides[::-1]:
            for _ in range(min(args.block, args.requests - len(side.latencies))):
                side.latencies.append(ask(side, body))
        block += 1
    wall = time.perf_counter() - t0
    for side in sides:
        assert side.hub is not None
        cpu0, (time0, count0) = before[side.name]
        cpu1, (time1, count1) = cpu_seconds(side.hub), handler_time(side.hub, side.direct)
        side.report["post_requests"] = {
            **figures(side.latencies),
            # the service's own time in its POST requests handler
            "handler_mean_ms": 1000 * (time1 - time0) / max(1.0, count1 - count0),
            "cpu_share": {k: round((cpu1[k] - cpu0.get(k, 0.0)) / wall, 3) for k in cpu1},
        }


def run(args: argparse.Namespace) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="execplanner-large-"))
    sides = [Side("small", args.small_users, args.small_running), Side("large", args.users, args.running)]
    try:
        for side in sides:
            prepare(side, folder / side.name, args)
        log(f"POST requests: {args.warmup} warm-up + {args.requests} on each hub, "
            f"in turns of {args.block} ...")
        time_interleaved(sides, args)
        for side in sides:
            log(f"{side.name}: timing {args.poll_reads} reads of every active user ...")
            side.report["poll"] = time_polls(side.hub, args.poll_reads)  # type: ignore[arg-type]
        load = [round(x, 2) for x in os.getloadavg()]
    finally:
        for side in sides:
            for client in side.clients:
                client.close()
            if side.hub is not None:
                side.hub.stop()
        if args.keep:
            log(f"Kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    small, large = (side.report for side in sides)
    ratio = large["post_requests"]["p50_ms"] / small["post_requests"]["p50_ms"]
    return {"machine": machine(), "hub_poll_interval_s": args.hub_poll_interval, "load_after": load,
            "hubs": [small, large], "p50_ratio": ratio, "p50_ratio_pass": ratio <= TARGET_RATIO,
            "capacity_ok": small["capacity"]["ok"] and large["capacity"]["ok"]}


def print_table(report: dict[str, Any]) -> None:
    m = report["machine"]
    print(f"machine: {m['cores']} cores, {m['cpu']}, Python {m['python']}; broker polls the hub every "
          f"{report['hub_poll_interval_s']:g} s")
    print(f"load average (1, 5, 15 min) at the end: {report['load_after']}")
    print()
    print(f"{'hub':<6} {'users':>6} {'active users':>13} {'unpaged read':>13} {'servers started':>16} "
          f"{'ready, read':>12} {'broker cores':>13} {'expected':>9} {'ok':>3}")
    for h in report["hubs"]:
        c = h["capacity"]
        print(f"{h['name']:<6} {h['users']:>6} {c['active_users']:>13} {c['unpaged_read_users']:>13} "
              f"{c['started_servers']:>16} {c['ready_servers_read']:>12} {c['broker_used_cores']:>13g} "
              f"{c['expected_cores']:>9} {'yes' if c['ok'] else 'NO':>3}")
    print()
    print(f"{'hub':<6} {'POST requests p50':>18} {'p95':>8} {'max':>8} {'mean':>8} {'handler':>8}   "
          f"{'CPU share: hub':>14} {'service':>8} {'proxy':>6}   {'setup: users':>13} {'servers':>8}")
    for h in report["hubs"]:
        r = h["post_requests"]
        cpu = r["cpu_share"]
        print(f"{h['name']:<6} {r['p50_ms']:>15.2f} ms {r['p95_ms']:>8.2f} {r['max_ms']:>8.2f} "
              f"{r['mean_ms']:>8.2f} {r['handler_mean_ms']:>8.2f}   {cpu.get('hub', 0):>14.2f} "
              f"{cpu.get('service', 0):>8.2f} {cpu.get('proxy', 0):>6.2f}   "
              f"{h['create_users_s']:>11.1f} s {h['start_servers_s']:>6.1f} s")
    print()
    print(f"{'hub':<6} {'poll p50':>9} {'poll max':>9} {'pages':>6} {'bytes':>9} {'broker CPU per poll':>20}")
    for h in report["hubs"]:
        p = h["poll"]
        print(f"{h['name']:<6} {p['p50_ms']:>6.1f} ms {p['max_ms']:>6.1f} ms {p['pages']:>6} {p['bytes']:>9} "
              f"{p['broker_cpu_ms']:>17.2f} ms")
    print()
    verdict = "PASS" if report["p50_ratio_pass"] else "FAIL"
    print(f"POST requests p50, large/small: {report['p50_ratio']:.2f} (target <= {TARGET_RATIO}) {verdict}")
    print("capacity counted right on both hubs" if report["capacity_ok"]
          else "CAPACITY MISCOUNTED: the broker's used cores differ from the hub's running servers")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=2000, help="users of the large hub (2000)")
    parser.add_argument("--running", type=int, default=500, help="running servers of the large hub (500)")
    parser.add_argument("--small-users", type=int, default=10, help="users of the small hub (10)")
    parser.add_argument("--small-running", type=int, default=3, help="running servers of the small hub (3)")
    parser.add_argument("--requests", type=int, default=200, help="timed POST requests per hub (200)")
    parser.add_argument("--warmup", type=int, default=20, help="untimed POST requests first, per hub (20)")
    parser.add_argument("--block", type=int, default=10, help="timed requests per hub per turn (10)")
    parser.add_argument("--poll-reads", type=int, default=10, help="timed reads of every active user (10)")
    parser.add_argument("--spawn-concurrency", type=int, default=16, help="concurrent server starts (16)")
    parser.add_argument("--capacity", type=float, default=2000.0,
                        help="cores and GiB of the broker's one pool (2000)")
    parser.add_argument("--askers", type=int, default=8,
                        help="users taking turns at the timed requests (8: each under 60 a minute)")
    parser.add_argument("--hub-poll-interval", type=float, default=1.0,
                        help="the broker's hub_poll_interval (1 s; the product's default is 10 s)")
    parser.add_argument("--keep", action="store_true", help="keep the hubs' folders (logs, databases)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    report = run(args)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_table(report)
    if not report["capacity_ok"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
