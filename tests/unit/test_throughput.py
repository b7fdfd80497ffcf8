"""Measured access, as tables: the moving estimate of bandwidth and first-byte latency per source host,
how it forgets, what it keeps in SQLite across a restart, which reported transfers count, and how the
planner uses it for the preparation time and the proximity metrics."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from jupyterhub_execplanner.model.request import DataSpec, ExecutableSpec, ExecutionRequest
from jupyterhub_execplanner.platform.datasets import DataConfig, Probe, place
from jupyterhub_execplanner.platform.proximity import DATA_BANDWIDTH, DATA_LATENCY, Access
from jupyterhub_execplanner.platform.throughput import (
    FORGOTTEN,
    MAX_WEIGHT,
    Throughput,
    blend,
    host_of,
    reported_transfer,
    valid_transfer,
)

NOW = datetime(2026, 12, 7, 12, tzinfo=timezone.utc)
HOUR = 3600.0


def test_host_of() -> None:
    assert host_of("https://Archive.example.org/a/b.fits?x=1") == "https://archive.example.org:443"
    assert host_of("http://127.0.0.1:8080/x") == "http://127.0.0.1:8080"
    assert host_of("not a url") == ""


def test_first_download_is_the_estimate_and_gives_its_own_time_back() -> None:
    first = blend(None, "h", 1_000_000, 2.5, 0.5, NOW, HOUR)
    assert (first.bandwidth, first.latency, first.samples, first.weight) == (500_000, 0.5, 1, 1.0)
    # the estimate of the same download is the time it took
    assert first.latency + 1_000_000 / first.bandwidth == pytest.approx(2.5)


def test_later_downloads_move_the_estimate_and_old_ones_fade() -> None:
    first = blend(None, "h", 1_000_000, 1.0, 0.0, NOW, HOUR)  # 1 MB/s
    soon = blend(first, "h", 1_000_000, 4.0, 0.0, NOW, HOUR)  # 250 kB/s right after: the mean
    assert soon.bandwidth == pytest.approx(625_000) and soon.samples == 2
    late = blend(first, "h", 1_000_000, 4.0, 0.0, NOW + timedelta(hours=3), HOUR)  # the first at 1/8
    assert late.bandwidth == pytest.approx((1_000_000 / 8 + 250_000) / (1 / 8 + 1))
    gone = blend(first, "h", 1_000_000, 4.0, 0.0, NOW + timedelta(hours=10), HOUR)  # below FORGOTTEN
    assert first.faded(NOW + timedelta(hours=10), HOUR) < FORGOTTEN
    assert gone.bandwidth == pytest.approx(250_000)


def test_the_past_weighs_at_most_a_few_downloads() -> None:
    estimate = None
    for _ in range(50):
        estimate = blend(estimate, "h", 1_000_000, 1.0, 0.1, NOW, HOUR)
    assert estimate is not None and estimate.weight == MAX_WEIGHT + 1
    slower = blend(estimate, "h", 1_000_000, 10.1, 0.1, NOW, HOUR)  # 100 kB/s now
    assert slower.bandwidth < 0.85 * estimate.bandwidth  # one new figure still counts


@pytest.mark.parametrize(("size", "seconds", "first", "ok"), [
    (10, 1.0, 0.1, True), (0, 0.5, 0.0, True),
    (-1, 1.0, 0.1, False), (10, 0, 0, False), (10, 1.0, 2.0, False), (10, float("inf"), 0, False),
    (True, 1.0, 0.0, False), ("10", 1.0, 0.0, False),
])
def test_valid_transfer(size: object, seconds: object, first: object, ok: bool) -> None:
    assert (valid_transfer(size, seconds, first) is None) is ok


def test_only_the_sessions_staged_urls_count() -> None:
    staged = ["http://a/x.fits"]
    transfer = {"url": "http://a/x.fits", "bytes": 10, "seconds": 1, "first_byte": 0.1}
    doc = {"message": "m", "transfer": transfer}
    assert reported_transfer(doc, staged) == ("http://a/x.fits", 10, 1.0, 0.1)
    assert reported_transfer({**doc, "transfer": {**doc["transfer"], "url": "http://b/y"}}, staged) is None
    assert reported_transfer({"message": "m"}, staged) is None
    assert reported_transfer({**doc, "transfer": {**doc["transfer"], "seconds": -1}}, staged) is None


def test_estimates_are_kept_in_the_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'broker.sqlite'}"
    access = Throughput(create_engine(url), half_life=HOUR)
    assert access.for_urls(["http://a/x"], NOW) == {}
    access.report("s1", "http://a/x", 1_000_000, 2.0, 0.5, NOW)
    access.report("s1", "http://a/x", 1_000_000, 200.0, 0.5, NOW)  # the same session's again: not counted
    again = Throughput(create_engine(url), half_life=HOUR)  # the service restarted
    found = again.for_urls(["http://a/x", "http://a/other", "http://b/z"], NOW + timedelta(minutes=5))
    assert set(found) == {"http://a/x", "http://a/other"}  # by host
    assert found["http://a/x"] == Access("http://a:80", pytest.approx(1_000_000 / 1.5), 0.5, 1)
    assert again.for_urls(["http://a/x"], NOW + timedelta(hours=6)) == {}  # forgotten


def request(*urls: str) -> ExecutionRequest:
    data = tuple(DataSpec("simple-data-resource", f"d{i}", u) for i, u in enumerate(urls))
    return ExecutionRequest(ExecutableSpec("jupyter-notebook"), data=data)


def test_measured_access_sets_the_preparation_time_and_the_metrics() -> None:
    config = DataConfig(default_bandwidth=10_000)
    probes = {"http://a/x": Probe(size=2_000_000), "http://b/y": Probe(size=1_000_000)}
    configured = place(request("http://a/x", "http://b/y"), config, probes, now=NOW)
    assert not isinstance(configured, list)
    assert configured.seconds == 300.0  # 3 MB at the admin's 10 kB/s
    assert {f.type for f in configured.metrics}.isdisjoint({DATA_BANDWIDTH, DATA_LATENCY})

    fast = Access("http://a:80", 1_000_000, 0.25, 3)
    measured = {**probes, "http://a/x": Probe(size=2_000_000, access=fast)}
    plan = place(request("http://a/x", "http://b/y"), config, measured, now=NOW)
    assert not isinstance(plan, list)
    assert [p.seconds for p in plan.placements] == [2.2, 100.0]  # 0.25 s + 2 s; the other as configured
    figures = {f.type: f for f in plan.metrics}
    assert (figures[DATA_BANDWIDTH].min, figures[DATA_BANDWIDTH].unit) == (1_000_000, "bytes/s")
    assert (figures[DATA_LATENCY].max, figures[DATA_LATENCY].unit) == (0.25, "s")
    assert any("measured from http://a:80 over 3 downloads" in n.message for n in plan.notes)
