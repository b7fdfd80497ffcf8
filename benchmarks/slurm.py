"""Slurm benchmark: the broker on a real Slurm cluster against the same hub with static capacity, and
accept → AVAILABLE against a bare batchspawner spawn.

Starts a real two-node Slurm cluster on this host (``tests/slurmcluster.py``: munged, slurmctld, two
slurmd) and two real JupyterHubs with the same configuration (``tests/slurmcluster.hub_config``:
wrapspawner's ProfilesSpawner over the broker's ExecPlannerSlurmSpawner, three profiles) and the same
``c.ExecPlanner.profiles`` mirroring them; they differ only in ``capacity_provider``:

* ``slurm``: the cluster read with ``scontrol`` every second, other jobs on the calendar, and
  ``sbatch --test-only`` asked before planning (cached ``slurm_start_ttl`` = 30 s, the default);
* ``static``: ``capacity`` set to the cluster's totals; nothing asked of Slurm.

1. ``POST requests`` (a 1-core notebook session, no data), ``--requests`` on each hub, interleaved
   one by one, sequential; each answer's offers rejected (not timed) so every request meets the same
   calendar. Prints p50 and p95 of each and their ratio (goal: Slurm ≤ 2× static). Also the first
   request after the cache is cleared (one ``sbatch --test-only`` per eligible profile).
2. On the Slurm hub, ``--rounds`` rounds, alternating which goes first: ``broker`` (``POST requests``,
   accept the first offer, poll ``GET sessions/{uuid}`` every ``--poll`` s until AVAILABLE; timed from
   the accept's response) and ``bare`` (``POST /hub/api/users/NAME/servers/bare`` with ``{"profile":
   "small"}``, poll the server's model until ``ready``; timed from the POST). Each is stopped and gone
   before the next. Prints the medians and their ratio (goal: broker ≤ 1.2× bare).

Everything listens on 127.0.0.1; the cluster and hubs are stopped and the folder removed at the end.
Needs root (slurmd) and ``bash scripts/setup-slurm.sh``.

Run: ``python benchmarks/slurm.py [--requests 200] [--rounds 5] [--json] [--keep]``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from hubprocess import RealHub  # noqa: E402
from machine import NO_USER_LIMITS, machine  # noqa: E402
from requests_lib import KINDS  # noqa: E402
from slurmcluster import NODES, PARTITION, SlurmCluster, hub_config, slurm_missing  # noqa: E402

from jupyterhub_execplanner import launch  # noqa: E402

SECRET = "bench-slurm-" + "0" * 52
PROFILES = [  # the ProfilesSpawner profiles of hub_config, as c.ExecPlanner.profiles
    {"display_name": "Small", "slug": "small", "execplanner": {"pool": PARTITION},
     "kubespawner_override": {"cpu_guarantee": 1, "cpu_limit": 1, "mem_guarantee": "1Gi",
                              "mem_limit": "1Gi"}},
    {"display_name": "Whole node", "slug": "node", "execplanner": {"pool": PARTITION},
     "kubespawner_override": {"cpu_guarantee": 2, "cpu_limit": 2, "mem_guarantee": "2Gi",
                              "mem_limit": "2Gi"}},
    {"display_name": "GPU", "slug": "gpu", "execplanner": {"pool": PARTITION},
     "kubespawner_override": {"cpu_guarantee": 1, "cpu_limit": 1, "mem_guarantee": "1Gi",
                              "mem_limit": "1Gi", "extra_resource_limits": {"gpu": 1}}},
]
REQUEST = {
    "executable": {"kind": f"{KINDS}/executable/jupyter-notebook.yaml", "meta": {"name": "bench"}},
    "compute": {"kind": f"{KINDS}/compute/simple-compute-resource.yaml",
                "cores": {"min": 1, "max": 1}, "memory": {"min": 1, "max": 1}},
    "schedule": {"requested": {"duration": "PT10M"}},
}


def phase(value: str) -> dict[str, str]:
    return {"kind": "uri:enum-value-update", "path": "phase", "value": value}


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def start_hub(folder: Path, cluster: SlurmCluster, provider: str) -> RealHub:
    (folder / "home").mkdir(parents=True)
    settings: dict[str, Any] = {
        **NO_USER_LIMITS, "profiles": PROFILES, "capacity_provider": provider, "prepare_time": 1,
        "max_offers": 3, "slurm_poll_interval": 1, "slurm_reservation_user": "root",
    }
    if provider == "static":
        gpus = sum(n["gpus"] for n in NODES.values())
        settings["capacity"] = {PARTITION: {"cores": sum(n["cpus"] for n in NODES.values()),
                                            "memory": sum(n["memory"] for n in NODES.values()) / 1024,
                                            "gpu": gpus}}
    return RealHub.start(folder, settings=settings, extra_config=hub_config(folder / "home"),
                         env={launch.SECRET_ENV: SECRET, "SLURM_CONF": str(cluster.conf)}, timeout=120)


def ask(client: httpx.Client, hub: RealHub) -> float:
    """One ``POST requests`` (seconds); its offers are then rejected, untimed."""
    began = time.perf_counter()
    response = client.post(f"{hub.broker}requests", json=REQUEST)
    took = time.perf_counter() - began
    answer = response.json()
    assert answer["result"] == "YES", answer["meta"]["messages"]
    for offer in answer["offers"]:
        rejected = client.post(f"{hub.broker}sessions/{offer['meta']['uuid']}", json=phase("REJECTED"))
        assert rejected.status_code == 200, rejected.text
    return took


def client_for(hub: RealHub, user: str) -> httpx.Client:
    return httpx.Client(headers={"Authorization": f"token {hub.user_token(user)}"}, timeout=60)


def wait(check: Any, timeout: float, poll: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(poll)
    raise TimeoutError(what)


def broker_round(client: httpx.Client, hub: RealHub, poll: float) -> float:
    answer = client.post(f"{hub.broker}requests", json=REQUEST).json()
    uuid = answer["offers"][0]["meta"]["uuid"]
    accepted = client.post(f"{hub.broker}sessions/{uuid}", json=phase("ACCEPTED"))
    assert accepted.status_code == 200, accepted.text
    began = time.perf_counter()
    wait(lambda: client.get(f"{hub.broker}sessions/{uuid}").json()["phase"] in ("AVAILABLE", "RUNNING"),
         180, poll, f"session {uuid} AVAILABLE")
    took = time.perf_counter() - began
    client.post(f"{hub.broker}sessions/{uuid}", json=phase("CANCELLED"))
    name = launch.server_name_for(uuid)
    wait(lambda: hub.api("GET", f"users/bench/servers/{name}").status_code == 404, 60, poll,
         "the session's server gone")
    return took


def bare_round(hub: RealHub, poll: float) -> float:
    began = time.perf_counter()
    started = hub.api("POST", "users/bench/servers/bare", json={"profile": "small"})
    assert started.status_code in (201, 202), started.text
    wait(lambda: (hub.api("GET", "users/bench/servers/bare").json() or {}).get("ready"), 180, poll,
         "the bare server ready")
    took = time.perf_counter() - began
    hub.api("DELETE", "users/bench/servers/bare", json={"remove": True})
    wait(lambda: hub.api("GET", "users/bench/servers/bare").status_code == 404, 60, poll,
         "the bare server gone")
    return took


def run(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    log("starting the Slurm cluster")
    cluster = SlurmCluster.start(folder / "slurm")
    hubs: dict[str, RealHub] = {}
    try:
        for provider in ("slurm", "static"):
            log(f"starting the {provider} hub")
            hubs[provider] = start_hub(folder / provider, cluster, provider)
        clients = {p: client_for(h, "bench") for p, h in hubs.items()}
        first = ask(clients["slurm"], hubs["slurm"])  # the cache is empty: the scheduler is asked
        for provider in hubs:  # warm both up
            for _ in range(5):
                ask(clients[provider], hubs[provider])
        times: dict[str, list[float]] = {p: [] for p in hubs}
        log(f"{args.requests} POST requests on each hub, interleaved")
        for i in range(args.requests):
            order = list(hubs) if i % 2 == 0 else list(reversed(hubs))
            for provider in order:
                times[provider].append(ask(clients[provider], hubs[provider]))
        rounds: dict[str, list[float]] = {"broker": [], "bare": []}
        hubs["static"].stop()  # the spawn rounds run on the Slurm hub alone
        for i in range(args.rounds):
            order = ["broker", "bare"] if i % 2 == 0 else ["bare", "broker"]
            for side in order:
                took = (broker_round(clients["slurm"], hubs["slurm"], args.poll) if side == "broker"
                        else bare_round(hubs["slurm"], args.poll))
                rounds[side].append(took)
                log(f"round {i + 1}: {side} {took:.2f} s")
        for c in clients.values():
            c.close()
    finally:
        for hub in hubs.values():
            hub.stop()
        cluster.stop()
    p50 = {p: statistics.median(v) * 1000 for p, v in times.items()}
    spawn = {s: statistics.median(v) for s, v in rounds.items()}
    return {
        "machine": machine(),
        "requests": {p: {"p50_ms": round(p50[p], 1), "p95_ms": round(pct(v, 95) * 1000, 1), "n": len(v)}
                     for p, v in times.items()},
        "requests_ratio": round(p50["slurm"] / p50["static"], 2),
        "first_request_uncached_ms": round(first * 1000, 1),
        "spawn": {s: {"median_s": round(spawn[s], 2), "all_s": [round(t, 2) for t in v]}
                  for s, v in rounds.items()},
        "spawn_ratio": round(spawn["broker"] / spawn["bare"], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--poll", type=float, default=0.1)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs)")
    args = parser.parse_args()
    missing = slurm_missing()
    if missing:
        sys.exit(missing)
    folder = Path(tempfile.mkdtemp(prefix="bench-slurm-"))
    try:
        report = run(args, folder)
    finally:
        if args.keep:
            log(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    if args.json:
        print(json.dumps(report, indent=2))
        return
    m = report["machine"]
    print(f"machine: {m['cores']} cores, {m['cpu']}, Python {m['python']}")
    for provider, r in report["requests"].items():
        print(f"POST requests, {provider:6} capacity: p50 {r['p50_ms']:.1f} ms, p95 {r['p95_ms']:.1f} ms"
              f" ({r['n']} requests)")
    print(f"  Slurm / static p50: {report['requests_ratio']:.2f}x (goal <= 2x); first request with "
          f"the cache empty: {report['first_request_uncached_ms']:.1f} ms")
    for side, r in report["spawn"].items():
        print(f"{side:6} to AVAILABLE/ready: median {r['median_s']:.2f} s {r['all_s']}")
    print(f"  broker / bare: {report['spawn_ratio']:.2f}x (goal <= 1.2x)")


if __name__ == "__main__":
    main()
