"""Per-user limits, as pure tables: what a user holds, when a request or an accept is refused, and the
sliding window of requests."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from jupyterhub_execplanner.sessions.limits import (
    Held,
    Ledger,
    LimitExceeded,
    Limits,
    RateWindow,
    core_hours,
    request_refusal,
    session_refusal,
)

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=timezone.utc)
H = timedelta(hours=1)


def offer(owner: str, offerset: str, cores: float, hours: float, expires_in: float = 300) -> Held:
    return Held(owner, offerset, True, cores, NOW, NOW + hours * H, NOW + timedelta(seconds=expires_in))


def session(owner: str, cores: float, start_h: float, end_h: float) -> Held:
    return Held(owner, "s", False, cores, NOW + start_h * H, NOW + end_h * H)


@pytest.mark.parametrize(
    ("cores", "start_h", "end_h", "expected"),
    [
        (2, 0, 1, 2.0),  # from now
        (2, -1, 1, 2.0),  # started an hour ago: only what is left counts
        (4, 1, 3, 8.0),  # in the future: all of it
        (2, -2, -1, 0.0),  # over
    ],
)
def test_core_hours_count_from_now(cores: float, start_h: float, end_h: float, expected: float) -> None:
    assert core_hours(cores, NOW + start_h * H, NOW + end_h * H, NOW) == pytest.approx(expected)


def test_holdings_count_offers_of_a_set_once_and_sessions_in_full() -> None:
    ledger = Ledger()
    ledger.add("a1", offer("alice", "set-a", 2, 1))
    ledger.add("a2", offer("alice", "set-a", 8, 1))  # the larger offer of the same set
    ledger.add("b1", offer("alice", "set-b", 1, 2))
    ledger.add("s1", session("alice", 4, 0, 2))
    ledger.add("x", session("bob", 64, 0, 100))
    held = ledger.holdings("alice", NOW)
    assert (held.open_offers, held.sessions) == (3, 1)
    assert held.core_hours == pytest.approx(8 + 2 + 8)
    assert held.next_offer_expiry == NOW + timedelta(seconds=300)
    assert held.next_session_end == NOW + 2 * H
    ledger.accepted("a2")
    ledger.remove("a1")
    held = ledger.holdings("alice", NOW)
    assert (held.open_offers, held.sessions) == (1, 2)
    assert ledger.holdings("carol", NOW).core_hours == 0


def test_expired_offers_and_ended_sessions_hold_nothing() -> None:
    ledger = Ledger()
    ledger.add("old", offer("alice", "s", 2, 1, expires_in=-1))
    ledger.add("done", session("alice", 2, -3, -1))
    held = ledger.holdings("alice", NOW)
    assert (held.open_offers, held.sessions, held.core_hours) == (0, 0, 0)


def test_a_request_past_the_open_offers_limit_is_a_no_naming_the_setting() -> None:
    ledger = Ledger()
    for i in range(3):
        ledger.add(f"o{i}", offer("alice", f"set{i}", 1, 1, expires_in=90 + i))
    limits = Limits(open_offers=3)
    refusal = request_refusal(limits, ledger.holdings("alice", NOW), NOW)
    assert refusal is not None and refusal.level == "ERROR"
    assert "ExecPlanner.limit_open_offers = 3" in refusal.message and "91 s" in refusal.message
    assert request_refusal(Limits(open_offers=4), ledger.holdings("alice", NOW), NOW) is None
    assert request_refusal(Limits(open_offers=0), ledger.holdings("alice", NOW), NOW) is None


def test_a_request_past_the_core_hours_limit_is_a_no() -> None:
    ledger = Ledger()
    ledger.add("s", session("alice", 8, 0, 10))
    refusal = request_refusal(Limits(core_hours=80), ledger.holdings("alice", NOW), NOW)
    assert refusal is not None and "limit_core_hours = 80" in refusal.message
    assert request_refusal(Limits(core_hours=81), ledger.holdings("alice", NOW), NOW) is None


def test_accepting_past_the_sessions_limit_is_a_429_until_the_next_session_ends() -> None:
    ledger = Ledger()
    ledger.add("s1", session("alice", 1, 0, 2))
    ledger.add("s2", session("alice", 1, 0, 1))
    refusal = session_refusal(Limits(sessions=2), ledger.holdings("alice", NOW), NOW)
    assert isinstance(refusal, LimitExceeded)
    assert "limit_sessions = 2" in str(refusal)
    assert refusal.retry_after == 3601
    assert session_refusal(Limits(sessions=3), ledger.holdings("alice", NOW), NOW) is None


def test_the_rate_window_slides() -> None:
    now = [0.0]
    window = RateWindow(3, clock=lambda: now[0])
    for t in (0.0, 10.0, 20.0):
        now[0] = t
        window.hit("alice")
    window.hit("bob")  # others are not held back
    now[0] = 30.0
    with pytest.raises(LimitExceeded) as refused:
        window.hit("alice")
    assert refused.value.retry_after == 31
    now[0] = 60.5  # the first request left the window
    window.hit("alice")
    with pytest.raises(LimitExceeded):
        window.hit("alice")


def test_a_zero_rate_is_no_limit() -> None:
    window = RateWindow(0)
    for _ in range(1000):
        window.hit("alice")
