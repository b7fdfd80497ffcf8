"""The reservation calendar: buckets, reservations, free capacity and the earliest fitting start."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np
import pytest

from jupyterhub_execplanner.platform.calendar import Calendar
from jupyterhub_execplanner.platform.capacity import HostCapacity, StaticCapacity, host_totals

T0 = datetime(2026, 11, 24, 15, 0, tzinfo=timezone.utc)
M = timedelta(minutes=1)
POOLS = {
    "default": {"cores": 8, "memory": 32},
    "gpu": {"cores": 16, "memory": 64, "nvidia.com/gpu": 2},
}


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def cal(**kw: Any) -> Calendar:
    return Calendar(POOLS, origin=T0, **kw)


def test_empty_calendar() -> None:
    c = cal(horizon=timedelta(hours=2))
    assert c.origin == T0 and c.horizon_end == at(120) and c.pools == ("default", "gpu")
    assert c.free("default", at(0), at(60)) == {"cores": 8.0, "memory": 32.0}
    assert c.free("gpu", at(0), at(60)) == {"cores": 16.0, "memory": 64.0, "nvidia.com/gpu": 2.0}
    assert c.pool_totals("gpu") == {"cores": 16.0, "memory": 64.0, "nvidia.com/gpu": 2.0}
    assert c.reservations() == []


def test_origin_is_aligned_to_the_resolution() -> None:
    c = Calendar(POOLS, origin=at(0.5) + timedelta(microseconds=7))
    assert c.origin == T0
    assert c.horizon_end == T0 + timedelta(days=7)


@pytest.mark.parametrize(
    ("start", "end", "query_start", "query_end", "free_cores"),
    [
        (at(10), at(20), at(10), at(20), 6.0),
        (at(10), at(20), at(0), at(10), 8.0),  # ends where the reservation begins
        (at(10), at(20), at(20), at(30), 8.0),  # starts where it ends
        # rounded outward: 10:30..19:30 occupies the buckets 10..20
        (at(10.5), at(19.5), at(9), at(10.1), 6.0),
        (at(10.5), at(19.5), at(19.9), at(21), 6.0),
        (at(10.5), at(19.5), at(20), at(21), 8.0),
        (at(10.5), at(19.5), at(9), at(10), 8.0),
        # a few seconds still take a whole bucket
        (at(10) + timedelta(seconds=1), at(10) + timedelta(seconds=2), at(10), at(11), 6.0),
    ],
)
def test_reservations_round_outward(
    start: datetime, end: datetime, query_start: datetime, query_end: datetime, free_cores: float
) -> None:
    c = cal()
    c.reserve("a", "default", start, end, {"cores": 2, "memory": 4})
    assert c.free("default", query_start, query_end)["cores"] == free_cores


def test_reserve_release_has() -> None:
    c = cal()
    c.reserve("a", "default", at(0), at(60), {"cores": 2, "memory": 4})
    c.reserve("b", "default", at(30), at(90), {"cores": 3})
    assert c.has("a") and c.has("b") and not c.has("c") and len(c.reservations()) == 2
    assert c.free("default", at(0), at(120)) == {"cores": 3.0, "memory": 28.0}
    assert c.free("default", at(60), at(90)) == {"cores": 5.0, "memory": 32.0}
    assert [r.key for r in c.reservations()] == ["a", "b"]
    assert c.release("a") is True
    assert c.release("a") is False
    assert c.free("default", at(0), at(120)) == {"cores": 5.0, "memory": 32.0}
    assert c.release("b") and not np.any(c.usage("default")["cores"])


@pytest.mark.parametrize(
    ("args", "error", "words"),
    [
        (("a", "default", at(0), at(1), {"cores": 1}), KeyError, "exists"),
        (("b", "nowhere", at(0), at(1), {"cores": 1}), ValueError, "unknown pool 'nowhere'"),
        (("b", "default", at(0), at(1), {"nvidia.com/gpu": 1}), ValueError, "no resource"),
        (("b", "default", at(1), at(1), {"cores": 1}), ValueError, "not after"),
        (("b", "default", at(0), at(1), {"cores": -1}), ValueError, "0 or more"),
        (("b", "default", at(0), at(1), {"cores": "2"}), ValueError, "finite number"),
        (("b", "default", datetime(2026, 1, 1), at(1), {"cores": 1}), ValueError, "timezone"),
    ],
)
def test_reserve_rejects(args: tuple[Any, ...], error: type[Exception], words: str) -> None:
    c = cal()
    c.reserve("a", "default", at(0), at(1), {"cores": 1})
    with pytest.raises(error, match=words):
        c.reserve(*args)
    assert len(c.reservations()) == 1 and c.free("default", at(0), at(1))["cores"] == 7.0


def test_external_usage_is_constant_and_replaced() -> None:
    c = cal()
    c.set_external("default", {"cores": 2, "memory": 8, "unknown": 3})
    assert c.free("default", at(0), at(10)) == {"cores": 6.0, "memory": 24.0}
    assert c.free("default", at(5000), at(5010)) == {"cores": 6.0, "memory": 24.0}
    c.set_external("default", {"cores": 1})
    assert c.free("default", at(0), at(10)) == {"cores": 7.0, "memory": 32.0}
    assert c.earliest("default", {"cores": 8}, not_before=at(0), not_after=at(60), span=M) is None
    c.set_external("later", {"cores": 1})  # a pool that may appear later is remembered
    c.set_totals({**POOLS, "later": {"cores": 4}})
    assert c.free("later", at(0), at(1)) == {"cores": 3.0}


def test_totals_change() -> None:
    c = cal()
    c.reserve("a", "gpu", at(0), at(60), {"cores": 4, "nvidia.com/gpu": 1})
    c.set_totals({"default": {"cores": 4, "memory": 16}, "gpu": {"cores": 16, "memory": 64}})
    assert c.free("default", at(0), at(1)) == {"cores": 4.0, "memory": 16.0}
    assert c.free("gpu", at(0), at(1)) == {"cores": 12.0, "memory": 64.0}
    c.set_totals(POOLS)  # the GPUs return: the reservation holds one again
    assert c.free("gpu", at(0), at(1))["nvidia.com/gpu"] == 1.0
    c.set_totals({"default": POOLS["default"]})
    assert c.pools == ("default",) and c.has("a")


def test_advance_drops_past_buckets_and_ended_reservations() -> None:
    c = cal(horizon=timedelta(hours=2))
    c.reserve("past", "default", at(0), at(10), {"cores": 1})
    c.reserve("now", "default", at(5), at(40), {"cores": 2})
    c.reserve("far", "default", at(100), at(200), {"cores": 4})  # runs past the horizon
    c.advance(at(30.5))
    assert c.origin == at(30) and c.horizon_end == at(150)
    assert not c.has("past") and c.has("now") and c.has("far")
    assert c.free("default", at(30), at(40))["cores"] == 6.0
    assert c.free("default", at(40), at(100))["cores"] == 8.0
    assert c.free("default", at(100), at(150))["cores"] == 4.0
    c.advance(at(30.9))  # same bucket: nothing changes
    assert c.origin == at(30)
    c.advance(at(120))  # the far reservation's tail enters the window
    assert c.free("default", at(120), at(200))["cores"] == 4.0
    assert c.free("default", at(200), at(240))["cores"] == 8.0
    c.advance(at(1000))  # a jump past the whole horizon
    assert c.reservations() == [] and not np.any(c.usage("default")["cores"])


def test_advance_keeps_the_array_equal_to_the_reservations() -> None:
    rng = random.Random(7)
    moving = cal(horizon=timedelta(hours=6))
    for i in range(200):
        start = at(rng.uniform(-60, 600))
        moving.reserve(f"r{i}", "default", start, start + M * rng.uniform(0.1, 120), {"cores": 1})
    now = T0
    for _ in range(20):
        now += M * rng.uniform(0, 50)
        moving.advance(now)
        fresh = Calendar(POOLS, origin=now, horizon=timedelta(hours=6))
        for r in moving.reservations():
            fresh.reserve(r.key, r.pool, r.start, r.end, r.amounts)
        assert np.array_equal(moving.usage("default")["cores"], fresh.usage("default")["cores"])


@pytest.mark.parametrize(
    ("need", "not_before", "not_after", "span", "expected"),
    [
        ({"cores": 4}, at(0), at(600), 30 * M, at(0)),
        ({"cores": 8}, at(0), at(600), 30 * M, at(60)),  # after "a" ends
        ({"cores": 7}, at(0), at(600), 30 * M, at(60)),  # between "a" and "b"
        ({"cores": 7}, at(0), at(600), 31 * M, at(120)),  # not between: after "b"
        ({"cores": 8}, at(0), at(50), 30 * M, None),  # window closes before
        ({"cores": 8}, at(0), at(60), 30 * M, at(60)),  # window closes exactly then
        ({"cores": 6}, at(0), at(600), 30 * M, at(0)),  # fits alongside "a"
        ({"cores": 7}, at(5), at(600), 60 * M, at(120)),  # would overlap "a" or "b"
        ({"cores": 9}, at(0), at(600), 30 * M, None),  # more than the pool has
        ({"cores": 1, "nvidia.com/gpu": 1}, at(0), at(600), M, None),  # not in this pool
        ({"cores": 0, "nvidia.com/gpu": 0}, at(0), at(600), M, at(0)),
        # not_before inside a bucket: itself, or the next bucket boundary
        ({"cores": 4}, at(0.5), at(600), 30 * M, at(0.5)),
        ({"cores": 8}, at(59.5), at(600), 30 * M, at(60)),
        ({"cores": 8}, at(60.5), at(600), 29 * M, at(60.5)),
        ({"cores": 8}, at(60.5), at(600), 30 * M, at(120)),  # 60:30 + 30 touches bucket 90
        # past the origin is clipped, past the horizon never fits
        ({"cores": 4}, at(-30), at(600), 30 * M, at(0)),
        ({"cores": 1}, at(7 * 24 * 60 - 10), at(10**5), 30 * M, None),
        ({"cores": 1}, at(7 * 24 * 60 - 30), at(10**5), 30 * M, at(7 * 24 * 60 - 30)),
    ],
)
def test_earliest(
    need: dict[str, float],
    not_before: datetime,
    not_after: datetime,
    span: timedelta,
    expected: datetime | None,
) -> None:
    c = cal()
    c.reserve("a", "default", at(0), at(60), {"cores": 2})
    c.reserve("b", "default", at(90), at(120), {"cores": 2})
    got = c.earliest("default", need, not_before=not_before, not_after=not_after, span=span)
    assert got == expected
    if got is not None:
        free = c.free("default", got, got + span)
        assert all(free.get(k, 0) >= v for k, v in need.items())


def test_free_past_the_horizon_is_nothing() -> None:
    c = cal(horizon=timedelta(hours=1))
    assert c.free("default", at(30), at(61)) == {"cores": 0.0, "memory": 0.0}
    assert c.free("default", at(30), at(60)) == {"cores": 8.0, "memory": 32.0}
    assert c.max_fit("default", at(30), at(60)) == {"cores": 8.0, "memory": 32.0}


def test_never_oversubscribe() -> None:
    """Reserve random offers at the starts `earliest` returns: free never goes below zero."""
    rng = random.Random(42)
    c = cal(horizon=timedelta(days=1), resolution=timedelta(seconds=90))
    placed = 0
    for i in range(400):
        need = {"cores": rng.randint(1, 8), "memory": rng.randint(1, 32)}
        if rng.random() < 0.3:
            need = {"cores": rng.randint(1, 16), "memory": 4, "nvidia.com/gpu": rng.randint(1, 2)}
        pool = "gpu" if "nvidia.com/gpu" in need else "default"
        span = timedelta(seconds=rng.randint(1, 4 * 3600))
        not_before = T0 + timedelta(seconds=rng.uniform(0, 12 * 3600))
        t = c.earliest(
            pool, need, not_before=not_before, not_after=not_before + timedelta(hours=6), span=span
        )
        if t is None:
            continue
        assert not_before <= t <= not_before + timedelta(hours=6)
        c.reserve(f"r{i}", pool, t, t + span, need)
        placed += 1
        if rng.random() < 0.1:
            c.release(f"r{rng.randrange(i + 1)}")
    assert placed >= 50
    for pool, totals in POOLS.items():
        for name, used in c.usage(pool).items():
            assert used.max() <= totals[name] + 1e-9, (pool, name)


def test_tentative_holds_are_undone_bit_for_bit() -> None:
    c = cal()
    c.reserve("a", "default", at(0), at(60), {"cores": 0.1, "memory": 0.2})
    before = c.usage("default")
    with pytest.raises(RuntimeError, match="boom"):
        with c.tentative() as overlay:
            overlay.reserve("default", at(0), at(30), {"cores": 0.7, "memory": 0.3})
            overlay.reserve("default", at(10), at(90), {"cores": 0.2})
            assert c.free("default", at(10), at(20))["cores"] == pytest.approx(7.0)
            with pytest.raises(RuntimeError, match="cannot change"):
                c.reserve("b", "default", at(0), at(1), {"cores": 1})
            raise RuntimeError("boom")
    after = c.usage("default")
    assert all(np.array_equal(before[k], after[k]) for k in before)
    c.reserve("b", "default", at(0), at(1), {"cores": 1})  # changes are allowed again


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"resolution": timedelta(0)}, "resolution must be positive"),
        ({"horizon": timedelta(seconds=30)}, "at least the resolution"),
        ({"origin": datetime(2026, 1, 1)}, "timezone-aware"),
    ],
)
def test_calendar_rejects(kwargs: dict[str, Any], words: str) -> None:
    with pytest.raises(ValueError, match=words):
        Calendar(POOLS, **{"origin": T0, **kwargs})


def test_bad_totals() -> None:
    with pytest.raises(ValueError, match="total cores of pool 'default'"):
        Calendar({"default": {"cores": -1}}, origin=T0)


# -- capacity providers ---------------------------------------------------------------------------


def test_static_capacity() -> None:
    provider = StaticCapacity({"default": {"cores": 32, "memory": 128, "nvidia.com/gpu": 4}})
    assert provider.totals() == {"default": {"cores": 32.0, "memory": 128.0, "nvidia.com/gpu": 4.0}}
    with pytest.raises(ValueError, match="memory must be a number"):
        StaticCapacity({"default": {"memory": "128Gi"}})


def test_host_totals(tmp_path: Any) -> None:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       32847936 kB\nMemFree: 1 kB\n")
    assert host_totals(meminfo=meminfo, cgroup=tmp_path)["memory"] == 31.0
    (tmp_path / "memory.max").write_text(f"{8 * 1024**3 + 5}\n")
    (tmp_path / "cpu.max").write_text("150000 100000\n")
    limited = host_totals(meminfo=meminfo, cgroup=tmp_path)
    assert limited == {"cores": 1.0, "memory": 8.0}
    real = host_totals()
    assert real["cores"] >= 1 and real["memory"] >= 0 and real["memory"] == int(real["memory"])


def test_host_capacity_keeps_back_a_reserve() -> None:
    host = host_totals()
    totals = HostCapacity(reserve_cores=1, reserve_memory=2).totals()
    assert totals == {
        "default": {"cores": max(0.0, host["cores"] - 1), "memory": max(0.0, host["memory"] - 2)}
    }


def test_earliest_agrees_with_brute_force() -> None:
    """The vectorised search equals trying `not_before` and every later bucket boundary in turn."""
    rng = random.Random(3)
    c = cal(horizon=timedelta(hours=8), resolution=timedelta(minutes=5))
    for i in range(60):
        start = at(rng.uniform(-30, 480))
        c.reserve(
            f"r{i}",
            "default",
            start,
            start + M * rng.uniform(1, 90),
            {"cores": rng.randint(1, 4), "memory": rng.randint(0, 16)},
        )
    step = c.resolution
    for _ in range(300):
        need = {"cores": rng.randint(1, 8), "memory": rng.randint(0, 32)}
        not_before = at(rng.uniform(0, 480))
        not_after = not_before + M * rng.uniform(0, 240)
        span = M * rng.uniform(0.5, 120)
        expected = None
        t = not_before
        while t <= not_after:
            if t + span <= c.horizon_end:
                free = c.free("default", t, t + span)
                if all(free[k] >= v for k, v in need.items()):
                    expected = t
                    break
            t = c.origin + ((t - c.origin) // step + 1) * step
        got = c.earliest("default", need, not_before=not_before, not_after=not_after, span=span)
        assert got == expected, (need, not_before, not_after, span)
