"""A batch scheduler's facts in planning: the earliest start of a profile's job (``start_facts``)
moves offers later, never earlier; the other jobs of a Slurm cluster on the calendar, each held
until its time limit; and what a later offer says of its start (held, or an estimate)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from test_planner import LARGE, NOW, POLICY, READY, SMALL, request

from jupyterhub_execplanner.model.offer import OfferPlan
from jupyterhub_execplanner.planning.planner import plan
from jupyterhub_execplanner.platform.calendar import Calendar
from jupyterhub_execplanner.platform.slurmcapacity import ClusterView, SlurmCapacity
from jupyterhub_execplanner.platform.slurmcli import parse_jobs, parse_nodes, parse_partitions
from jupyterhub_execplanner.platform.slurmpromises import ESTIMATE, RESERVED, SlurmPromises

TOTALS = {"default": {"cores": 16, "memory": 64}}


def calendar() -> Calendar:
    return Calendar(TOTALS, origin=NOW, resolution=timedelta(seconds=60))


def test_the_schedulers_start_moves_the_offer_later() -> None:
    later = NOW + timedelta(minutes=20)
    asked: list[tuple[str, dict, timedelta]] = []

    def facts(profile, need, limit):  # type: ignore[no-untyped-def]
        asked.append((profile.slug, dict(need), limit))
        return later if profile.slug == "small" else None

    result = plan(request(), [SMALL], calendar(), now=NOW, policy=POLICY, start_facts=facts)
    (offer,) = result.offers
    assert offer.prepare_start >= later and offer.prepare_start - later < timedelta(seconds=2)
    slug, need, limit = asked[0]
    assert slug == "small" and need["cores"] == 2 and limit > timedelta(hours=1)  # prepare+run+release
    # no fact: as without a scheduler
    (unchanged,) = plan(request(), [LARGE], calendar(), now=NOW, policy=POLICY, start_facts=facts).offers
    assert unchanged.start == READY


def test_a_start_past_the_requests_window_is_a_no() -> None:
    def facts(profile, need, limit):  # type: ignore[no-untyped-def]
        return NOW + timedelta(days=30)

    result = plan(request(end=NOW + timedelta(hours=3), duration=timedelta(hours=1)), [SMALL],
                  calendar(), now=NOW, policy=POLICY, start_facts=facts)
    assert result.result == "NO" and result.messages


def test_other_jobs_hold_the_calendar_until_their_end_and_ours_are_left_out() -> None:
    now = datetime.now(timezone.utc).replace(microsecond=0)
    stamp = (now + timedelta(minutes=10)).astimezone().replace(tzinfo=None).isoformat()
    begun = (now - timedelta(minutes=1)).astimezone().replace(tzinfo=None).isoformat()
    view = ClusterView(
        tuple(parse_nodes("NodeName=n1 CPUTot=8 RealMemory=32768 State=MIXED Partitions=p\n"
                          "NodeName=n2 CPUTot=8 RealMemory=32768 State=DRAIN Partitions=p")),
        tuple(parse_partitions("PartitionName=p Default=YES Nodes=n[1-2] State=UP")),
        tuple(parse_jobs(
            f"JobId=1 JobState=RUNNING Partition=p StartTime={begun} EndTime={stamp} TRES=cpu=6,mem=8G\n"
            f"JobId=2 JobState=RUNNING Partition=p StartTime={begun} EndTime={stamp} TRES=cpu=2,mem=1G "
            "Comment=execplanner:0b7c\n"
            f"JobId=3 JobState=COMPLETED Partition=p StartTime={begun} EndTime={begun} TRES=cpu=8\n"
            "JobId=4 JobState=PENDING Partition=p StartTime=Unknown EndTime=Unknown TRES=cpu=8")),
    )
    cal = Calendar({"p": {"cores": 0, "memory": 0}}, origin=now, resolution=timedelta(seconds=60))
    provider = SlurmCapacity(["p"])
    provider.apply(cal, view, now)
    assert cal.pool_totals("p") == {"cores": 8, "memory": 32}  # n2 is drained
    (held,) = cal.reservations()
    assert held.key == "slurm-job:1" and held.end == now + timedelta(minutes=10, seconds=1)
    assert cal.free("p", now, now + timedelta(minutes=1))["cores"] == 2
    assert cal.free("p", now + timedelta(minutes=12), now + timedelta(minutes=13))["cores"] == 8
    provider.apply(cal, view, now)  # the same read again changes nothing
    assert [r.key for r in cal.reservations()] == ["slurm-job:1"]
    provider.apply(cal, ClusterView(view.nodes, view.partitions, view.jobs[1:]), now)
    assert cal.reservations() == []  # the job ended


def offer_at(start: datetime) -> OfferPlan:
    return OfferPlan("node", "Whole node", 2, 2, start, timedelta(minutes=30), timedelta(seconds=10),
                     timedelta(seconds=60), pool="debug")


def test_later_offers_say_whether_their_start_is_held_or_an_estimate() -> None:
    now = datetime(2026, 12, 7, 14, 0, tzinfo=timezone.utc)
    later = offer_at(now + timedelta(minutes=20))
    # the manager is not used to annotate offers
    held = SlurmPromises(SlurmCapacity(["debug"]), None, reservations=True)  # type: ignore[arg-type]
    (note,) = held.annotate(later, now).notes
    assert note.kind == RESERVED and "advance reservation" in note.message
    estimate = SlurmPromises(SlurmCapacity(["debug"]), None, reservations=False)  # type: ignore[arg-type]
    (note,) = estimate.annotate(later, now).notes
    assert note.kind == ESTIMATE and note.level == "WARN"
    assert "Slurm's estimate, not a promise" in note.message and "slurm_reservations is off" in note.message
    soon = offer_at(now + timedelta(seconds=20))  # starts now: its job is submitted at once
    assert estimate.annotate(soon, now) == soon
