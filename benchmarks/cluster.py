"""Micro-benchmark: planning on a Kubernetes cluster's cached capacity, by cluster size.

For 10, 500 and 5,000 nodes, each with 50,000 pods in the cache (a :class:`KubeCapacity` filled
through its watch-event handlers, as the reflectors fill it; no HTTP), measures per request:

* ``KubeCapacity.totals()`` (from the cache),
* ``fit_to_nodes`` (each profile capped to the node that best holds the request: ``node_fit``),
* ``plan()`` against a calendar built from those totals, holding 500 reservations sized to the
  pools (the same relative load at every size).

Requests, profiles and reservations are the same at every size. The figure the issue sets a target
on is ``p50(5000 nodes) / p50(10 nodes) <= 1.5``. Then, at the largest size, the cost of one watch
event: ``json.loads`` of the event line plus applying it (a pod MODIFIED, ADDED+DELETED, a node
MODIFIED), and of the recompute of every pool's figures that the next read does after a change.

Run: ``python benchmarks/cluster.py [--rounds 2000] [--pods 50000] [--sizes 10 500 5000]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from k8sdouble import node, pod  # noqa: E402

from jupyterhub_execplanner.model.request import (  # noqa: E402
    AcceleratorRequest,
    ComputeSpec,
    ExecutableSpec,
    ExecutionRequest,
    IntRange,
    ScheduleSpec,
)
from jupyterhub_execplanner.planning.nodefit import fit_to_nodes  # noqa: E402
from jupyterhub_execplanner.planning.planner import plan  # noqa: E402
from jupyterhub_execplanner.planning.policy import PlannerPolicy  # noqa: E402
from jupyterhub_execplanner.platform.calendar import Calendar  # noqa: E402
from jupyterhub_execplanner.platform.kubecapacity import pools_for_profiles  # noqa: E402
from jupyterhub_execplanner.platform.kubewatch import KubeCapacity  # noqa: E402
from jupyterhub_execplanner.platform.profiles import Profile  # noqa: E402

GPU = "nvidia.com/gpu"
TAINT = {"key": GPU, "value": "present", "effect": "NoSchedule"}
GPU_LABELS = {"accelerator": "a100"}
GPU_TOLERATION = ({"key": GPU, "operator": "Exists", "effect": "NoSchedule"},)
TARGET_RATIO = 1.5
NOW = datetime(2026, 11, 24, 15, 0, tzinfo=timezone.utc)


def profiles() -> list[Profile]:
    cpu = [
        Profile(f"cpu-{n}", f"CPU {n}", cores_min=n / 2, cores_max=n, memory_min=n, memory_max=4 * n)
        for n in (1, 2, 4, 8, 16, 32)
    ]
    gpu = [
        Profile(f"gpu-{n}", f"GPU {n}", cores_max=16, memory_max=64, accelerators={GPU: n},
                pool="gpu", node_selector=GPU_LABELS, tolerations=GPU_TOLERATION)
        for n in (1, 2)
    ]  # fmt: skip
    return cpu + gpu


def cluster(nodes: int, pods: int, rng: random.Random) -> tuple[list[dict], list[dict]]:
    """``nodes`` nodes (one in five with 4 GPUs) and ``pods`` pods using about 60% of them."""
    node_objs = [
        node(f"gpu-{i:05}", cpu="32", memory="256Gi", gpus=4, labels=GPU_LABELS, taints=[TAINT])
        if i % 5 == 0 else node(f"cpu-{i:05}", cpu="64", memory="256Gi")
        for i in range(nodes)
    ]  # fmt: skip
    per_pod_cores = 0.6 * sum(32 if i % 5 == 0 else 64 for i in range(nodes)) / pods
    pod_objs = []
    for i in range(pods):
        target = node_objs[rng.randrange(nodes)]["metadata"]["name"]
        cores = per_pod_cores * rng.uniform(0.5, 1.5)
        pod_objs.append(pod(f"p{i:06}", target, cpu=f"{max(1, int(cores * 1000))}m",
                            memory=f"{max(1, int(cores * 4 * 1024))}Mi",
                            gpus=1 if target.startswith("gpu") and rng.random() < 0.05 else 0,
                            namespace=f"ns{i % 50}"))  # fmt: skip
    return node_objs, pod_objs


def requests(rounds: int, rng: random.Random) -> list[ExecutionRequest]:
    out = []
    for _ in range(rounds):
        cores = rng.randint(1, 16)
        memory = cores * rng.randint(1, 4)
        gpus = (AcceleratorRequest(None, None, GPU, IntRange(1, 2)),) if rng.random() < 0.2 else ()
        out.append(ExecutionRequest(
            executable=ExecutableSpec(kind="jupyter-notebook"),
            compute=ComputeSpec(cores=IntRange(cores, cores * 2), memory=IntRange(memory, memory * 2),
                                accelerators=gpus),
            schedule=ScheduleSpec(duration=timedelta(hours=rng.choice([1, 2, 4, 8]))),
        ))  # fmt: skip
    return out


def calendar(totals: dict[str, dict[str, float]], reservations: int, rng: random.Random) -> Calendar:
    """The pools' totals with ``reservations`` holds, each a share of its pool."""
    cal = Calendar(totals, origin=NOW)
    placed = attempts = 0
    while placed < reservations and attempts < 20 * reservations:
        attempts += 1
        pool = "gpu" if rng.random() < 0.2 else "default"
        share = rng.uniform(0.002, 0.02)
        amounts = {k: v * share for k, v in totals[pool].items() if k != GPU}
        span = timedelta(minutes=rng.uniform(10, 480))
        not_before = NOW + timedelta(minutes=rng.uniform(0, 6 * 24 * 60))
        start = cal.earliest(pool, amounts, not_before=not_before,
                             not_after=not_before + timedelta(days=1), span=span)  # fmt: skip
        if start is not None:
            cal.reserve(f"r{placed}", pool, start, start + span, amounts)
            placed += 1
    return cal


