"""A Slurm cluster as the broker's capacity: what its partitions have, what its jobs hold and until
when, when the backfill scheduler would start a job of a given size, and advance reservations (I/O).

:class:`SlurmCapacity` is the :class:`~.capacity.CapacityProvider` of ``capacity_provider =
"slurm"``. A background task reads the cluster every ``poll_interval`` seconds with Slurm's own
tools (see :mod:`.slurmcli` for which, and why): the totals per partition (the pool of a profile is
its partition) of the nodes that take jobs (a drained or down node gives nothing), and every job
that holds resources, with its end time. :meth:`apply` puts both on the broker's calendar: the
totals, and each job not of a broker session as a hold until the job's end (a job without a time
limit holds to the horizon), so the planner sees when room comes free. A broker session's job (its
``--comment`` is ``execplanner:<uuid>``) is left out: the calendar holds the session already.

:meth:`earliest_start` answers what the backfill scheduler says (``sbatch --test-only``) for one size
and time limit, cached for ``start_ttl`` seconds, so asking stays fast: the planner takes it as the
earliest start of a profile (see :func:`~..planning.planner.plan`'s ``start_facts``).

:meth:`stale_reason` says why the figures cannot be trusted (the last read failed, or none succeeded
for ``stale_after`` seconds): the broker then answers NO with that reason, as on Kubernetes.
"""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from .calendar import Calendar
from .capacity import CapacityProvider, Totals
from .slurmcli import (
    KILLED_STATES,
    Job,
    Node,
    Partition,
    format_limit,
    format_time,
    parse_jobs,
    parse_nodes,
    parse_partitions,
    parse_test_only,
)

log = logging.getLogger(__name__)

SESSION_COMMENT = "execplanner:"  # --comment of a broker session's job: execplanner:<session uuid>
JOB_KEY = "slurm-job:"  # calendar keys of the holds of other jobs
RESERVATION_PREFIX = "execplanner-"
# Slurm refuses a reservation that starts at the very second a running job's time limit ends: the
# room a job leaves is counted from the second after
AFTER = timedelta(seconds=1)


def reservation_name(session: str) -> str:
    """The Slurm reservation that holds an accepted session's window (a pure function of its uuid,
    so the spawner finds it without asking the broker)."""
    return RESERVATION_PREFIX + session


def session_of(job: Job) -> str | None:
    return job.comment[len(SESSION_COMMENT):] if job.comment.startswith(SESSION_COMMENT) else None


class SlurmError(RuntimeError):
    """A Slurm command failed; ``str()`` is the command and the first line of what it said."""


@dataclass
class Commands:
    """Runs Slurm's client tools with ``SLURM_CONF`` (when given) and a timeout."""

    slurm_conf: str = ""
    timeout: float = 10.0
    bin_dir: str = ""

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        if self.slurm_conf:
            env["SLURM_CONF"] = self.slurm_conf
        return env

    def run(self, *args: str) -> str:
        """stdout and stderr of one command, or SlurmError."""
        program = os.path.join(self.bin_dir, args[0]) if self.bin_dir else args[0]
        try:
            done = subprocess.run(
                [program, *args[1:]], capture_output=True, text=True, timeout=self.timeout,
                env=self.env(), check=False,
            )
        except subprocess.TimeoutExpired:
            raise SlurmError(f"{args[0]} {args[1] if len(args) > 1 else ''}: no answer in "
                             f"{self.timeout:g} s") from None
        except OSError as e:
            raise SlurmError(f"{args[0]}: {e.strerror or e}") from None
        if done.returncode != 0:
            said = (done.stderr or done.stdout).strip().splitlines()
            raise SlurmError(f"{' '.join(args[:3])}: {said[-1] if said else f'exit {done.returncode}'}")
        return done.stdout + done.stderr


@dataclass(frozen=True)
class ClusterView:
    """One read of the cluster."""

    nodes: tuple[Node, ...]
    partitions: tuple[Partition, ...]
    jobs: tuple[Job, ...]
    read_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    def default_partition(self) -> Partition | None:
        return next((p for p in self.partitions if p.default), self.partitions[0] if self.partitions
                    else None)

    def nodes_of(self, partition: str) -> list[Node]:
        return [n for n in self.nodes if partition in n.partitions]

    def totals(self) -> dict[str, Totals]:
        """Per partition: the sum over its nodes that take jobs (cores, memory GiB, each GRES)."""
        pools: dict[str, Totals] = {}
        for p in self.partitions:
            sums: Totals = {"cores": 0.0, "memory": 0.0}
            for node in self.nodes_of(p.name):
                for key in node.total:  # every resource a node has is named, even when drained
                    sums.setdefault(key, 0.0)
                if node.usable:
                    for key, value in node.total.items():
                        sums[key] += value
            pools[p.name] = sums
        return pools


