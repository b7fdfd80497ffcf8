"""A real Slurm cluster for the tests: munged, slurmctld and two slurmd on this host.

``SlurmCluster.start(folder)`` writes a ``slurm.conf`` (and ``gres.conf``) in ``folder`` with ports of
its own, a munge key and socket of its own, and starts Debian's ``munged``, ``slurmctld`` and one
``slurmd -N`` per node (several NodeNames on one host, each with its own port). Node ``n1`` has 2
cores, 4 GiB and two GPUs declared over plain files (``AutoDetect=off``: no hardware); node ``n2``
2 cores and 4 GiB. ``proctrack/linuxproc`` and ``task/none`` need no cgroups; ``config_overrides``
makes slurmd report the configured sizes, whatever this machine has. Everything runs as root, as the
toolchain notes say. :meth:`stop` cancels every job, waits for them to end, and stops the daemons.

Scripts: ``scripts/setup-slurm.sh`` installs the packages (the tests that need them are skipped with
that hint only when the commands are missing).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from hubprocess import free_port

SPAWNER = "jupyterhub_execplanner.platform.slurmspawner.ExecPlannerSlurmSpawner"
NODES = {"n1": {"cpus": 2, "memory": 4096, "gpus": 2}, "n2": {"cpus": 2, "memory": 4096, "gpus": 0}}
PARTITION = "debug"


def slurm_missing() -> str | None:
    """Why a real Slurm cannot run here, or None."""
    for command in ("munged", "slurmctld", "slurmd", "scontrol", "sbatch"):
        if shutil.which(command) is None and not Path("/usr/sbin", command).exists():
            return f"{command} is missing: run scripts/setup-slurm.sh"
    if os.geteuid() != 0:
        return "the test cluster runs slurmd as root"
    return None


def _binary(name: str) -> str:
    return shutil.which(name) or str(Path("/usr/sbin", name))


@dataclass
class SlurmCluster:
    folder: Path
    conf: Path
    pids: dict[str, Path] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "SLURM_CONF": str(self.conf)}

    # -- life cycle --------------------------------------------------------------------------------

    @classmethod
    def start(cls, folder: Path, timeout: float = 60) -> SlurmCluster:
        folder.mkdir(parents=True, exist_ok=True)
        for sub in ("munge", "state", "log", *(f"spool/{n}" for n in NODES)):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        (folder / "munge").chmod(0o711)
        key = folder / "munge" / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o400)
        cluster = cls(folder=folder, conf=folder / "slurm.conf")
        cluster._write_conf()
        munge = folder / "munge"
        subprocess.run(
            [_binary("munged"), "-f", f"--socket={munge / 'sock'}", f"--key-file={key}",
             f"--log-file={munge / 'log'}", f"--pid-file={munge / 'pid'}",
             f"--seed-file={munge / 'seed'}"], check=True, timeout=30,
        )
        cluster.pids["munged"] = munge / "pid"
        try:
            cluster.start_controller()
            for name in NODES:
                subprocess.run([_binary("slurmd"), "-f", str(cluster.conf), "-N", name],
                               check=True, env=cluster.env, timeout=30)
                cluster.pids[f"slurmd-{name}"] = folder / f"slurmd-{name}.pid"
            cluster.wait_idle(timeout)
        except Exception:
            cluster.stop()
            raise
        return cluster

    def start_controller(self) -> None:
        subprocess.run([_binary("slurmctld"), "-f", str(self.conf)], check=True, env=self.env,
                       timeout=30)
        self.pids["slurmctld"] = self.folder / "slurmctld.pid"

    def stop_controller(self) -> None:
        """Stop slurmctld only (Slurm is then unreachable; the nodes and their jobs go on)."""
        self._kill("slurmctld")

    def wait_idle(self, timeout: float = 60) -> None:
        """Until every node is idle (takes jobs, runs none)."""
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            done = self.run("sinfo", "-h", "-N", "-o", "%N %T", check=False)
            last = done.stdout + done.stderr
            states = dict(line.split() for line in done.stdout.splitlines() if line.strip())
            if done.returncode == 0 and set(states) == set(NODES) and all(
                    s == "idle" for s in states.values()):
                return
            time.sleep(0.5)
        raise TimeoutError(f"the Slurm nodes are not idle after {timeout} s: {last}\n"
                           f"{self.log_tail()}")

    def stop(self) -> None:
        if "slurmctld" in self.pids and self._alive("slurmctld"):
            self.run("scancel", "--full", "-u", "root", check=False)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                done = self.run("squeue", "-h", "-o", "%i", check=False)
                if done.returncode != 0 or not done.stdout.strip():
                    break
                time.sleep(0.5)
        for name in [n for n in self.pids if n.startswith("slurmd-")] + ["slurmctld", "munged"]:
            self._kill(name)

    # -- helpers -----------------------------------------------------------------------------------

    def run(self, *args: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess:
        done = subprocess.run(list(args), capture_output=True, text=True, env=self.env,
                              timeout=timeout, check=False)
        if check and done.returncode != 0:
            raise RuntimeError(f"{' '.join(args)}: {done.stderr.strip() or done.stdout.strip()}")
        return done

    def submit(self, *options: str, seconds: int = 600) -> str:
        """A job of ``options`` that sleeps ``seconds``; its id."""
        done = self.run("sbatch", "--parsable", "-o", str(self.folder / "log" / "job-%j.out"),
                        *options, "--wrap", f"sleep {seconds}")
        return done.stdout.strip().split(";")[0]

    def job_state(self, job_id: str) -> str:
        done = self.run("squeue", "-h", "-t", "all", "-j", job_id, "-o", "%T", check=False)
        return done.stdout.strip()

    def log_tail(self, lines: int = 20) -> str:
        parts = []
        for path in sorted((self.folder / "log").glob("slurm*.log")):
            text = path.read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"== {path.name}\n" + "\n".join(text))
        return "\n".join(parts)

    def _alive(self, name: str) -> bool:
        pid = self._pid(name)
        if pid is None:
            return False
        try:
            os.kill(pid, 0)
        except OSError:
            return False
        return True

    def _pid(self, name: str) -> int | None:
        path = self.pids.get(name)
        try:
            return int(path.read_text().strip()) if path is not None else None
        except (OSError, ValueError):
            return None

    def _kill(self, name: str, wait: float = 15) -> None:
        pid = self._pid(name)
        if pid is None:
            return
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except OSError:
                return
            time.sleep(0.1)
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass

    def _write_conf(self) -> None:
        f = self.folder
        nodes = []
        gres = ["AutoDetect=off"]
        for name, spec in NODES.items():
            line = (f"NodeName={name} NodeHostname=localhost NodeAddr=127.0.0.1 Port={free_port()} "
                    f"CPUs={spec['cpus']} RealMemory={spec['memory']} State=UNKNOWN")
            if spec["gpus"]:
                line += f" Gres=gpu:{spec['gpus']}"
                for i in range(spec["gpus"]):
                    device = f / f"gpu-{name}-{i}"
                    device.touch()
                    gres.append(f"NodeName={name} Name=gpu File={device}")
            nodes.append(line)
        self.conf.write_text("\n".join([
            f"ClusterName=t{os.getpid() % 100000}",
            "SlurmctldHost=localhost",
            "SlurmUser=root",
            "SlurmdUser=root",
            "AuthType=auth/munge",
            f"AuthInfo=socket={f / 'munge' / 'sock'}",
            "CredType=cred/munge",
            f"SlurmctldPort={free_port()}",
            f"SlurmdPort={free_port()}",
            f"StateSaveLocation={f / 'state'}",
            f"SlurmdSpoolDir={f / 'spool'}/%n",
            f"SlurmctldPidFile={f / 'slurmctld.pid'}",
            f"SlurmdPidFile={f / 'slurmd-%n.pid'}",
            f"SlurmctldLogFile={f / 'log' / 'slurmctld.log'}",
            f"SlurmdLogFile={f / 'log' / 'slurmd-%n.log'}",
            "ProctrackType=proctrack/linuxproc",
            "TaskPlugin=task/none",
            "SelectType=select/cons_tres",
            "SelectTypeParameters=CR_Core_Memory",
            "SchedulerType=sched/backfill",
            "SchedulerParameters=bf_interval=1",
            "ReturnToService=2",
            "MpiDefault=none",
            "SlurmdParameters=config_overrides",
            "JobCompType=jobcomp/none",
            "AccountingStorageType=accounting_storage/none",
            "GresTypes=gpu",
            "DefMemPerCPU=500",
            "MinJobAge=600",
            "KillWait=2",
            *nodes,
            f"PartitionName={PARTITION} Nodes={','.join(NODES)} Default=YES MaxTime=INFINITE State=UP",
            "",
        ]))
        (f / "gres.conf").write_text("\n".join(gres) + "\n")


def hub_config(home: Path) -> str:
    """The hub's config (after ``RealHub``'s own) for this cluster: wrapspawner's ProfilesSpawner over
    ``ExecPlannerSlurmSpawner``, three profiles ``small`` (1 core, 1 GiB), ``node`` (2 cores, 2 GiB) and
    ``gpu`` (1 core, 1 GiB, 1 GPU), jobs without ``srun``, and nodes that resolve to 127.0.0.1. The
    class is imported, not named: importing batchspawner at start adds the hub's
    ``/hub/api/batchspawner`` route, where a job reports its port (a name is imported too late)."""
    bin_dir = Path(sys.executable).parent
    return f"""
