"""Planning has no clock of its own: every message it makes is stamped with the ``now`` it was given
(the manager's clock, which tests move by hours), never with the wall clock."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from jupyterhub_execplanner.model import messages as msg
from jupyterhub_execplanner.model.offer import MONETARY
from jupyterhub_execplanner.model.request import (
    ComputeSpec,
    DataSpec,
    ExecutableSpec,
    ExecutionRequest,
    IntRange,
    LimitItem,
    ScheduleSpec,
)
from jupyterhub_execplanner.planning.nodefit import fit_to_nodes, platform_unavailable
from jupyterhub_execplanner.planning.planner import plan
from jupyterhub_execplanner.planning.policy import PlannerPolicy, parse_prices
from jupyterhub_execplanner.platform.calendar import Calendar
from jupyterhub_execplanner.platform.datasets import DataConfig, Probe, parse_collections
from jupyterhub_execplanner.platform.profiles import Profile

NOW = datetime(2031, 3, 4, 5, 6, 7, tzinfo=timezone.utc)  # years away from the wall clock
WALL = datetime(2001, 1, 1, tzinfo=timezone.utc)
SMALL = Profile("small", "Small", cores_min=1, cores_max=4, memory_min=1, memory_max=8)
POOLS = {"default": {"cores": 8, "memory": 32}}
SURVEY = "https://archive.example.org/survey/"
POLICY = PlannerPolicy(
    prices=parse_prices({"*": {"core_hour": 1.0}}),
    data=DataConfig(collections=parse_collections({"survey": {"path": "/srv/s", "url_prefix": SURVEY}}),
                    denied=("*.forbidden.example",)),
)


@pytest.fixture(autouse=True)
def wall_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """A wall clock that is obviously not ``NOW``: a message stamped with it fails the tests."""
    monkeypatch.setattr(msg, "utcnow", lambda: WALL)


def request(cores: int = 2, *, duration: timedelta | None = None, data: tuple[DataSpec, ...] = (),
            costs: tuple[LimitItem, ...] = (), kind: str = "jupyter-notebook") -> ExecutionRequest:
    return ExecutionRequest(
        executable=ExecutableSpec(kind=kind, location="https://example.org/a.ipynb"),
        compute=ComputeSpec(cores=IntRange(cores, cores), memory=IntRange(2, 2)),
        schedule=ScheduleSpec(None, None, duration),
        data=data,
        costs=costs,
    )


def simple(url: str, name: str) -> DataSpec:
    return DataSpec(kind="simple-data-resource", name=name, location=url)


def stamps(messages: Any) -> set[datetime | None]:
    return {m.time for m in messages}


def calendar(full: bool = False) -> Calendar:
    cal = Calendar(POOLS, origin=NOW)
    if full:  # for the next three days
        cal.reserve("someone", "default", NOW, NOW + timedelta(days=3), POOLS["default"])
    return cal


@pytest.mark.parametrize(
    ("req", "full", "said"),
    [
        # eligibility: a request-wide problem, and a profile too small (with the summaries)
        (request(kind="singularity-container"), False, "Singularity"),
        (request(cores=16), False, "offers at most"),
        # no room in the window
        (request(), True, "no room"),
        # a cost limit no offer keeps
        (request(costs=(LimitItem("simple-minmax-float-cost", MONETARY, max=0.01),)), False, "quotes"),
        # data the hub refuses, and two data resources in one place
        (request(data=(simple("https://x.forbidden.example/a", "a"),)), False, "forbids"),
        (request(data=(simple(SURVEY + "a", "d"), simple(SURVEY + "b", "d"))), False, "already puts"),
        # a limit item without a type
        (request(costs=(LimitItem("simple-minmax-float-cost", None, max=1),)), False, "missing"),
    ],
)
def test_every_no_is_stamped_with_now(req: ExecutionRequest, full: bool, said: str) -> None:
    result = plan(req, [SMALL], calendar(full), now=NOW, policy=POLICY)
    assert result.result == "NO"
    assert said in " ".join(m.message for m in result.messages)
    assert stamps(result.messages) == {NOW}


def test_offer_notes_are_stamped_with_now() -> None:
    data = (simple(SURVEY + "cat.fits", "local"), simple("https://far.example.net/x.fits", "far"))
    result = plan(request(data=data), [SMALL], calendar(), now=NOW, policy=POLICY,
                  probes={"https://far.example.net/x.fits": Probe(size=1000, status=200)})
    notes = [m for offer in result.offers for m in offer.notes]
    assert result.offers and len(notes) == 2 * len(result.offers)
    assert stamps(notes) == {NOW}


def test_a_planner_failure_is_stamped_with_now() -> None:
    result = plan(request(), [object()], calendar(), now=NOW)  # type: ignore[list-item]
    [message] = result.messages
    assert message.kind == msg.PLATFORM and "planner failed" in message.message
    assert message.time == NOW


def test_node_fit_and_platform_messages_take_now() -> None:
    _, short = fit_to_nodes(request(), [SMALL], lambda *_: {"cores": 0.5, "memory": 1.0}, now=NOW)
    assert short and stamps(short) == {NOW}
    assert platform_unavailable("the cluster is not answering", now=NOW).time == NOW
    assert platform_unavailable("the cluster is not answering").time == WALL  # no now: the wall clock


@pytest.mark.parametrize("at", [None, NOW])
def test_make_stamps_at_or_with_the_wall_clock(at: datetime | None) -> None:
    message = msg.info("urn:x", "at ${time} and ${now}", at=at, time=NOW, now=NOW)
    assert message.time == (WALL if at is None else at)
    assert message.values == {"time": "2031-03-04T05:06:07Z", "now": "2031-03-04T05:06:07Z"}