class SlurmCapacity(CapacityProvider):
    """See the module docstring. ``pools`` are the partitions the profiles use."""

    def __init__(
        self,
        pools: Sequence[str],
        *,
        commands: Commands | None = None,
        poll_interval: float = 5.0,
        stale_after: float = 30.0,
        start_ttl: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.pools = tuple(pools)
        self.commands = commands or Commands()
        self.poll_interval, self.stale_after, self.start_ttl = poll_interval, stale_after, start_ttl
        self.clock = clock
        self.view: ClusterView | None = None
        self.error = ""
        self.last_ok: float | None = None
        self.on_change: Callable[[ClusterView], None] | None = None
        self._starts: dict[tuple[str, ...], tuple[float, datetime | None]] = {}
        self._lock = threading.Lock()
        self._placed: dict[str, tuple[str, datetime, datetime, tuple[tuple[str, float], ...]]] = {}
        self._task: asyncio.Task[None] | None = None
        self.reads = 0

    # -- reading -----------------------------------------------------------------------------------

    def read(self) -> ClusterView:
        """Read the cluster now (blocking: a few short commands). SlurmError when it cannot."""
        run = self.commands.run
        view = ClusterView(
            nodes=tuple(parse_nodes(run("scontrol", "show", "node", "-o"))),
            partitions=tuple(parse_partitions(run("scontrol", "show", "partition", "-o"))),
            jobs=tuple(parse_jobs(run("scontrol", "show", "job", "-o"))),
        )
        self.reads += 1
        return view

    def refresh(self) -> ClusterView | None:
        """One read, remembered (or its error); the new view, or None when the read failed."""
        try:
            view = self.read()
        except SlurmError as e:
            if e.args[0] != self.error:
                log.warning("Slurm cannot be read: %s", e)
            self.error = str(e)
            return None
        self.view, self.error, self.last_ok = view, "", self.clock()
        return view

    def totals(self) -> dict[str, Totals]:
        totals = self.view.totals() if self.view is not None else {}
        for pool in self.pools:
            totals.setdefault(pool, {"cores": 0.0, "memory": 0.0})
        return totals

    def stale_reason(self) -> str | None:
        """None while the last read succeeded within ``stale_after`` seconds, else why not."""
        if self.error:
            return f"Slurm cannot be reached ({self.error})"
        if self.last_ok is None:
            return "the broker has not read the Slurm cluster yet"
        if self.clock() - self.last_ok > self.stale_after:
            return f"the broker has not heard from Slurm for over {self.stale_after:g} seconds"
        return None

    def node_fit(self, pool: str, need: Mapping[str, float], want: Mapping[str, float]
                 ) -> Mapping[str, float] | None:
        """The most one node of ``pool`` that takes jobs has (a job runs on one node): its totals,
        not what is free now, since Slurm starts a job later when it is busy (the calendar and
        :meth:`earliest_start` say when). None when nothing is known of the pool."""
        if self.view is None:
            return None
        nodes = [n for n in self.view.nodes_of(pool) if n.usable]
        if not nodes:
            return {"cores": 0.0, "memory": 0.0}

        def score(node: Node) -> tuple[bool, float]:
            fits = all(node.total.get(k, 0.0) >= v for k, v in need.items())
            return fits, sum(min(node.total.get(k, 0.0), v) for k, v in want.items())

        return dict(max(nodes, key=score).total)

    # -- the calendar --------------------------------------------------------------------------------

    def apply(self, calendar: Calendar, view: ClusterView, now: datetime) -> None:
        """The view's totals, and a hold per job of others until its end, on ``calendar``."""
        totals = view.totals()
        for pool in self.pools:
            totals.setdefault(pool, {"cores": 0.0, "memory": 0.0})
        calendar.set_totals(totals)
        horizon = calendar.horizon_end
        wanted: dict[str, tuple[str, datetime, datetime, tuple[tuple[str, float], ...]]] = {}
        for job in view.jobs:
            if not job.holding or session_of(job) is not None or job.partition not in totals:
                continue
            names = totals[job.partition]
            amounts = tuple(sorted((k, v) for k, v in job.amounts.items() if k in names and v > 0))
            end = job.end + AFTER if job.end is not None and job.end < horizon else horizon
            start = min(job.start or now, now)
            if end > start and amounts:
                wanted[JOB_KEY + job.job_id] = (job.partition, start, end, amounts)
        # only what changed is released and held again (a big cluster has many jobs)
        for key, held in list(self._placed.items()):
            if wanted.get(key, (None,))[0::2] != held[0::2] or wanted[key][3] != held[3]:
                calendar.release(key)
                del self._placed[key]
        for key, (pool, start, end, amounts) in wanted.items():
            if key in self._placed:
                continue
            try:
                calendar.reserve(key, pool, start, end, dict(amounts))
            except (KeyError, ValueError) as e:
                log.debug("%s not on the calendar: %s", key, e)
                continue
            self._placed[key] = (pool, start, end, amounts)

    # -- the backfill scheduler's answer ---------------------------------------------------------------

    def earliest_start(self, partition: str, amounts: Mapping[str, float], duration: timedelta
                       ) -> datetime | None:
        """When ``sbatch --test-only`` says a one-node job of ``amounts`` and time limit ``duration``
        would start in ``partition`` (cached ``start_ttl`` seconds per size and limit, the limit
        counted in whole minutes); None when Slurm gives no answer."""
        cores = max(1, int(round(amounts.get("cores", 1))))
        memory_mb = int(round(amounts.get("memory", 0) * 1024))
        gres = ",".join(f"{k}:{int(v)}" for k, v in sorted(amounts.items())
                        if k not in ("cores", "memory") and v > 0)
        limit = format_limit(duration)
        key = (partition, str(cores), str(memory_mb), gres, limit)
        now = self.clock()
        with self._lock:
            cached = self._starts.get(key)
        if cached is not None and now - cached[0] < self.start_ttl:
            return cached[1]
        args = ["sbatch", "--test-only", "-N", "1", "-c", str(cores), "-t", limit,
                "--job-name", "execplanner-test", "--wrap", "true"]
        if partition:
            args += ["-p", partition]
        if memory_mb > 0:
            args += [f"--mem={memory_mb}M"]
        if gres:
            args += [f"--gres={gres}"]
        try:
            start = parse_test_only(self.commands.run(*args))
            if start is not None and start > datetime.now(timezone.utc):
                start += AFTER
        except SlurmError as e:
            log.info("sbatch --test-only gave no start: %s", e)
            start = None
        with self._lock:
            self._starts[key] = (self.clock(), start)
        return start

    # -- what Slurm did to the broker's sessions ------------------------------------------------------

    def killed_sessions(self) -> dict[str, Job]:
        """Session uuid -> its job, for each session job Slurm ended (time limit, node failure, ...)."""
        if self.view is None:
            return {}
        return {s: j for j in self.view.jobs
                if (s := session_of(j)) is not None and j.state in KILLED_STATES}

    # -- reservations ------------------------------------------------------------------------------

    def reserve(self, name: str, partition: str, start: datetime, duration: timedelta,
                cores: int, user: str) -> None:
        """An advance reservation of ``cores`` cores of ``partition`` over ``[start, start +
        duration)`` for ``user``'s jobs. SlurmError when Slurm refuses (no rights, no room)."""
        minutes = max(1, -(-int(duration.total_seconds()) // 60))
        self.commands.run(
            "scontrol", "create", "reservation", f"ReservationName={name}",
            f"StartTime={format_time(start)}", f"Duration={minutes}",
            f"PartitionName={partition}", f"CoreCnt={max(1, cores)}", f"Users={user}",
        )

    def unreserve(self, name: str, *, missing_ok: bool = False) -> bool:
        """Delete a reservation; False when it could not be deleted (a job still runs in it, Slurm
        is silent) or, unless ``missing_ok``, was not there."""
        try:
            self.commands.run("scontrol", "delete", f"ReservationName={name}")
        except SlurmError as e:
            if missing_ok and "invalid reservation name" in str(e).lower():
                return True
            log.info("Reservation %s not deleted: %s", name, e)
            return False
        return True

    # -- running -------------------------------------------------------------------------------------

    async def start(self) -> None:
        await self._refresh_and_notify()
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.poll_interval)
            try:
                await self._refresh_and_notify()
            except Exception:  # never let the loop die: the next pass tries again
                log.exception("Reading Slurm failed")

    async def _refresh_and_notify(self) -> None:
        """Read in a thread; apply in the event loop (the calendar is the loop's alone)."""
        view = await asyncio.to_thread(self.refresh)
        if view is not None and self.on_change is not None:
            self.on_change(view)