from jupyterhub_execplanner.platform.slurmspawner import ExecPlannerSlurmSpawner
c.JupyterHub.spawner_class = "wrapspawner.ProfilesSpawner"
c.ProfilesSpawner.child_class = {SPAWNER!r}
c.ProfilesSpawner.profiles = [
    ("Small", "small", {SPAWNER!r}, {{"req_nprocs": "1", "req_memory": "1G"}}),
    ("Whole node", "node", {SPAWNER!r}, {{"req_nprocs": "2", "req_memory": "2G"}}),
    ("GPU", "gpu", {SPAWNER!r}, {{"req_nprocs": "1", "req_memory": "1G", "req_ngpus": "1"}}),
]
c.SlurmSpawner.req_partition = {PARTITION!r}
c.SlurmSpawner.req_runtime = "8:00:00"
c.SlurmSpawner.req_srun = ""
c.SlurmSpawner.startup_poll_interval = 0.5
c.SlurmSpawner.batchspawner_singleuser_cmd = {str(bin_dir / "batchspawner-singleuser")!r}
c.MultiSlurmSpawner.daemon_resolver = {{{", ".join(f'"{n}": "127.0.0.1"' for n in NODES)}}}
c.ExecPlannerSlurmSpawner.req_homedir = {str(home)!r}
c.Spawner.cmd = [{str(bin_dir / "jupyterhub-singleuser")!r}]
c.Spawner.poll_interval = 2
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120
"""
