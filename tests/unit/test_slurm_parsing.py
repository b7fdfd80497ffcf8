"""Slurm's command line output read into values: tables of what ``scontrol ... -o`` and ``sbatch
--test-only`` print (lines as Slurm 22.05 prints them, and the forms other versions use)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from jupyterhub_execplanner.platform.slurmcapacity import ClusterView
from jupyterhub_execplanner.platform.slurmcli import (
    format_limit,
    gres,
    memory_gib,
    parse_jobs,
    parse_nodes,
    parse_partitions,
    parse_reservations,
    parse_test_only,
    records,
    slurm_time,
    time_limit,
    tres,
)

UTC = timezone.utc
NODE_N1 = (
    "NodeName=n1 Arch=x86_64 CoresPerSocket=1  CPUAlloc=2 CPUEfctv=2 CPUTot=2 CPULoad=4.63 "
    "AvailableFeatures=(null) ActiveFeatures=(null) Gres=gpu:2 NodeAddr=127.0.0.1 NodeHostName=localhost "
    "Port=36820 Version=22.05.8 OS=Linux 6.18.44-fc-v1272 #1 SMP PREEMPT_DYNAMIC @0  RealMemory=4096 "
    "AllocMem=1000 FreeMem=19927 Sockets=2 Boards=1 State=MIXED ThreadsPerCore=1 TmpDisk=0 Weight=1 "
    "Owner=N/A MCS_label=N/A Partitions=debug,gpu  BootTime=2026-12-07T10:19:59 "
    "CfgTRES=cpu=2,mem=4G,billing=2 AllocTRES=cpu=2,mem=1000M CapWatts=n/a"
)
NODE_N2_DRAINED = (
    "NodeName=n2 CPUAlloc=0 CPUTot=2 Gres=(null) RealMemory=4096 AllocMem=0 State=IDLE+DRAIN "
    "Partitions=debug CfgTRES=cpu=2,mem=4G,billing=2 AllocTRES= Reason=maintenance [root@2026-12-07T14:00:00]"
)
JOB = (
    "JobId=7 JobName=wrap UserId=root(0) JobState=RUNNING Reason=None Dependency=(null) "
    "TimeLimit=00:05:00 StartTime=2026-12-07T14:10:11 EndTime=2026-12-07T14:15:11 Partition=debug "
    "NodeList=n1 NumNodes=1 NumCPUs=2 TRES=cpu=2,mem=1000M,node=1,billing=2 "
    "Comment=execplanner:0b7c  StdErr=/tmp/slurm-7.out Reservation=execplanner-0b7c "
    "TresPerNode=gres:gpu:1"
)


@pytest.mark.parametrize(
    ("text", "gib"),
    [("4096", 4.0), ("4G", 4.0), ("512M", 0.5), ("1T", 1024.0), ("1048576K", 1.0), ("1.5g", 1.5)],
)
def test_memory_units(text: str, gib: float) -> None:
    assert memory_gib(text) == pytest.approx(gib)


@pytest.mark.parametrize(
    ("text", "amounts"),
    [
        ("cpu=2,mem=4000M,billing=2", {"cores": 2, "memory": 4000 / 1024}),
        ("cpu=4,mem=8G,node=1,gres/gpu=2", {"cores": 4, "memory": 8, "gpu": 2}),
        ("cpu=1,gres/gpu=1,gres/gpu:a100=1", {"cores": 1, "gpu": 1}),  # typed GRES counted once
        ("", {}),
        ("cpu=x,mem=", {}),
    ],
)
def test_tres(text: str, amounts: dict) -> None:
    assert tres(text) == pytest.approx(amounts)


@pytest.mark.parametrize(
    ("text", "amounts"),
    [
        ("gpu:2", {"gpu": 2}),
        ("gpu:a100:2(S:0-1)", {"gpu": 2}),
        ("gres:gpu:1", {"gpu": 1}),
        ("gres/gpu:1,gres/shard:4", {"gpu": 1, "shard": 4}),
        ("gpu", {"gpu": 1}),
        ("(null)", {}),
        ("N/A", {}),
    ],
)
def test_gres(text: str, amounts: dict) -> None:
    assert gres(text) == amounts


@pytest.mark.parametrize(
    ("text", "limit"),
    [
        ("30", timedelta(minutes=30)),
        ("05:30", timedelta(minutes=5, seconds=30)),
        ("01:00:00", timedelta(hours=1)),
        ("2-00:00:00", timedelta(days=2)),
        ("1-12", timedelta(days=1, hours=12)),
        ("1-02:30", timedelta(days=1, hours=2, minutes=30)),
        ("UNLIMITED", None),
        ("INFINITE", None),
        ("NOT_SET", None),
        ("x-1", None),
    ],
)
def test_time_limits(text: str, limit: timedelta | None) -> None:
    assert time_limit(text) == limit


@pytest.mark.parametrize(
    ("duration", "text"),
    [(timedelta(minutes=5), "0-00:05:00"), (timedelta(seconds=61), "0-00:02:00"),
     (timedelta(seconds=1), "0-00:01:00"), (timedelta(days=1, hours=2), "1-02:00:00")],
)
def test_time_limit_for_sbatch_rounds_up_to_minutes(duration: timedelta, text: str) -> None:
    assert format_limit(duration) == text
    assert time_limit(text) >= duration


def test_times_are_read_in_the_given_zone() -> None:
    plus_one = timezone(timedelta(hours=1))
    assert slurm_time("2026-12-07T14:10:11", plus_one) == datetime(2026, 12, 7, 13, 10, 11, tzinfo=UTC)
    assert slurm_time("Unknown") is None and slurm_time("N/A") is None


def test_records_keep_values_with_spaces() -> None:
    (record,) = records(NODE_N2_DRAINED)
    assert record["Reason"] == "maintenance [root@2026-12-07T14:00:00]"
    (n1,) = records(NODE_N1)
    assert n1["OS"].startswith("Linux 6.18.44") and n1["RealMemory"] == "4096"


def test_nodes() -> None:
    n1, n2 = parse_nodes(f"{NODE_N1}\n{NODE_N2_DRAINED}\n")
    assert n1.partitions == ("debug", "gpu") and n1.usable
    assert dict(n1.total) == {"gpu": 2, "cores": 2, "memory": 4}  # GRES from Gres= without accounting
    assert n1.allocated["cores"] == 2 and n1.free["cores"] == 0
    assert not n2.usable and n2.reason.startswith("maintenance")


@pytest.mark.parametrize(
    ("state", "usable"),
    [("IDLE", True), ("MIXED", True), ("ALLOCATED", True), ("IDLE+DRAIN", False), ("DOWN*", False),
     ("MIXED+DRAIN", False), ("DRAINING", False), ("IDLE+POWERED_DOWN", False), ("IDLE+MAINT", False),
     ("COMPLETING", True), ("FUTURE", False), ("IDLE*", True)],
)
def test_node_states(state: str, usable: bool) -> None:
    (node,) = parse_nodes(f"NodeName=x CPUTot=2 RealMemory=1024 State={state} Partitions=p")
    assert node.usable is usable


def test_partition_totals_leave_out_drained_nodes() -> None:
    partitions = parse_partitions(
        "PartitionName=debug AllowGroups=ALL Default=YES MaxTime=UNLIMITED Nodes=n[1-2] State=UP\n"
        "PartitionName=gpu Default=NO MaxTime=1-00:00:00 Nodes=n1 State=UP\n")
    assert [(p.name, p.default, p.max_time) for p in partitions] == [
        ("debug", True, None), ("gpu", False, timedelta(days=1))]
    view = ClusterView(tuple(parse_nodes(f"{NODE_N1}\n{NODE_N2_DRAINED}")), tuple(partitions), ())
    assert view.totals() == {"debug": {"cores": 2, "memory": 4, "gpu": 2},
                             "gpu": {"cores": 2, "memory": 4, "gpu": 2}}
    assert view.default_partition().name == "debug"


def test_jobs() -> None:
    (job,) = parse_jobs(JOB + "\n")
    assert job.job_id == "7" and job.holding and job.state == "RUNNING"
    assert job.comment == "execplanner:0b7c" and job.reservation == "execplanner-0b7c"
    assert dict(job.amounts) == pytest.approx({"cores": 2, "memory": 1000 / 1024, "gpu": 1})
    assert job.end - job.start == timedelta(minutes=5)
    assert parse_jobs("No jobs in the system\n") == []
    (ended,) = parse_jobs("JobId=8 JobState=NODE_FAIL Reason=NodeDown Comment=(null) StartTime=Unknown")
    assert not ended.holding and ended.reason == "NodeDown" and ended.comment == "" and ended.start is None


def test_reservations() -> None:
    (r,) = parse_reservations(
        "ReservationName=execplanner-1 StartTime=2026-12-07T14:18:16 EndTime=2026-12-07T14:28:16 "
        "Duration=00:10:00 Nodes=n1 NodeCnt=1 CoreCnt=2 Features=(null) PartitionName=debug Flags= "
        "TRES=cpu=2 Users=root State=INACTIVE")
    assert (r.name, r.partition, r.state, dict(r.amounts)) == ("execplanner-1", "debug", "INACTIVE",
                                                                {"cores": 2})
    assert r.end - r.start == timedelta(minutes=10)
    assert parse_reservations("No reservations in the system\n") == []


@pytest.mark.parametrize(
    ("text", "start"),
    [
        ("sbatch: Job 3 to start at 2026-12-07T14:13:11 using 2 processors on nodes n1 in partition debug",
         "2026-12-07T14:13:11"),
        ("sbatch: Job 12 to start at 2026-12-07T09:00:00 using 1 processors on nodes n[1-2] in "
         "partition gpu\n", "2026-12-07T09:00:00"),
        ("allocation failure: Requested node configuration is not available", None),
        ("", None),
    ],
)
def test_test_only(text: str, start: str | None) -> None:
    found = parse_test_only(text)
    assert found == (slurm_time(start) if start else None)
