"""The data-proximity metrics of an offer, and how its sizes and rates are written. Pure.

Every offer with data quotes (``metrics``, each a ``SimpleMinMaxFloatMetric``): the bytes to move
before the start and the estimated transfer time (when every staged size is known), the share of
the data resources already on the platform and, when this hub has measured the sources of the data
it downloads (:mod:`.throughput`), the slowest measured bandwidth and the longest first-byte latency
among them. The names are in docs/data-and-costs.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..model.offer import DATA_BYTES, DATA_LOCAL, DATA_TIME, DataPlacement, Figure

DATA_BANDWIDTH = "urn:execplanner:metric:data-bandwidth"
DATA_LATENCY = "urn:execplanner:metric:data-latency"


@dataclass(frozen=True)
class Access:
    """What this hub measured of its downloads from one source host: ``bandwidth`` (bytes/s) and
    first-byte ``latency`` (s), over ``samples`` downloads (a moving estimate)."""

    host: str
    bandwidth: float
    latency: float
    samples: int = 1


def human_bytes(size: float) -> str:
    """Decimal units: ``1.2 GB``, ``30 MB``."""
    for unit, factor in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= factor:
            return f"{size / factor:.3g} {unit}"
    return f"{int(size)} bytes"


def proximity(placements: Sequence[DataPlacement],
              measured: Mapping[str, Access] | None = None) -> tuple[Figure, ...]:
    """The data-proximity metrics: bytes to move and the estimated time (only when every staged
    size is known), the fraction of resources already local, and the measured bandwidth and latency
    of the sources the staged data comes from (``measured``: by location)."""
    if not placements:
        return ()
    local = sum(1 for p in placements if p.mode == "local") / len(placements)
    out = []
    staged = [p for p in placements if p.mode == "stage"]
    if all(p.size is not None for p in staged):
        total = float(sum(p.size or 0 for p in staged))
        seconds = round(sum(p.seconds for p in staged), 1)
        out += [Figure(DATA_BYTES, total, total, "bytes", "bytes to move before the start"),
                Figure(DATA_TIME, seconds, seconds, "s", "estimated transfer time")]
    out.append(Figure(DATA_LOCAL, round(local, 6), round(local, 6), "fraction",
                      "fraction of the data resources already on the platform"))
    found = {a.host: a for p in staged if measured and (a := measured.get(p.location or ""))}
    if found:
        slowest = min(found.values(), key=lambda a: a.bandwidth)
        rates = [a.bandwidth for a in found.values()]
        latencies = [a.latency for a in found.values()]
        out += [Figure(DATA_BANDWIDTH, round(min(rates), 1), round(max(rates), 1), "bytes/s",
                       f"measured bandwidth from {', '.join(sorted(found))} (slowest: {slowest.host})"),
                Figure(DATA_LATENCY, round(min(latencies), 4), round(max(latencies), 4), "s",
                       f"measured first-byte latency from {', '.join(sorted(found))}")]
    return tuple(out)