def percentiles(times: list[float]) -> tuple[float, float]:
    times = sorted(times)
    return statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.99))]


async def filled(nodes: list[dict], pods: list[dict]) -> KubeCapacity:
    """A KubeCapacity filled through its event handlers, as the reflectors fill it."""
    kube = KubeCapacity(pools_for_profiles(profiles()), debounce=3600)
    kube._nodes_listed(nodes)
    kube._pods_listed(pods)
    kube.flush()
    return kube


async def measure_size(size: int, args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(size)
    nodes, pods = cluster(size, args.pods, rng)
    t0 = time.perf_counter()
    kube = await filled(nodes, pods)
    fill = time.perf_counter() - t0
    cal = calendar(kube.totals(), 500, random.Random(7))
    policy, mine = PlannerPolicy(), profiles()
    times: list[float] = []
    parts = {"totals": [], "fit": [], "plan": []}  # type: dict[str, list[float]]
    offers = 0
    for req in requests(args.rounds, random.Random(2)):
        a = time.perf_counter()
        kube.totals()
        b = time.perf_counter()
        capped, _ = fit_to_nodes(req, mine, kube.node_fit)
        c = time.perf_counter()
        result = plan(req, capped, cal, now=NOW, policy=policy)
        d = time.perf_counter()
        offers += len(result.offers)
        times.append((d - a) * 1000)
        for name, dt in (("totals", b - a), ("fit", c - b), ("plan", d - c)):
            parts[name].append(dt * 1000)
    p50, p99 = percentiles(times)
    row = {"nodes": size, "pods": args.pods, "p50_ms": p50, "p99_ms": p99, "fill_s": fill,
           "offers": offers / args.rounds}  # fmt: skip
    row.update({f"{k}_p50_ms": statistics.median(v) for k, v in parts.items()})
    row.update({f"{k}_p99_ms": percentiles(v)[1] for k, v in parts.items()})
    if size == max(args.sizes):
        row["events"] = measure_events(kube, nodes, pods, rng)
    return row


def measure_events(kube: KubeCapacity, nodes: list[dict], pods: list[dict],
                   rng: random.Random) -> dict[str, float]:  # fmt: skip
    """Microseconds per watch event (decode + apply), and per recompute after a change."""

    def line(type_: str, obj: dict) -> bytes:
        return json.dumps({"type": type_, "object": obj}).encode()

    def timed(lines: list[bytes], handler: Any) -> float:
        t0 = time.perf_counter()
        for raw in lines:
            event = json.loads(raw)
            handler(event["type"], event["object"])
        return (time.perf_counter() - t0) / len(lines) * 1e6

    n = 2000
    modified = []
    for obj in rng.sample(pods, n):
        changed = json.loads(json.dumps(obj))
        changed["status"]["phase"] = "Succeeded"  # a real change: it stops holding its request
        modified.append(line("MODIFIED", changed))
    fresh = [pod(f"new{i}", nodes[rng.randrange(len(nodes))]["metadata"]["name"], cpu="250m",
                 memory="1Gi") for i in range(n)]  # fmt: skip
    added = [line("ADDED", o) for o in fresh]
    deleted = [line("DELETED", o) for o in fresh]
    node_lines = [line("MODIFIED", o) for o in rng.sample(nodes, min(n, len(nodes)))]
    result = {
        "pod_modified_us": timed(modified, kube._pod_event),
        "pod_added_us": timed(added, kube._pod_event),
        "pod_deleted_us": timed(deleted, kube._pod_event),
        "node_modified_us": timed(node_lines, kube._node_event),
    }
    recompute = []
    for raw in added[:200]:  # each a real change, so the next read recomputes
        event = json.loads(raw)
        kube._pod_event("ADDED", event["object"])
        t0 = time.perf_counter()
        kube.flush()  # the totals (recomputed for every pool) compared and handed on
        recompute.append((time.perf_counter() - t0) * 1e6)
    result["recompute_us"] = statistics.median(recompute)
    return result


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=2000)
    parser.add_argument("--pods", type=int, default=50_000)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 500, 5000])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = [await measure_size(size, args) for size in args.sizes]
    ratio = rows[-1]["p50_ms"] / rows[0]["p50_ms"]
    if args.json:
        print(json.dumps({"rows": rows, "ratio": ratio, "target": TARGET_RATIO}, indent=2))
        return
    print("| nodes | pods | p50 ms | p99 ms | of which totals / fit_to_nodes / plan (p50, ms) | offers |")
    print("|---:|---:|---:|---:|---|---:|")
    for r in rows:
        print(f"| {r['nodes']:,} | {r['pods']:,} | {r['p50_ms']:.3f} | {r['p99_ms']:.3f} | "
              f"{r['totals_p50_ms']:.3f} / {r['fit_p50_ms']:.3f} / {r['plan_p50_ms']:.3f} | "
              f"{r['offers']:.1f} |")  # fmt: skip
    verdict = "PASS" if ratio <= TARGET_RATIO else "FAIL"
    print(f"\np50({rows[-1]['nodes']:,}) / p50({rows[0]['nodes']:,}) = {ratio:.2f} "
          f"(target <= {TARGET_RATIO}): {verdict}")  # fmt: skip
    events = rows[-1].get("events", {})
    if events:
        print(f"\nOne watch event at {rows[-1]['nodes']:,} nodes / {rows[-1]['pods']:,} pods "
              "(json.loads of the line + apply), microseconds:")  # fmt: skip
        for key, value in events.items():
            print(f"- {key}: {value:.1f}")
    print("\nApplying a full list of every node and pod (a relist, after decoding): "
          + ", ".join(f"{r['nodes']:,} nodes {r['fill_s']:.1f} s" for r in rows))  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
