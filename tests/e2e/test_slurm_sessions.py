"""End to end on a real Slurm cluster: a real JupyterHub with wrapspawner's ProfilesSpawner over
batchspawner's SlurmSpawner (the broker's :class:`ExecPlannerSlurmSpawner`), and the broker reading
the cluster with Slurm's own tools.

The cluster (``tests/slurmcluster.py``) is Debian's munged, slurmctld and two slurmd on this host:
``n1`` (2 cores, 4 GiB, 2 GPUs declared over plain files) and ``n2`` (2 cores, 4 GiB), one partition.
The hub's profiles are ProfilesSpawner's: ``small`` (1 core, 1 GiB), ``node`` (2 cores, 2 GiB) and
``gpu`` (1 core, 1 GiB, 1 GPU). Jobs the tests submit themselves stand for the cluster's other users.

Proven: offers follow the cluster (filled by jobs, freed, a node drained), an offer's start is when
Slurm then starts the session's job (within a minute), an accepted later offer is held by an advance
reservation against jobs submitted before the session's job, the session's job runs the preloaded
notebook's requirement, cancel ends the job and deletes the reservation, a GPU session's job gets its
GPU, a job Slurm kills ends the session FAILED with Slurm's reason, and a controller that cannot be
reached gives NO with the reason. Not run here: a session that reaches its end by itself (the phase
driver's release, the same on every spawner, is tested in tests/e2e/test_sessions_run.py).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from hubprocess import RealHub
from loopback import Loopback, write_wheel
from requests_lib import KINDS
from slurmcluster import SlurmCluster, hub_config, slurm_missing
from test_notebook_requirements import execute
from test_sessions_run import Sessions, wait_for

from jupyterhub_execplanner import launch
from jupyterhub_execplanner.platform.slurmcapacity import reservation_name
from jupyterhub_execplanner.platform.slurmcli import parse_jobs, parse_reservations

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(slurm_missing() is not None,
                                                  reason=str(slurm_missing()))]

SECRET = "e2e-slurm-" + "0" * 54


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlurmCluster]:
    running = SlurmCluster.start(tmp_path_factory.mktemp("slurm"))
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def wheel_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loopback]:
    folder = tmp_path_factory.mktemp("slurm-site")
    notebook = {"cells": [{"cell_type": "code", "metadata": {}, "source": "import tinypkg",
                           "outputs": [], "execution_count": None}],
                "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (folder / "analysis.ipynb").write_text(json.dumps(notebook))
    (folder / "requirements.txt").write_text("tinypkg==0.1\n")
    (folder / "wheels").mkdir()
    write_wheel(folder / "wheels")
    server = Loopback(folder)
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="module")
def slurm_hub(tmp_path_factory: pytest.TempPathFactory, cluster: SlurmCluster,
              wheel_site: Loopback) -> Iterator[RealHub]:
    folder = tmp_path_factory.mktemp("slurm-hub")
    (folder / "home").mkdir()
    settings = {
        "prepare_time": 10,
        "max_offers": 1,
        "offer_expiry": 120,
        "slurm_poll_interval": 1,
        "slurm_stale_after": 10,
        "slurm_start_ttl": 2,
        "slurm_reservation_user": "root",  # the hub's jobs run as root here (no sudo, no accounts)
        "pip_extra_args": ["--no-index", "--find-links", f"{wheel_site.url}/wheels/"],
        "limit_open_offers": 0, "limit_sessions": 0, "limit_core_hours": 0,
        "limit_requests_per_minute": 0,
    }
    hub = RealHub.start(folder, settings=settings, extra_config=hub_config(folder / "home"),
                        env={launch.SECRET_ENV: SECRET, "SLURM_CONF": str(cluster.conf)})
    try:
        yield hub
    finally:
        hub.stop()


def ask(cores: int = 1, gpus: int = 0, duration: str = "PT5M", **executable: Any) -> dict[str, Any]:
    compute: dict[str, Any] = {"kind": f"{KINDS}/compute/simple-compute-resource.yaml",
                               "cores": {"min": cores}, "memory": {"min": 1, "max": 4}}
    if gpus:
        compute["accelerators"] = [{"resource": "gpu", "count": {"min": gpus}}]
    return {
        "executable": {"kind": f"{KINDS}/executable/jupyter-notebook.yaml",
                       "meta": {"name": "slurm"}, **executable},
        "compute": compute,
        "schedule": {"requested": {"duration": duration}},
    }


def first_offer(sessions: Sessions, request: dict[str, Any], *, keep: bool = False) -> dict[str, Any]:
    """The best offer for ``request``; all of them rejected unless ``keep`` (an offer holds its
    cores until it expires, which would move the next offers later)."""
    answer = sessions.broker.post("requests", json=request).json()
    assert answer["result"] == "YES", [m["message"] for m in answer["meta"]["messages"]]
    if not keep:
        for offer in answer["offers"]:
            assert sessions.broker.accept(offer["meta"]["uuid"], "REJECTED").status_code == 200
    return answer["offers"][0]


def start_of(offer: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(offer["schedule"]["preparing"]["start"].replace("Z", "+00:00"))


def now() -> datetime:
    return datetime.now(timezone.utc)


def job_of(cluster: SlurmCluster, session: str) -> Any:
    jobs = parse_jobs(cluster.run("scontrol", "show", "job", "-o").stdout)
    return next((j for j in jobs if j.comment == f"execplanner:{session}"), None)


def cancel_all(cluster: SlurmCluster, *job_ids: str) -> None:
    if job_ids:
        cluster.run("scancel", *job_ids, check=False)


def test_offers_follow_the_cluster(slurm_hub: RealHub, cluster: SlurmCluster) -> None:
    alice = Sessions(slurm_hub, "alice")
    assert start_of(first_offer(alice, ask(cores=2))) < now() + timedelta(seconds=60)
    gpu = first_offer(alice, ask(gpus=1))
    assert gpu["profile"]["slug"] == "gpu", gpu
    # both nodes full until their jobs' time limit (5 minutes): a whole-node offer starts after
    jobs = [cluster.submit("-c", "2", "-w", node, "-t", "5") for node in ("n1", "n2")]
    try:
        later = wait_for(lambda: (o := first_offer(alice, ask(cores=2))) and start_of(o) > now()
                         + timedelta(minutes=4) and o, 20, "the offer to move after the jobs")
        assert start_of(later) < now() + timedelta(minutes=7), later
        # the GPU node's job holds no GPU, but all its cores: the GPU offer waits too
        wait_for(lambda: start_of(first_offer(alice, ask(gpus=1))) > now() + timedelta(minutes=4),
                 20, "the GPU offer to move after the jobs")
    finally:
        cancel_all(cluster, *jobs)
    wait_for(lambda: start_of(first_offer(alice, ask(cores=2))) < now() + timedelta(seconds=60), 20,
             "the offer to come back to now once the jobs are cancelled")
    # n2 drained, n1 busy: no node takes a whole-node job until n1's job ends
    cluster.run("scontrol", "update", "NodeName=n2", "State=DRAIN", "Reason=maintenance")
    busy = cluster.submit("-c", "2", "-w", "n1", "-t", "5")
    try:
        wait_for(lambda: start_of(first_offer(alice, ask(cores=2))) > now() + timedelta(minutes=4),
                 20, "the offer to wait for the only node left")
        cluster.run("scontrol", "update", "NodeName=n2", "State=RESUME")
        wait_for(lambda: start_of(first_offer(alice, ask(cores=2))) < now() + timedelta(seconds=60),
                 20, "the resumed node to be offered at once")
    finally:
        cluster.run("scontrol", "update", "NodeName=n2", "State=RESUME", check=False)
        cancel_all(cluster, busy)


async def test_later_offer_is_reserved_kept_and_runs_its_notebook(
        slurm_hub: RealHub, cluster: SlurmCluster, wheel_site: Loopback) -> None:
    base = subprocess.run([sys.executable, "-c", "import tinypkg"], capture_output=True)
    assert base.returncode != 0, "the base environment must not have tinypkg"
    cluster.wait_idle()
    # both nodes busy for at most a minute (Slurm's smallest time limit); the jobs end by themselves
    fillers = [cluster.submit("-c", "2", "-w", node, "-t", "1", seconds=50) for node in ("n1", "n2")]
    bob = Sessions(slurm_hub, "bob")
    request = ask(cores=2, location=f"{wheel_site.url}/analysis.ipynb", requirements="requirements.txt")
    wait_for(lambda: start_of(first_offer(bob, request)) > now() + timedelta(seconds=35), 20,
             "offers after the fillers")
    offer = first_offer(bob, request, keep=True)
    assert any("advance reservation" in m["message"] for m in offer["meta"]["messages"]), offer
    uuid = offer["meta"]["uuid"]
    assert bob.broker.accept(uuid).status_code == 200
    reservations = parse_reservations(cluster.run("scontrol", "show", "reservation", "-o").stdout)
    (held,) = [r for r in reservations if r.name == reservation_name(uuid)]
    assert abs((held.start - start_of(offer)).total_seconds()) <= 1, (held, offer)
    # two whole-node jobs submitted before the session's: without the reservation they would take
    # both nodes when the fillers end, for 10 minutes
    others = [cluster.submit("-c", "2", "-t", "10") for _ in range(2)]
    try:
        session = bob.wait_phase(uuid, {"AVAILABLE", "RUNNING"}, 180)
        job = job_of(cluster, uuid)
        assert job is not None and job.reservation == reservation_name(uuid), job
        assert abs((job.start - start_of(offer)).total_seconds()) <= 60, (job, offer)
        assert sorted(cluster.job_state(j) for j in others) == ["PENDING", "RUNNING"]
        # the notebook's requirement imports in the job's kernel
        name = launch.server_name_for(uuid)
        http_base = f"{slurm_hub.url}/user/bob/{name}"
        headers = {"Authorization": f"token {bob.broker.token}"}
        path = f"execplanner/{name}/analysis.ipynb"
        notebook = httpx.get(f"{http_base}/api/contents/{path}", headers=headers, timeout=30).json()
        kernel = httpx.post(f"{http_base}/api/kernels", headers=headers, timeout=60,
                            json={"name": notebook["content"]["metadata"]["kernelspec"]["name"]})
        assert kernel.status_code == 201, kernel.text
        printed = await execute(http_base.replace("http://", "ws://"), kernel.json()["id"],
                                bob.broker.token, "import tinypkg; print(tinypkg.VALUE)")
        assert printed.strip() == "42"
        assert session["connectors"][0]["location"].startswith(slurm_hub.url)
        # cancel: the job ends, the reservation goes
        assert bob.broker.accept(uuid, "CANCELLED").status_code == 200
        wait_for(lambda: cluster.job_state(job.job_id) in ("CANCELLED", "COMPLETED"), 60,
                 "the session's job to end")
        wait_for(lambda: reservation_name(uuid) not in cluster.run(
            "scontrol", "show", "reservation", "-o").stdout, 30, "the reservation to be deleted")
    finally:
        cancel_all(cluster, *fillers, *others)


def test_job_slurm_kills_ends_the_session_failed(slurm_hub: RealHub, cluster: SlurmCluster) -> None:
    cluster.wait_idle()
    carol = Sessions(slurm_hub, "carol")
    # the broker reads the cluster every second: until it has seen the last test's jobs go, its
    # first GPU offer is after their time limit
    wait_for(lambda: start_of(first_offer(carol, ask(gpus=1))) < now() + timedelta(seconds=60), 20,
             "a GPU offer for now once the broker sees the cluster idle")
    uuid = carol.accept_new(ask(gpus=1))["meta"]["uuid"]
    carol.wait_phase(uuid, {"AVAILABLE", "RUNNING"}, 120)
    job = job_of(cluster, uuid)
    assert job is not None and job.state == "RUNNING", job
    # the GPU profile's job got its GPU, on the node that has them
    assert job.amounts.get("gpu") == 1 and job.nodes == "n1", job
    node = job.nodes
    try:
        cluster.run("scontrol", "update", f"NodeName={node}", "State=DOWN", "Reason=power-cut")
        session = carol.wait_phase(uuid, {"FAILED"}, 90)
    finally:
        cluster.run("scontrol", "update", f"NodeName={node}", "State=RESUME", check=False)
    errors = [m["message"] for m in session["meta"]["messages"] if m["level"] == "ERROR"]
    assert any("NODE_FAIL" in m for m in errors), errors
    wait_for(lambda: carol.server(uuid).status_code == 404, 30, "the server to be removed")


def test_slurm_down_gives_no_with_the_reason(slurm_hub: RealHub, cluster: SlurmCluster) -> None:
    dave = Sessions(slurm_hub, "dave")
    first_offer(dave, ask())
    cluster.stop_controller()
    try:
        answer = wait_for(lambda: (a := dave.broker.post("requests", json=ask()).json())["result"]
                          == "NO" and a, 30, "a NO once slurmctld is gone")
        messages = [m["message"] for m in answer["meta"]["messages"]]
        assert any("Slurm cannot be reached" in m for m in messages), messages
    finally:
        cluster.start_controller()
    wait_for(lambda: dave.broker.post("requests", json=ask()).json()["result"] == "YES", 60,
             "offers again once slurmctld is back")
