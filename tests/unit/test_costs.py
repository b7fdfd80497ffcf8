"""The cost model and the limits of a request's costs and metrics, as tables."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from jupyterhub_execplanner.model.offer import CARBON, DATA_TIME, ENERGY, MONETARY, Figure
from jupyterhub_execplanner.model.request import ExecutableSpec, ExecutionRequest, LimitItem
from jupyterhub_execplanner.planning.costs import breach_messages, breaches, check_limit_items, quote
from jupyterhub_execplanner.planning.policy import Price, PriceBook, parse_prices

NOW = datetime(2026, 11, 24, 15, 0, 0, tzinfo=timezone.utc)
FULL = Price(core_hour=0.05, gib_hour=0.01, gpu_hour=1.5, currency="EUR", kwh_per_core_hour=0.01,
             kwh_per_gib_hour=0.0004, kwh_per_gpu_hour=0.3, carbon_per_kwh=250)


@pytest.mark.parametrize(
    ("price", "cores", "memory", "gpus", "hours", "expected"),
    [
        # 2 cores x 0.05 + 4 GiB x 0.01 = 0.14 EUR per hour; for 2 hours 0.28
        (FULL, 2, 4, 0, 2, {MONETARY: (0.28, "EUR"), ENERGY: (0.0432, "kWh"), CARBON: (10.8, "gCO2")}),
        # a GPU: 1 x 1.5 + 1 x 0.05 + 1 x 0.01 for 30 minutes
        (FULL, 1, 1, 1, 0.5, {MONETARY: (0.78, "EUR"), ENERGY: (0.1552, "kWh"), CARBON: (38.8, "gCO2")}),
        # money only: no energy, no carbon
        (Price(core_hour=1.0, currency="USD"), 3, 8, 0, 1, {MONETARY: (3.0, "USD")}),
        # energy without an intensity: no carbon
        (Price(kwh_per_core_hour=0.02), 2, 2, 0, 1, {ENERGY: (0.04, "kWh")}),
        (None, 2, 4, 0, 1, {}),
    ],
)
def test_quote(price: Price | None, cores: int, memory: int, gpus: int, hours: float,
               expected: dict[str, tuple[float, str]]) -> None:
    figures = quote(price, cores=cores, memory=memory, gpus=gpus, duration=timedelta(hours=hours))
    got = {f.type: (f.max, f.unit) for f in figures}
    assert got.keys() == expected.keys()
    for key, (value, unit) in expected.items():
        assert got[key][0] == pytest.approx(value)
        assert got[key][1] == unit
    assert all(f.min == f.max for f in figures)  # a fixed offer


def test_price_book_falls_back_to_star() -> None:
    book = parse_prices({"*": {"core_hour": 0.1}, "gpu": {"gpu_hour": 2, "currency": "GBP"}})
    assert book.for_profile("small") == Price(core_hour=0.1)
    assert book.for_profile("gpu") == Price(gpu_hour=2.0, currency="GBP")
    assert PriceBook({"small": Price(core_hour=1)}).for_profile("large") is None


@pytest.mark.parametrize(
    ("value", "needle"),
    [
        ({"*": {"core_hours": 1}}, "unknown key(s) ['core_hours']"),
        ({"*": {"core_hour": -1}}, "['core_hour'] must be a number >= 0"),
        ({"*": {"core_hour": True}}, "must be a number >= 0"),
        ({"*": {"currency": ""}}, "['currency'] must be a currency code"),
        ({"*": 3}, "ExecPlanner.prices['*'] must be a dict"),
    ],
)
def test_bad_prices_name_the_key(value: dict, needle: str) -> None:
    with pytest.raises(ValueError, match=None) as caught:
        parse_prices(value)
    assert needle in str(caught.value)


def _request(costs: tuple[LimitItem, ...] = (), metrics: tuple[LimitItem, ...] = ()) -> ExecutionRequest:
    return ExecutionRequest(ExecutableSpec("jupyter-notebook"), costs=costs, metrics=metrics)


COST = "simple-minmax-float-cost"
METRIC = "simple-minmax-float-metric"
MONEY_2 = Figure(MONETARY, 2.0, 2.0, "EUR")
TIME_40 = Figure(DATA_TIME, 40.0, 40.0, "s")


@pytest.mark.parametrize(
    ("costs", "metrics", "figures", "paths"),
    [
        ((LimitItem(COST, MONETARY, max=3),), (), [MONEY_2], []),
        ((LimitItem(COST, MONETARY, max=2),), (), [MONEY_2], []),  # equal is within
        ((LimitItem(COST, MONETARY, max=1.5),), (), [MONEY_2], ["costs[0].max"]),
        ((LimitItem(COST, MONETARY, min=2.5),), (), [MONEY_2], ["costs[0].min"]),
        ((LimitItem(COST, ENERGY, max=1),), (), [MONEY_2], ["costs[0].type"]),  # not quoted
        ((LimitItem(COST, MONETARY),), (), [], []),  # no bound: no limit
        # AND: each item must hold
        ((LimitItem(COST, MONETARY, max=3),), (LimitItem(METRIC, DATA_TIME, max=30),),
         [MONEY_2, TIME_40], ["metrics[0].max"]),
        ((LimitItem(COST, MONETARY, max=1),), (LimitItem(METRIC, DATA_TIME, max=30),),
         [MONEY_2, TIME_40], ["costs[0].max", "metrics[0].max"]),
    ],
)
def test_breaches(costs: tuple, metrics: tuple, figures: list[Figure], paths: list[str]) -> None:
    assert [b.path for b in breaches(_request(costs, metrics), figures)] == paths


def test_a_limit_without_a_type_is_an_error() -> None:
    found = check_limit_items(_request((LimitItem(COST, None, max=3),)), now=NOW)
    assert [m.values["path"] for m in found] == ["costs[0].type"]
    assert found[0].level == "ERROR"


def test_no_message_names_the_closest_value_and_the_fix() -> None:
    req = _request((LimitItem(COST, MONETARY, max=1.0),), (LimitItem(METRIC, DATA_TIME, max=10),))
    candidates = [breaches(req, [Figure(MONETARY, v, v, "EUR"), TIME_40]) for v in (2.5, 1.25, 4.0)]
    messages = breach_messages(candidates, now=NOW)
    assert [m.values["path"] for m in messages] == ["costs[0].max", "metrics[0].max"]
    text = messages[0].message
    assert "costs[0].max is 1 EUR" in text and "quotes 1.25 EUR" in text
    assert "Raise costs[0].max to at least 1.25" in text and "shorter duration" in text
    assert "quotes 40 s" in messages[1].message


def test_unquoted_type_message() -> None:
    req = _request((LimitItem(COST, CARBON, max=1.0),))
    [message] = breach_messages([breaches(req, [MONEY_2])], now=NOW)
    assert message.values["path"] == "costs[0].type"
    assert "does not quote" in message.message and CARBON in message.message
