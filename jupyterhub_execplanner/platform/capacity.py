"""How much each capacity pool has in total: cores, memory (GiB) and accelerators.

A :class:`CapacityProvider` answers ``totals()``: pool name -> :data:`Totals`. The calendar takes
these totals and subtracts what is reserved. :class:`StaticCapacity` is what the admin configured;
:class:`HostCapacity` is this host minus what the admin keeps back for the hub itself. A Kubernetes
provider (node allocatable minus other pods' requests) comes later.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path

Totals = dict[str, float]

DEFAULT_POOL = "default"


def host_totals(
    *, meminfo: Path = Path("/proc/meminfo"), cgroup: Path = Path("/sys/fs/cgroup")
) -> Totals:
    """This host's cores and memory (GiB, floored to a whole GiB).

    Cores are the CPUs this process may run on (``sched_getaffinity``, else ``os.cpu_count``);
    memory is ``MemTotal`` from ``/proc/meminfo``, else ``sysconf``. A cgroup v2 limit
    (``cpu.max``, ``memory.max``), as inside a container, lowers both."""
    cores = float(_cpus())
    memory = _meminfo_gib(meminfo)
    if memory is None:
        memory = _sysconf_gib()
    quota = _cgroup_cpu(cgroup / "cpu.max")
    if quota is not None:
        cores = min(cores, max(1.0, math.floor(quota)))
    limit = _cgroup_memory(cgroup / "memory.max")
    if limit is not None:
        memory = min(memory, limit)
    return {"cores": cores, "memory": float(math.floor(memory))}


def _cpus() -> int:
    affinity = getattr(os, "sched_getaffinity", None)
    if affinity is not None:
        try:
            return max(1, len(affinity(0)))
        except OSError:
            pass
    return os.cpu_count() or 1


def _meminfo_gib(path: Path) -> float | None:
    try:
        for line in path.read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024**2  # kB
    except (OSError, ValueError, IndexError):
        return None
    return None


def _sysconf_gib() -> float:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    except (ValueError, OSError, AttributeError):
        return 0.0


def _cgroup_cpu(path: Path) -> float | None:
    try:
        quota, period = path.read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError, ZeroDivisionError):
        return None


def _cgroup_memory(path: Path) -> float | None:
    try:
        text = path.read_text().strip()
        return None if text == "max" else int(text) / 1024**3
    except (OSError, ValueError):
        return None


class CapacityProvider:
    """Pool name -> totals. Subclasses override :meth:`totals`."""

    def totals(self) -> dict[str, Totals]:
        raise NotImplementedError


class StaticCapacity(CapacityProvider):
    """Totals as configured: ``{"default": {"cores": 32, "memory": 128, "nvidia.com/gpu": 4}}``.
    Values are numbers (memory in GiB); a negative or non-numeric value raises ValueError."""

    def __init__(self, pools: Mapping[str, Mapping[str, float]]):
        checked: dict[str, Totals] = {}
        for pool, totals in pools.items():
            checked[str(pool)] = {}
            for name, value in totals.items():
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise ValueError(
                        f"capacity of pool {pool!r}: {name} must be a number "
                        f"(cores, GiB or a count), not {value!r}"
                    )
                if not math.isfinite(value) or value < 0:
                    raise ValueError(f"capacity of pool {pool!r}: {name} must be 0 or more")
                checked[str(pool)][str(name)] = float(value)
        self._pools = checked

    def totals(self) -> dict[str, Totals]:
        return {pool: dict(totals) for pool, totals in self._pools.items()}


class HostCapacity(CapacityProvider):
    """This host as one pool, minus ``reserve_cores`` and ``reserve_memory`` (GiB) kept back for the
    hub itself; never below zero. Read again on every call (cheap)."""

    def __init__(
        self, reserve_cores: float = 0, reserve_memory: float = 0, *, pool: str = DEFAULT_POOL
    ):
        if reserve_cores < 0 or reserve_memory < 0:
            raise ValueError("reserve_cores and reserve_memory must be 0 or more")
        self.reserve_cores, self.reserve_memory, self.pool = reserve_cores, reserve_memory, pool

    def totals(self) -> dict[str, Totals]:
        host = host_totals()
        return {
            self.pool: {
                "cores": max(0.0, host["cores"] - self.reserve_cores),
                "memory": max(0.0, host["memory"] - self.reserve_memory),
            }
        }
