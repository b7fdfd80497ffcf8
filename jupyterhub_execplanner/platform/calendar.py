"""The reservation calendar: how much of each resource is free, over time, in each pool.

Time is cut into fixed buckets (``resolution``, 60 s by default) from an ``origin`` aligned to a
multiple of the resolution since the Unix epoch, up to a ``horizon`` (7 days by default). For each
pool the calendar keeps a numpy array of the amount *used* per resource and bucket; free is
``totals - external - used``. A reservation occupies every bucket it touches (its start is rounded
down and its end up to a bucket boundary), so reservations never oversubscribe a bucket they were
checked against. Reservations that start before the origin are clipped; those that run past the
horizon are kept and enter the array as :meth:`Calendar.advance` moves the window forward.

``external`` is what the hub's other servers hold now: a constant subtracted from every bucket.

The calendar is not thread-safe; the service calls it from one thread. Every time is a tz-aware
datetime (naive times raise ValueError). Amounts are cores, GiB and accelerator counts.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from types import MappingProxyType

import numpy as np

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
EPS = 1e-9
_FIRST = ("cores", "memory")


@dataclass(frozen=True)
class Reservation:
    """A held amount of a pool over ``[start, end)``; ``first``/``stop`` are absolute bucket
    indices (since the epoch) of the buckets it occupies."""

    key: str
    pool: str
    start: datetime
    end: datetime
    amounts: Mapping[str, float]
    first: int = field(repr=False)
    stop: int = field(repr=False)


_Held = tuple[str, datetime, datetime, tuple[tuple[str, float], ...], int, int]


def _aware(value: datetime, what: str) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise ValueError(f"{what} must be a timezone-aware datetime, not {value!r}")
    return value


def _number(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{what} must be a finite number, not {value!r}")
    if value < 0:
        raise ValueError(f"{what} must be 0 or more, not {value!r}")
    return float(value)


class _Pool:
    """One pool's resource names, totals, external usage and used-per-bucket array."""

    __slots__ = ("name", "names", "index", "totals", "external", "used")

    def __init__(self, name: str, totals: Mapping[str, float], buckets: int):
        self.name = name
        self.names = _order(totals)
        self.index = {n: i for i, n in enumerate(self.names)}
        self.totals = np.array(
            [_number(totals[n], f"total {n} of pool {name!r}") for n in self.names]
        )
        self.external = np.zeros(len(self.names))
        self.used = np.zeros((len(self.names), buckets))

    def vector(self, amounts: Mapping[str, float], *, strict: bool) -> np.ndarray:
        vec = np.zeros(len(self.names))
        for name, value in amounts.items():
            amount = _number(value, f"amount of {name}")
            i = self.index.get(name)
            if i is None:
                if strict:
                    raise ValueError(
                        f"pool {self.name!r} has no resource {name!r}; it has "
                        f"{', '.join(self.names) or 'none'}"
                    )
                continue
            vec[i] += amount
        return vec

    def as_dict(self, values: np.ndarray) -> dict[str, float]:
        return {n: round(float(values[i]), 9) for i, n in enumerate(self.names)}


def _order(totals: Mapping[str, float]) -> tuple[str, ...]:
    return tuple(n for n in _FIRST if n in totals) + tuple(sorted(set(totals) - set(_FIRST)))


