"""What this hub measured of its downloads: bandwidth and first-byte latency per source host.

Every staged download a session's preload makes is reported back to the broker with its bytes, its
seconds and the seconds to its first byte (``POST sessions/{uuid}/progress`` with a ``transfer``,
see :mod:`..singleuser.preload`). :class:`Throughput` keeps, for each source host, a moving estimate
of both: a weighted mean in which a figure's weight halves every ``half_life`` seconds and the
figures of the past together weigh at most :data:`MAX_WEIGHT` downloads, so a new figure always moves
the estimate and old ones are forgotten. An estimate whose figures have all but faded
(:data:`FORGOTTEN`) is not used. The first download from a host replaces the admin's
``data_bandwidth`` (the starting value) for it.

Bandwidth is the bytes over the seconds after the first byte, so that the estimate of a download,
``latency + size / bandwidth``, gives back the time the measured download took.

The estimates are rows of the broker's database (``execplanner_throughput``, the store's engine):
they survive a restart of the service. All functions but :class:`Throughput`'s methods are pure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import Column, DateTime, Float, Integer, MetaData, String, Table, select
from sqlalchemy.engine import Engine

from ..model.timing import utc
from .proximity import Access

metadata = MetaData()

throughput = Table(
    "execplanner_throughput",
    metadata,
    Column("host", String(255), primary_key=True),
    Column("bandwidth", Float, nullable=False),  # bytes/s after the first byte
    Column("latency", Float, nullable=False),  # seconds to the first byte
    Column("weight", Float, nullable=False),  # what the figures so far weigh, in downloads
    Column("samples", Integer, nullable=False),
    Column("updated", DateTime(timezone=True), nullable=False),
)

MAX_WEIGHT = 4.0  # the past weighs at most as much as this many downloads
FORGOTTEN = 0.05  # an estimate whose weight has faded below this is not used
MIN_SECONDS = 0.001  # a transfer time below this is taken as this (a tiny file on a fast link)


@dataclass(frozen=True)
class Estimate:
    """A host's moving estimate, as of ``updated``."""

    host: str
    bandwidth: float
    latency: float
    weight: float
    samples: int
    updated: datetime

    def faded(self, now: datetime, half_life: float) -> float:
        """The weight of the figures so far, at ``now``."""
        age = max(0.0, (now - self.updated).total_seconds())
        return self.weight * 0.5 ** (age / half_life) if half_life > 0 else self.weight

    def access(self) -> Access:
        return Access(self.host, self.bandwidth, self.latency, self.samples)


def host_of(url: str) -> str:
    """The source a URL's download is measured under: ``scheme://host:port``, lower case."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme, 0)
    return f"{parts.scheme}://{host}:{port}" if host else ""


def blend(old: Estimate | None, host: str, size: int, seconds: float, first_byte: float,
          now: datetime, half_life: float) -> Estimate:
    """The estimate after one more download of ``size`` bytes in ``seconds``, the first byte after
    ``first_byte`` seconds."""
    first_byte = min(max(first_byte, 0.0), seconds)
    rate = size / max(seconds - first_byte, MIN_SECONDS)
    past = min(old.faded(now, half_life), MAX_WEIGHT) if old is not None else 0.0
    total = past + 1.0
    if old is None or past < FORGOTTEN:
        bandwidth, latency = rate, first_byte
    else:
        bandwidth = (old.bandwidth * past + rate) / total
        latency = (old.latency * past + first_byte) / total
    return Estimate(host, bandwidth, latency, total, (old.samples if old else 0) + 1, now)


def valid_transfer(size: object, seconds: object, first_byte: object) -> str | None:
    """Why a reported transfer is not a measurement, or None."""
    if not (isinstance(size, int | float) and isinstance(seconds, int | float)
            and isinstance(first_byte, int | float)) or any(
            isinstance(v, bool) for v in (size, seconds, first_byte)):
        return "transfer needs bytes, seconds and first_byte as numbers"
    if not all(math.isfinite(v) for v in (size, seconds, first_byte)):
        return "transfer figures must be finite numbers"
    if size < 0 or seconds <= 0 or first_byte < 0 or first_byte > seconds:
        return "transfer needs bytes >= 0, seconds > 0 and 0 <= first_byte <= seconds"
    return None


class Throughput:
    """The estimates of every source host, in the broker's database."""

    def __init__(self, engine: Engine, half_life: float = 86400.0) -> None:
        self.engine, self.half_life = engine, half_life
        self.counted: set[tuple[str, str]] = set()  # (session, URL): one measurement each
        metadata.create_all(engine)

    def report(self, session: str, url: str, size: int, seconds: float, first_byte: float,
               now: datetime) -> Estimate | None:
        """A session's download of ``url``, counted once per session and URL."""
        if (session, url) in self.counted:
            return None
        if len(self.counted) >= 100_000:  # a restart forgets them too: at worst one figure counts twice
            self.counted.clear()
        self.counted.add((session, url))
        return self.record(url, size, seconds, first_byte, now)

    def estimate(self, host: str) -> Estimate | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(throughput).where(throughput.c.host == host)).first()
        if row is None:
            return None
        return Estimate(row.host, row.bandwidth, row.latency, row.weight, row.samples, utc(row.updated))

    def record(self, url: str, size: int, seconds: float, first_byte: float,
               now: datetime) -> Estimate | None:
        """Add one download from ``url``; the host's new estimate (None for a URL without a host)."""
        host = host_of(url)
        if not host:
            return None
        with self.engine.begin() as conn:
            row = conn.execute(select(throughput).where(throughput.c.host == host)).first()
            old = Estimate(row.host, row.bandwidth, row.latency, row.weight, row.samples,
                           utc(row.updated)) if row is not None else None
            new = blend(old, host, size, seconds, first_byte, now, self.half_life)
            values = {"bandwidth": new.bandwidth, "latency": new.latency, "weight": new.weight,
                      "samples": new.samples, "updated": new.updated}
            if old is None:
                conn.execute(throughput.insert().values(host=host, **values))
            else:
                conn.execute(throughput.update().where(throughput.c.host == host).values(**values))
        return new

    def for_urls(self, urls: list[str], now: datetime) -> dict[str, Access]:
        """The measured access of each URL's host, for the hosts whose estimate is not forgotten."""
        out: dict[str, Access] = {}
        known: dict[str, Estimate | None] = {}
        for url in urls:
            host = host_of(url)
            if host not in known:
                known[host] = self.estimate(host) if host else None
            found = known[host]
            if found is not None and found.faded(now, self.half_life) >= FORGOTTEN:
                out[url] = found.access()
        return out


def reported_transfer(doc: object, staged: list[str]) -> tuple[str, int, float, float] | None:
    """The ``transfer`` of a progress report as ``(url, bytes, seconds, first_byte)``, when it is a
    measurement of one of the session's ``staged`` URLs; None otherwise (a report is best effort:
    a wrong transfer is dropped, not refused)."""
    if not isinstance(doc, dict) or not isinstance(doc.get("transfer"), dict):
        return None
    t = doc["transfer"]
    url, size, seconds, first = t.get("url"), t.get("bytes"), t.get("seconds"), t.get("first_byte")
    if not isinstance(url, str) or url not in staged or valid_transfer(size, seconds, first) is not None:
        return None
    return url, int(size), float(seconds), float(first)
