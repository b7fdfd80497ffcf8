"""Capacity is never oversubscribed, offers expire and give their capacity back, the hub's other
running servers are subtracted, and state survives a restart. Each test runs its own small hub."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from brokers import Broker
from hubprocess import RealHub
from isodate import parse_duration
from requests_lib import notebook

pytestmark = pytest.mark.e2e

ONE_PROFILE = [{"display_name": "Whole pool", "slug": "whole",
                "kubespawner_override": {"cpu_guarantee": 1, "cpu_limit": 4, "mem_guarantee": "1G",
                                         "mem_limit": "8G"}}]
SMALL_POOL = {
    "profiles": ONE_PROFILE,
    "capacity": {"default": {"cores": 4, "memory": 8}},
    "offer_expiry": 3,
    "prepare_time": 5,
    "max_offers": 1,
    "driver_interval": 0,  # accepted sessions stay ACCEPTED: these tests are about capacity
}


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _span(offer: dict) -> tuple[datetime, datetime]:
    schedule = offer["schedule"]
    start = _time(schedule["preparing"]["start"])
    releasing = schedule["releasing"]
    return start, _time(releasing["start"]) + parse_duration(releasing["duration"])


@pytest.fixture
def small_hub(tmp_path: Path):
    hub = RealHub.start(tmp_path / "hub", settings=SMALL_POOL)
    try:
        yield hub
    finally:
        hub.stop()


def test_full_pool_offers_never_overlap_and_expiry_frees_them(small_hub: RealHub) -> None:
    alice = Broker(small_hub.broker, small_hub.user_token("alice"))
    whole = notebook(cores=(4, 4), memory=(8, 8), duration="PT1H")
    first = alice.post("requests", json=whole).json()
    assert first["result"] == "YES"
    second = alice.post("requests", json=whole).json()
    assert second["result"] == "YES", "a later slot is a real alternative"
    a, b = _span(first["offers"][0]), _span(second["offers"][0])
    assert b[0] >= a[1], f"the second offer {b} overlaps the first {a}"
    # an offer is a reservation only until it expires
    time.sleep(4.5)
    assert alice.get(first["offers"][0]["meta"]["url"]).json()["phase"] == "EXPIRED"
    third = alice.post("requests", json=whole).json()
    c = _span(third["offers"][0])
    assert c[0] < a[1], "expired offers gave their capacity back"


def test_accepted_session_survives_a_restart(tmp_path: Path) -> None:
    folder = tmp_path / "hub"
    hub = RealHub.start(folder, settings=SMALL_POOL)
    try:
        alice = Broker(hub.broker, hub.user_token("alice"))
        offerset = alice.post("requests", json=notebook(cores=(4, 4), memory=(8, 8))).json()
        uuid = offerset["offers"][0]["meta"]["uuid"]
        assert alice.accept(uuid).json()["phase"] == "ACCEPTED"
        token = alice.token
    finally:
        hub.stop()
    hub = RealHub.start(folder, settings=SMALL_POOL)
    try:
        alice = Broker(hub.broker, token)
        session = alice.get(f"sessions/{uuid}")
        assert session.status_code == 200
        assert session.json()["phase"] == "ACCEPTED"
        assert alice.get(f"offersets/{offerset['meta']['uuid']}").json()["offers"][0]["meta"]["uuid"] == uuid
        # the accepted session still holds the whole pool after the restart
        later = alice.post("requests", json=notebook(cores=(4, 4), memory=(8, 8))).json()
        assert later["result"] == "YES"
        assert _span(later["offers"][0])[0] >= _span(session.json())[1]
    finally:
        hub.stop()


def test_running_servers_of_the_hub_are_subtracted(small_hub: RealHub) -> None:
    alice = Broker(small_hub.broker, small_hub.user_token("alice"))
    started = small_hub.api("POST", "users/erin/server", json={"profile": "whole"})
    if started.status_code == 404:
        small_hub.api("POST", "users/erin").raise_for_status()
        started = small_hub.api("POST", "users/erin/server", json={"profile": "whole"})
    assert started.status_code in (201, 202), started.text
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            answer = alice.post("requests", json=notebook(cores=(4, 4), memory=(8, 8))).json()
            if answer["result"] == "NO":
                break
            time.sleep(1)
        else:
            pytest.fail("the running server's cores were never subtracted from the pool")
        # one core is what erin's server holds (the profile's guarantee); 3 cores still fit now
        fits = alice.post("requests", json=notebook(cores=(3, 3), memory=(7, 7))).json()
        assert fits["result"] == "YES"
        start = _time(fits["offers"][0]["schedule"]["available"]["start"].split("/")[0])
        assert start - datetime.now(timezone.utc) < timedelta(minutes=2)
    finally:
        small_hub.api("DELETE", "users/erin/server")


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"offer_expiry": "soon"}, "offer_expiry"),
        ({"max_offer": 3}, "Did you mean 'max_offers'"),
        ({"capacity": {"default": {"cores": -1}}}, "capacity"),
    ],
    ids=["bad-duration", "misspelt", "negative-capacity"],
)
def test_a_wrong_setting_stops_the_hub_with_its_name(tmp_path: Path, settings: dict,
                                                       expected: str) -> None:
    with pytest.raises(RuntimeError) as failure:
        RealHub.start(tmp_path / "hub", settings=settings, timeout=30)
    assert expected in str(failure.value)
    assert "setup_execplanner" in str(failure.value)