class Calendar:
    """Free capacity over time per pool; see the module docstring."""

    def __init__(
        self,
        totals: Mapping[str, Mapping[str, float]],
        *,
        origin: datetime,
        horizon: timedelta = timedelta(days=7),
        resolution: timedelta = timedelta(seconds=60),
    ):
        if resolution <= timedelta(0):
            raise ValueError(f"resolution must be positive, not {resolution}")
        if horizon < resolution:
            raise ValueError(f"horizon ({horizon}) must be at least the resolution ({resolution})")
        self._res = resolution
        self._n = math.ceil(horizon / resolution)
        self._o = self._floor(_aware(origin, "origin"))
        self._pools: dict[str, _Pool] = {}
        # key -> (pool, start, end, ((resource, amount), ...), first, stop): tuples of atoms only, so
        # the garbage collector stops tracking them and full collections stay short with many offers
        self._reservations: dict[str, _Held] = {}
        self._ends: list[tuple[int, str]] = []  # (stop bucket, key), to drop ended ones cheaply
        self._beyond: set[str] = set()  # keys reaching past the horizon: filled in as it moves
        self._external: dict[str, dict[str, float]] = {}
        self._frozen = 0  # > 0 inside tentative(): changes other than the overlay are refused
        self.set_totals(totals)

    # -- time ------------------------------------------------------------------------------------

    def _floor(self, t: datetime) -> int:
        return (t - EPOCH) // self._res

    def _ceil(self, t: datetime) -> int:
        return -((EPOCH - t) // self._res)

    def _time(self, index: int) -> datetime:
        return EPOCH + index * self._res

    @property
    def origin(self) -> datetime:
        """The start of the first bucket."""
        return self._time(self._o)

    @property
    def horizon_end(self) -> datetime:
        """The end of the last bucket: nothing that runs past it can be planned."""
        return self._time(self._o + self._n)

    @property
    def resolution(self) -> timedelta:
        return self._res

    @property
    def pools(self) -> tuple[str, ...]:
        return tuple(self._pools)

    def pool_totals(self, pool: str) -> dict[str, float]:
        """The pool's totals (before external usage and reservations). KeyError if unknown."""
        p = self._pools[pool]
        return p.as_dict(p.totals)

    def _pool(self, pool: str) -> _Pool:
        p = self._pools.get(pool)
        if p is None:
            raise ValueError(f"unknown pool {pool!r}; the pools are {', '.join(self._pools)}")
        return p

    def _mutable(self) -> None:
        if self._frozen:
            raise RuntimeError("the calendar cannot change inside a tentative() block")

    # -- changes ---------------------------------------------------------------------------------

    def set_totals(self, totals: Mapping[str, Mapping[str, float]]) -> None:
        """Replace every pool's totals. A pool whose resource names change is rebuilt from the
        reservations (amounts of resources it no longer has are ignored until they return)."""
        self._mutable()
        pools: dict[str, _Pool] = {}
        rebuilt: list[_Pool] = []
        for name, values in totals.items():
            fresh = _Pool(name, values, self._n)
            old = self._pools.get(name)
            if old is not None and old.names == fresh.names:
                old.totals = fresh.totals
                pools[name] = old
            else:
                fresh.external = fresh.vector(self._external.get(name, {}), strict=False)
                pools[name] = fresh
                rebuilt.append(fresh)
        self._pools = pools
        for p in rebuilt:
            self._fill(0, self._n, pool=p.name)

    def set_external(self, pool: str, amounts: Mapping[str, float]) -> None:
        """What servers outside the calendar hold now, subtracted from every bucket; replaces the
        previous value. Unknown resources are ignored; an unknown pool is remembered for later."""
        self._mutable()
        clean = {str(n): _number(v, f"external {n} of pool {pool!r}") for n, v in amounts.items()}
        self._external[pool] = clean
        if pool in self._pools:
            self._pools[pool].external = self._pools[pool].vector(clean, strict=False)

    def reserve(
        self, key: str, pool: str, start: datetime, end: datetime, amounts: Mapping[str, float]
    ) -> None:
        """Hold ``amounts`` of ``pool`` over ``[start, end)`` under ``key``. KeyError if the key
        exists; ValueError for an unknown pool or resource, a bad amount or an empty span."""
        self._mutable()
        if key in self._reservations:
            raise KeyError(f"reservation {key!r} exists; release it first")
        p = self._pool(pool)
        if _aware(end, "end") <= _aware(start, "start"):
            raise ValueError(f"reservation {key!r}: end {end} is not after start {start}")
        vec = p.vector(amounts, strict=True)
        first, stop = self._floor(start), self._ceil(end)
        pairs = tuple((str(n), float(v)) for n, v in amounts.items())
        self._reservations[key] = (pool, start, end, pairs, first, stop)
        heapq.heappush(self._ends, (stop, key))
        if stop > self._o + self._n:
            self._beyond.add(key)
        self._add(p, first, stop, vec)

    def release(self, key: str) -> bool:
        """Drop a reservation; False if there was none."""
        self._mutable()
        held = self._reservations.pop(key, None)
        if held is None:
            return False
        self._beyond.discard(key)
        pool, _start, _end, pairs, first, stop = held
        p = self._pools.get(pool)
        if p is not None:
            self._add(p, first, stop, -p.vector(dict(pairs), strict=False))
        return True

    def has(self, key: str) -> bool:
        return key in self._reservations

    def advance(self, now: datetime) -> None:
        """Move the origin to the bucket holding ``now``: drop past buckets and the reservations
        that ended before it. Cheap when ``now`` is still in the first bucket."""
        self._mutable()
        new = self._floor(_aware(now, "now"))
        shift = new - self._o
        if shift <= 0:
            return
        while self._ends and self._ends[0][0] <= new:
            stop, key = heapq.heappop(self._ends)
            held = self._reservations.get(key)
            if held is not None and held[5] == stop:  # not a key released and reserved again
                del self._reservations[key]
                self._beyond.discard(key)
        self._o = new
        keep = max(self._n - shift, 0)
        for p in self._pools.values():
            if keep:
                p.used[:, :keep] = p.used[:, shift:]
            p.used[:, keep:] = 0
        if keep == 0:
            self._fill(0, self._n)
        else:  # only reservations reaching past the old horizon have anything in the new buckets
            self._fill(keep, self._n, keys=self._beyond)
        horizon = self._o + self._n
        self._beyond = {k for k in self._beyond if self._reservations[k][5] > horizon}

    def _fill(
        self, a: int, b: int, pool: str | None = None, keys: set[str] | None = None
    ) -> None:
        """Add the reservations' (or only ``keys``') amounts to the relative buckets ``[a, b)``."""
        chosen = self._reservations if keys is None else {k: self._reservations[k] for k in keys}
        for held_pool, _start, _end, pairs, first, stop in chosen.values():
            if pool is not None and held_pool != pool:
                continue
            ra, rb = max(first - self._o, a), min(stop - self._o, b)
            p = self._pools.get(held_pool)
            if ra < rb and p is not None:
                p.used[:, ra:rb] += p.vector(dict(pairs), strict=False)[:, None]

    def _add(self, p: _Pool, first: int, stop: int, vec: np.ndarray) -> None:
        a, b = max(first - self._o, 0), min(stop - self._o, self._n)
        if a < b:
            segment = p.used[:, a:b]
            segment += vec[:, None]
            np.maximum(segment, 0.0, out=segment)  # used is a sum of amounts >= 0

    # -- queries ---------------------------------------------------------------------------------

    def free(self, pool: str, start: datetime, end: datetime) -> dict[str, float]:
        """The least free amount of each resource over the buckets ``[start, end)`` touches.
        A span that runs past the horizon has nothing free (nothing can be promised there)."""
        p = self._pool(pool)
        if _aware(end, "end") <= _aware(start, "start"):
            raise ValueError(f"end {end} is not after start {start}")
        a, b = max(self._floor(start) - self._o, 0), self._ceil(end) - self._o
        if b > self._n:
            return p.as_dict(np.zeros(len(p.names)))
        base = p.totals - p.external
        if b <= a:
            return p.as_dict(base)
        return p.as_dict(base - p.used[:, a:b].max(axis=1))

    max_fit = free

    def earliest(
        self,
        pool: str,
        need: Mapping[str, float],
        *,
        not_before: datetime,
        not_after: datetime,
        span: timedelta,
    ) -> datetime | None:
        """The earliest ``t`` in ``[not_before, not_after]`` (``not_before`` itself or a bucket
        boundary) such that every resource has ``free >= need`` over ``[t, t + span)``; None if
        there is none before the horizon, or if ``need`` names a resource the pool lacks."""
        p = self._pool(pool)
        _aware(not_before, "not_before")
        _aware(not_after, "not_after")
        if span <= timedelta(0):
            raise ValueError(f"span must be positive, not {span}")
        rows: list[int] = []
        limits: list[float] = []
        for name, value in need.items():
            amount = _number(value, f"need of {name}")
            if amount <= 0:
                continue
            if name not in p.index:
                return None
            i = p.index[name]
            rows.append(i)
            limits.append(p.totals[i] - p.external[i] - amount + EPS)
        start = max(not_before, self.origin)
        if not_after < start:
            return None
        lo = self._floor(start) - self._o
        first_end = self._ceil(start + span) - self._o
        if first_end > self._n:
            return None
        width = math.ceil(span / self._res)
        last = min(self._floor(not_after) - self._o, self._n - width)
        hi = max(first_end, last + width)
        if not rows:
            return start
        used = p.used[rows, lo:hi]
        bad = np.any(used > np.array(limits)[:, None], axis=0)
        if not bad[: first_end - lo].any():
            return start
        if last <= lo:
            return None
        sums = np.concatenate(([0], np.cumsum(bad)))
        ks = np.arange(1, last - lo + 1)  # boundaries lo+1 .. last, relative to lo
        hits = np.flatnonzero(sums[ks + width] == sums[ks])
        if hits.size == 0:
            return None
        return self._time(self._o + lo + int(ks[hits[0]]))

    def reservations(self) -> list[Reservation]:
        """Every reservation, by start (for debugging)."""
        held = [
            Reservation(k, pool, start, end, MappingProxyType(dict(pairs)), first, stop)
            for k, (pool, start, end, pairs, first, stop) in self._reservations.items()
        ]
        return sorted(held, key=lambda r: (r.start, r.key))

    def usage(self, pool: str) -> dict[str, np.ndarray]:
        """A copy of the used-per-bucket array of each resource (for tests and debugging)."""
        p = self._pool(pool)
        return {n: p.used[i].copy() for i, n in enumerate(p.names)}

    @contextmanager
    def tentative(self) -> Iterator[Tentative]:
        """A scratch overlay: holds added with :meth:`Tentative.reserve` count in every query until
        the block ends, when the touched buckets are restored bit for bit (even on exception). The
        calendar refuses other changes inside the block."""
        overlay = Tentative(self)
        self._frozen += 1
        try:
            yield overlay
        finally:
            overlay._undo()
            self._frozen -= 1


class Tentative:
    """Temporary holds on a calendar; see :meth:`Calendar.tentative`."""

    def __init__(self, calendar: Calendar):
        self._calendar = calendar
        self._saved: list[tuple[_Pool, int, int, np.ndarray]] = []

    def reserve(
        self, pool: str, start: datetime, end: datetime, amounts: Mapping[str, float]
    ) -> None:
        cal = self._calendar
        p = cal._pool(pool)
        if _aware(end, "end") <= _aware(start, "start"):
            raise ValueError(f"end {end} is not after start {start}")
        vec = p.vector(amounts, strict=True)
        a, b = max(cal._floor(start) - cal._o, 0), min(cal._ceil(end) - cal._o, cal._n)
        if a < b:
            self._saved.append((p, a, b, p.used[:, a:b].copy()))
            p.used[:, a:b] += vec[:, None]

    def _undo(self) -> None:
        for p, a, b, saved in reversed(self._saved):
            p.used[:, a:b] = saved
        self._saved.clear()
