"""What Slurm's command line tools print, read into plain values (pure: text in, values out).

The broker reads a Slurm cluster with the tools every submit host has, the ones batchspawner itself
runs (``sbatch``, ``squeue``, ``scancel``): ``scontrol show node|partition|job -o`` (one record a line,
``Key=Value`` fields, stable since Slurm 2.x) and ``sbatch --test-only`` (the backfill scheduler's
earliest start of a job that is not submitted). Why not the others: ``slurmrestd`` is a daemon of its
own with JWT set-up that many sites do not run, ``pyslurm`` must be built against the exact
``libslurm`` of the site, and ``--json`` output needs Slurm's optional data-parser plugins; the
``-o`` lines need nothing beyond the client tools.

Times: Slurm prints local wall-clock times without a zone (``2026-12-07T14:05:00``); they are read
in the zone of this host (``TZ``), which is the zone the tools used to print them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

EMPTY: Mapping[str, float] = {}
_FIELD = re.compile(r"\s+(?=[A-Za-z][A-Za-z0-9_:/.-]*=)")
_UNITS = {"K": 1 / 1024**2, "M": 1 / 1024, "G": 1.0, "T": 1024.0, "P": 1024.0**2}
# node states (the base state or a flag) in which a node takes no new job
_UNUSABLE = ("DOWN", "DRAIN", "FAIL", "FUTURE", "POWERED_DOWN", "POWER_DOWN", "NOT_RESPONDING",
             "INVALID", "UNKNOWN", "MAINT", "REBOOT")
# job states in which a job holds its resources, and those in which Slurm ended it
HOLDING_STATES = frozenset({"RUNNING", "COMPLETING", "CONFIGURING", "SUSPENDED", "STOPPED"})
KILLED_STATES = frozenset({"TIMEOUT", "NODE_FAIL", "FAILED", "OUT_OF_MEMORY", "PREEMPTED",
                           "BOOT_FAIL", "DEADLINE"})
_TEST_ONLY = re.compile(
    r"Job\s+\S+\s+to start at\s+(?P<start>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)"
    r"(?:\s+using\s+(?P<cpus>\d+)\s+processors)?(?:\s+on nodes\s+(?P<nodes>\S+))?"
)


def records(text: str) -> Iterator[dict[str, str]]:
    """``Key=Value`` records, one a line, as ``scontrol show ... -o`` prints them. A value may hold
    spaces (``Reason=maintenance [root@...]``): a field starts only where a new ``Key=`` does."""
    for line in text.splitlines():
        line = line.strip()
        if not line or "=" not in line:
            continue
        record: dict[str, str] = {}
        for part in _FIELD.split(line):
            key, _, value = part.partition("=")
            record[key] = value.strip()
        yield record


def memory_gib(text: str) -> float:
    """``8000`` (MiB, Slurm's unit), ``1G``, ``500M``, ``2T`` -> GiB. Raises ValueError."""
    text = text.strip().upper()
    if text and text[-1] in _UNITS:
        return float(text[:-1]) * _UNITS[text[-1]]
    return float(text) / 1024


def tres(text: str) -> dict[str, float]:
    """``cpu=2,mem=8000M,node=1,billing=2,gres/gpu=1`` -> ``{"cores": 2, "memory": 7.8, "gpu": 1}``:
    cores, memory (GiB) and each GRES by its name (typed GRES, ``gres/gpu:a100=1``, count under their
    type too but are summed under the name)."""
    amounts: dict[str, float] = {}
    for item in text.split(","):
        key, sep, value = item.partition("=")
        if not sep or not value:
            continue
        try:
            if key == "cpu":
                amounts["cores"] = float(value)
            elif key == "mem":
                amounts["memory"] = memory_gib(value)
            elif key.startswith("gres/") and ":" not in key:
                name = key[len("gres/"):]
                amounts[name] = amounts.get(name, 0.0) + float(value)
        except ValueError:
            continue
    return amounts


def slurm_time(text: str, zone: timezone | None = None) -> datetime | None:
    """A Slurm timestamp as an aware UTC datetime; None for ``Unknown``, ``None``, ``N/A``."""
    try:
        naive = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    local = naive.replace(tzinfo=zone) if zone is not None else naive.astimezone()
    return local.astimezone(timezone.utc)


def time_limit(text: str) -> timedelta | None:
    """``[days-]hours:minutes:seconds``, ``minutes:seconds``, or ``minutes`` -> timedelta; None for
    ``UNLIMITED``, ``INFINITE``, ``NOT_SET`` or anything else."""
    text = original = text.strip()
    days = 0
    if "-" in text:
        head, _, text = text.partition("-")
        if not head.isdigit():
            return None
        days = int(head)
    parts = text.split(":")
    if not parts or not all(p.isdigit() for p in parts) or len(parts) > 3:
        return None
    numbers = [int(p) for p in parts]
    if "-" in original:  # days-hours[:minutes[:seconds]]
        h, m, s = (numbers + [0, 0])[:3]
    elif len(numbers) == 1:
        h, m, s = 0, numbers[0], 0
    elif len(numbers) == 2:
        h, (m, s) = 0, numbers
    else:
        h, m, s = numbers
    return timedelta(days=days, hours=h, minutes=m, seconds=s)


def format_limit(duration: timedelta) -> str:
    """A time limit for ``--time`` (``D-HH:MM:SS``), rounded up to the minute Slurm counts in."""
    minutes = max(1, -(-int(duration.total_seconds()) // 60))
    days, rest = divmod(minutes, 24 * 60)
    return f"{days}-{rest // 60:02d}:{rest % 60:02d}:00"


def format_time(when: datetime) -> str:
    """An instant as Slurm reads it: local wall-clock time of this host, to the second."""
    return when.astimezone().replace(tzinfo=None).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Node:
    name: str
    partitions: tuple[str, ...]
    state: str
    reason: str
    total: Mapping[str, float]  # cores, memory (GiB), GRES by name
    allocated: Mapping[str, float]

    @property
    def usable(self) -> bool:
        """Takes new jobs: not down, drained, draining, failing, powered down or in maintenance."""
        flags = set(re.split(r"[+*~#!%$@^-]", self.state.upper()))
        return not any(word in flags or self.state.upper().startswith(word) for word in _UNUSABLE)

    @property
    def free(self) -> dict[str, float]:
        return {k: max(0.0, v - self.allocated.get(k, 0.0)) for k, v in self.total.items()}


@dataclass(frozen=True)
class Partition:
    name: str
    nodes: str  # Slurm's host list expression, as printed
    state: str
    default: bool
    max_time: timedelta | None  # None: unlimited


@dataclass(frozen=True)
class Job:
    job_id: str
    partition: str
    state: str
    reason: str
    start: datetime | None
    end: datetime | None
    amounts: Mapping[str, float]
    comment: str = ""
    reservation: str = ""
    nodes: str = ""

    @property
    def holding(self) -> bool:
        return self.state in HOLDING_STATES


@dataclass(frozen=True)
class Reservation:
    name: str
    start: datetime | None
    end: datetime | None
    state: str
    partition: str
    amounts: Mapping[str, float]


def gres(text: str) -> dict[str, float]:
    """``gpu:2``, ``gpu:a100:2(S:0-1)``, ``gres:gpu:1``, ``gres/gpu:1,gres/shard:4`` (a node's
    ``Gres``, a job's ``TresPerNode``) -> ``{"gpu": 2}``; a name without a count is 1."""
    amounts: dict[str, float] = {}
    for item in re.split(r",(?![^(]*\))", text):
        item = re.sub(r"\(.*\)$", "", item.strip())
        if item.startswith(("gres:", "gres/")):
            item = item[5:]
        parts = item.split(":")
        if not parts[0] or parts[0] in ("(null)", "N/A"):
            continue
        count = parts[-1] if len(parts) > 1 and parts[-1].isdigit() else "1"
        amounts[parts[0]] = amounts.get(parts[0], 0.0) + float(count)
    return amounts


def parse_nodes(text: str) -> list[Node]:
    """``scontrol show node -o`` (GRES from ``CfgTRES`` when accounting tracks them, else ``Gres``)."""
    nodes = []
    for r in records(text):
        if "NodeName" not in r:
            continue
        total = {**gres(r.get("Gres", "")), **tres(r.get("CfgTRES", ""))}
        if "cores" not in total and r.get("CPUTot", "").isdigit():
            total["cores"] = float(r["CPUTot"])
        if "memory" not in total and r.get("RealMemory", "").isdigit():
            total["memory"] = float(r["RealMemory"]) / 1024
        allocated = tres(r.get("AllocTRES", ""))
        if "cores" not in allocated and r.get("CPUAlloc", "").isdigit():
            allocated["cores"] = float(r["CPUAlloc"])
        if "memory" not in allocated and r.get("AllocMem", "").isdigit():
            allocated["memory"] = float(r["AllocMem"]) / 1024
        partitions = tuple(p for p in r.get("Partitions", "").split(",") if p)
        nodes.append(Node(r["NodeName"], partitions, r.get("State", "UNKNOWN"),
                          r.get("Reason", ""), total, allocated))
    return nodes


def parse_partitions(text: str) -> list[Partition]:
    """``scontrol show partition -o``."""
    return [
        Partition(r["PartitionName"], r.get("Nodes", ""), r.get("State", "UP"),
                  r.get("Default", "NO").upper() == "YES", time_limit(r.get("MaxTime", "")))
        for r in records(text) if "PartitionName" in r
    ]


def parse_jobs(text: str) -> list[Job]:
    """``scontrol show job -o`` (``No jobs in the system`` gives none)."""
    jobs = []
    for r in records(text):
        if "JobId" not in r:
            continue
        amounts = tres(r.get("AllocTRES") or r.get("TRES") or r.get("ReqTRES", ""))
        nodes = int(r["NumNodes"]) if r.get("NumNodes", "").isdigit() else 1
        for name, count in gres(r.get("TresPerNode", "")).items():
            amounts.setdefault(name, count * nodes)
        jobs.append(Job(
            job_id=r["JobId"], partition=r.get("Partition", ""),
            state=r.get("JobState", "UNKNOWN").split()[0], reason=r.get("Reason", "None"),
            start=slurm_time(r.get("StartTime", "")), end=slurm_time(r.get("EndTime", "")),
            amounts=amounts, comment=_none(r.get("Comment", "")),
            reservation=_none(r.get("Reservation", "")), nodes=_none(r.get("NodeList", "")),
        ))
    return jobs


def parse_reservations(text: str) -> list[Reservation]:
    """``scontrol show reservation -o`` (``No reservations in the system`` gives none)."""
    found = []
    for r in records(text):
        if "ReservationName" not in r:
            continue
        amounts = tres(r.get("TRES", ""))
        if "cores" not in amounts and r.get("CoreCnt", "").isdigit():
            amounts["cores"] = float(r["CoreCnt"])
        found.append(Reservation(
            r["ReservationName"], slurm_time(r.get("StartTime", "")), slurm_time(r.get("EndTime", "")),
            r.get("State", ""), _none(r.get("PartitionName", "")), amounts,
        ))
    return found


def parse_test_only(text: str) -> datetime | None:
    """The start ``sbatch --test-only`` prints (``sbatch: Job 3 to start at 2026-12-07T14:10:00
    using 2 processors on nodes n1 in partition debug``), or None when it printed none."""
    match = _TEST_ONLY.search(text)
    return slurm_time(match.group("start")) if match else None


def _none(text: str) -> str:
    return "" if text in ("(null)", "None", "N/A") else text
