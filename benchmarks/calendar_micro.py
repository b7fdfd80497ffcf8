"""Micro-benchmark: plan() with 10 profiles against a calendar holding 5,000 reservations.

Run: ``python benchmarks/calendar_micro.py [--rounds 500]``; prints p50/p99 in milliseconds.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from datetime import datetime, timedelta, timezone

from jupyterhub_execplanner.model.request import (
    AcceleratorRequest,
    ComputeSpec,
    ExecutableSpec,
    ExecutionRequest,
    IntRange,
    ScheduleSpec,
)
from jupyterhub_execplanner.planning.planner import plan
from jupyterhub_execplanner.planning.policy import PlannerPolicy
from jupyterhub_execplanner.platform.calendar import Calendar
from jupyterhub_execplanner.platform.profiles import Profile

GPU = "nvidia.com/gpu"


def setup(reservations: int, seed: int = 1) -> tuple[Calendar, list[Profile], datetime]:
    now = datetime(2026, 11, 24, 15, 0, tzinfo=timezone.utc)
    pools = {
        "default": {"cores": 512, "memory": 3072},
        "gpu": {"cores": 256, "memory": 1024, GPU: 24},
    }
    cal = Calendar(pools, origin=now)
    rng = random.Random(seed)
    placed = attempts = 0
    while placed < reservations and attempts < 20 * reservations:
        attempts += 1  # placed as the manager would: at a start where they fit
        pool = "gpu" if rng.random() < 0.2 else "default"
        amounts = {"cores": rng.randint(1, 8), "memory": rng.randint(1, 32)}
        if pool == "gpu":
            amounts[GPU] = rng.randint(0, 1)
        span = timedelta(minutes=rng.uniform(10, 480))
        not_before = now + timedelta(minutes=rng.uniform(0, 6 * 24 * 60))
        start = cal.earliest(
            pool,
            amounts,
            not_before=not_before,
            not_after=not_before + timedelta(days=1),
            span=span,
        )
        if start is not None:
            cal.reserve(f"r{placed}", pool, start, start + span, amounts)
            placed += 1
    profiles = [
        Profile(
            f"cpu-{n}", f"CPU {n}", cores_min=n / 2, cores_max=n, memory_min=n, memory_max=4 * n
        )
        for n in (1, 2, 4, 8, 16, 32, 64, 128)
    ] + [
        Profile(
            f"gpu-{n}", f"GPU {n}", cores_max=16, memory_max=64, accelerators={GPU: n}, pool="gpu"
        )
        for n in (1, 2)
    ]
    return cal, profiles, now


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=500)
    parser.add_argument("--reservations", type=int, default=5000)
    args = parser.parse_args()
    cal, profiles, now = setup(args.reservations)
    rng = random.Random(2)
    policy = PlannerPolicy()
    requests = []
    for _ in range(args.rounds):
        cores = rng.randint(1, 16)
        memory = cores * rng.randint(1, 4)
        gpus = (AcceleratorRequest(None, None, GPU, IntRange(1, 2)),) if rng.random() < 0.2 else ()
        requests.append(
            ExecutionRequest(
                executable=ExecutableSpec(kind="jupyter-notebook"),
                compute=ComputeSpec(
                    cores=IntRange(cores, cores * 2),
                    memory=IntRange(memory, memory * 2),
                    accelerators=gpus,
                ),
                schedule=ScheduleSpec(duration=timedelta(hours=rng.choice([1, 2, 4, 8]))),
            )
        )
    times: list[float] = []
    offers = 0
    for req in requests:
        t0 = time.perf_counter()
        result = plan(req, profiles, cal, now=now, policy=policy)
        times.append((time.perf_counter() - t0) * 1000)
        offers += len(result.offers)
    times.sort()
    p50 = statistics.median(times)
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    print(
        f"plan(): {len(profiles)} profiles, {args.reservations} reservations, "
        f"{args.rounds} requests, {offers / args.rounds:.1f} offers each: "
        f"p50 {p50:.2f} ms, p99 {p99:.2f} ms"
    )


if __name__ == "__main__":
    main()
