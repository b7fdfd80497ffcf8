"""The planner with data resources, prices and the request's cost and metric limits."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from jupyterhub_execplanner.model.offer import DATA_LOCAL, DATA_TIME, MONETARY
from jupyterhub_execplanner.model.request import (
    ComputeSpec,
    DataSpec,
    ExecutableSpec,
    ExecutionRequest,
    IntRange,
    LimitItem,
    ScheduleSpec,
    VolumeMount,
)
from jupyterhub_execplanner.planning.planner import plan
from jupyterhub_execplanner.planning.policy import PlannerPolicy, parse_prices
from jupyterhub_execplanner.platform.calendar import Calendar
from jupyterhub_execplanner.platform.datasets import DataConfig, Probe, parse_collections
from jupyterhub_execplanner.platform.profiles import Profile

NOW = datetime(2026, 11, 24, 15, 0, 0, tzinfo=timezone.utc)
READY = NOW + timedelta(seconds=30)
SMALL = Profile("small", "Small", cores_min=1, cores_max=4, memory_min=1, memory_max=8)
LARGE = Profile("large", "Large", cores_min=4, cores_max=8, memory_min=8, memory_max=16)
POOLS = {"default": {"cores": 16, "memory": 64}}
SURVEY = "https://archive.example.org/survey/cat.fits"
FAR = "https://far.example.net/cat.fits"
DATA = DataConfig(
    collections=parse_collections({"survey": {"path": "/srv/survey",
                                              "url_prefix": "https://archive.example.org/survey/"}}),
    default_bandwidth=1e6,
    denied=("*.forbidden.example",),
)
PRICES = parse_prices({"*": {"core_hour": 0.10, "gib_hour": 0.01, "currency": "EUR",
                             "kwh_per_core_hour": 0.01, "carbon_per_kwh": 200},
                       "large": {"core_hour": 0.20, "gib_hour": 0.02}})
POLICY = PlannerPolicy(data=DATA, prices=PRICES)


def request(*data: DataSpec, cores: tuple[int, int] = (1, 4), memory: tuple[int, int] = (1, 4),
            costs: tuple[LimitItem, ...] = (), metrics: tuple[LimitItem, ...] = (),
            hours: float = 2) -> ExecutionRequest:
    volumes = tuple(VolumeMount(f"/data/{d.name}", "READONLY", d.name) for d in data if d.name)
    return ExecutionRequest(
        ExecutableSpec("jupyter-notebook"),
        ComputeSpec(cores=IntRange(*cores), memory=IntRange(*memory), volumes=volumes),
        data=data,
        schedule=ScheduleSpec(duration=timedelta(hours=hours)),
        costs=costs,
        metrics=metrics,
    )


def run(req: ExecutionRequest, policy: PlannerPolicy = POLICY, probes: dict | None = None,
        profiles: tuple[Profile, ...] = (SMALL, LARGE)):
    return plan(req, profiles, Calendar(POOLS, origin=NOW), now=NOW, policy=policy, probes=probes or {})


def figures(offer) -> dict[str, float]:
    return {f.type: f.max for f in (*offer.costs, *offer.metrics)}


def test_local_data_starts_now_and_is_linked_at_the_volume_path() -> None:
    result = run(request(DataSpec("simple-data-resource", "survey", SURVEY)))
    offer = result.offers[0]
    assert offer.start == READY and offer.preparing == timedelta(seconds=30)
    [placement] = offer.data
    assert (placement.mode, placement.source, placement.mount) == ("local", "/srv/survey/cat.fits",
                                                                   "data/survey")
    assert figures(offer)[DATA_LOCAL] == 1.0 and figures(offer)[DATA_TIME] == 0.0
    assert any("data 'survey' is local at data/survey" in n.message for n in offer.notes)


def test_remote_data_moves_the_start_by_the_transfer_time() -> None:
    result = run(request(DataSpec("simple-data-resource", "survey", FAR)),
                 probes={FAR: Probe(size=40_000_000, status=200)})
    assert result.offers
    for offer in result.offers:
        assert offer.preparing == timedelta(seconds=70)  # 30 s to start a server, 40 s to download
        assert offer.start >= READY + timedelta(seconds=40)
        assert offer.data[0].mode == "stage" and offer.data[0].size == 40_000_000
        assert figures(offer)[DATA_TIME] == 40.0 and figures(offer)[DATA_LOCAL] == 0.0
    assert "about 40 s at 1 MB/s" in result.offers[0].notes[-1].message


def test_forbidden_source_is_a_no_naming_the_resource() -> None:
    result = run(request(DataSpec("simple-data-resource", "x", "https://a.forbidden.example/x")))
    assert result.result == "NO"
    assert [m.values["path"] for m in result.messages] == ["data[0]"]
    assert "'*.forbidden.example'" in result.messages[0].message


def test_an_address_the_policy_refuses_is_a_no_naming_the_resource_and_the_setting() -> None:
    """The probe was not asked (loopback, private, the hub's own): no offer that would fail later."""
    refused = Probe(error="not measured (address not allowed)", refused=True)
    result = run(request(DataSpec("simple-data-resource", "x", FAR)), probes={FAR: refused})
    assert result.result == "NO"
    assert [m.values["path"] for m in result.messages] == ["data[0].location"]
    assert "c.ExecPlanner.fetch_allowed_hosts" in result.messages[0].message


def test_every_offer_quotes_its_profile_price() -> None:
    result = run(request(cores=(1, 8), memory=(1, 8)))
    by_profile = {o.profile: o for o in result.offers}
    small, large = by_profile["small"], by_profile["large"]
    # small: 4 cores x 0.10 + 8 GiB x 0.01 for 2 h; large: 8 x 0.20 + 8 x 0.02 for 2 h
    assert figures(small)[MONETARY] == pytest.approx((4 * 0.10 + 8 * 0.01) * 2)
    assert figures(large)[MONETARY] == pytest.approx((8 * 0.20 + 8 * 0.02) * 2)
    assert {f.type for f in large.costs} == {MONETARY}  # large has money prices only
    assert len(small.costs) == 3  # money, energy, carbon


def test_a_cost_max_shrinks_the_offer_to_the_minimum_size() -> None:
    limit = LimitItem("simple-minmax-float-cost", MONETARY, max=0.5)
    result = run(request(cores=(1, 4), memory=(1, 4), costs=(limit,)), profiles=(SMALL,))
    [offer] = result.offers  # the full-size offer (0.88 EUR) and the minimum one are the same now
    assert (offer.cores, offer.memory) == (1, 1)
    assert figures(offer)[MONETARY] == pytest.approx(0.22)


def test_a_cost_max_no_candidate_meets_is_a_no_with_the_value_needed() -> None:
    limit = LimitItem("simple-minmax-float-cost", MONETARY, max=0.1)
    result = run(request(cores=(2, 4), costs=(limit,)))
    assert result.result == "NO"
    [message] = result.messages
    assert message.values["path"] == "costs[0].max"
    # the cheapest candidate: small at 2 cores and 1 GiB for 2 h = 0.42 EUR
    assert "quotes 0.42 EUR" in message.message and "shorter duration" in message.message


def test_a_limit_on_a_cost_the_hub_does_not_quote() -> None:
    limit = LimitItem("simple-minmax-float-cost", MONETARY, max=100)
    result = run(request(costs=(limit,)), policy=PlannerPolicy(data=DATA))
    assert result.result == "NO"
    assert [m.values["path"] for m in result.messages] == ["costs[0].type"]


def test_metric_limits_combine_with_and() -> None:
    local = LimitItem("simple-minmax-float-metric", DATA_LOCAL, min=1)
    fast = LimitItem("simple-minmax-float-metric", DATA_TIME, max=10)
    data = DataSpec("simple-data-resource", "survey", FAR)
    probes = {FAR: Probe(size=40_000_000)}
    assert run(request(data, metrics=(fast,)), probes=probes).result == "NO"
    result = run(request(data, metrics=(local, fast)), probes=probes)
    assert [m.values["path"] for m in result.messages] == ["metrics[0].min", "metrics[1].max"]
    near = DataSpec("simple-data-resource", "survey", SURVEY)
    assert run(request(near, metrics=(local, fast))).result == "YES"


def test_no_data_no_proximity_metrics() -> None:
    offer = run(request()).offers[0]
    assert offer.metrics == () and offer.data == ()


def test_a_url_escaping_the_collection_is_not_local() -> None:
    escape = "https://archive.example.org/survey/..%2Fhubsecret"
    result = run(request(DataSpec("simple-data-resource", "survey", escape)),
                 probes={escape: Probe(size=1_000_000, status=200)})
    assert result.result == "YES"
    for offer in result.offers:
        [placement] = offer.data
        assert (placement.mode, placement.source, placement.location) == ("stage", None, escape)
        assert figures(offer)[DATA_LOCAL] == 0.0


@pytest.mark.parametrize(
    ("paths", "path"),
    [
        (("/data/d", "/data/d/evil.fits"), "compute.volumes[1].path"),  # staged inside the local link
        (("/data/d/evil.fits", "/data/d"), "compute.volumes[1].path"),
        (("/data/d", "/data/d/"), "compute.volumes[1].path"),  # the same place: one would be skipped
    ],
)
def test_data_mounts_that_nest_or_collide_are_a_no(paths: tuple[str, str], path: str) -> None:
    data = (DataSpec("simple-data-resource", "near", SURVEY), DataSpec("simple-data-resource", "far", FAR))
    volumes = (VolumeMount(paths[0], "READONLY", "near"), VolumeMount(paths[1], "READONLY", "far"))
    req = ExecutionRequest(ExecutableSpec("jupyter-notebook"), ComputeSpec(volumes=volumes), data=data,
                           schedule=ScheduleSpec(duration=timedelta(hours=1)))
    result = run(req, probes={FAR: Probe(size=10, status=200)})
    assert result.result == "NO" and not result.offers
    [message] = result.messages
    assert message.values["path"] == path and "give each data resource its own path" in message.message
