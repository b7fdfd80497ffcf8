"""What the planner offers, and the records the session manager keeps.

:class:`OfferPlan` is the planner's answer for one offer: which profile, how much, and when.
:class:`SessionRecord` and :class:`OfferSetRecord` are what the manager persists and what
:mod:`.render` turns into v1.0 (and 2023) documents.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from .messages import Message
from .phases import Phase
from .request import EMPTY, ExecutionRequest

# The types of the figures this hub quotes: costs (planning/costs.py) and data-proximity metrics
# (platform/datasets.py). A request's limits name them.
MONETARY = "urn:ivoa:calycopis:cost:monetary"
ENERGY = "urn:ivoa:calycopis:cost:energy"
CARBON = "urn:ivoa:calycopis:cost:carbon"
DATA_BYTES = "urn:execplanner:metric:data-bytes"
DATA_TIME = "urn:execplanner:metric:data-transfer-time"
DATA_LOCAL = "urn:execplanner:metric:data-local"


@dataclass(frozen=True)
class Figure:
    """A cost or a metric quoted on an offer (``SimpleMinMaxFloatCost`` / ``SimpleMinMaxFloatMetric``):
    ``type`` is the URN of what is measured (``urn:ivoa:calycopis:cost:monetary``), ``min``..``max`` the
    quoted range in ``unit`` (``EUR``, ``kWh``, ``gCO2``, ``bytes``, ``s``, ``bool``)."""

    type: str
    min: float
    max: float
    unit: str | None = None
    description: str | None = None


@dataclass(frozen=True)
class DataPlacement:
    """How one data resource of the request reaches the session's server.

    ``mode`` is ``local`` (the platform holds it at ``source``, mounted read-only at ``mount``),
    ``stage`` (downloaded from ``location`` during PREPARING into ``mount`` or the session folder) or
    ``skip`` (nothing to fetch, e.g. a location the preload does not download). ``size`` is the bytes to
    move (0 when local, None when unknown) and ``seconds`` the estimated transfer time."""

    name: str
    mode: str
    location: str | None = None
    source: str | None = None
    mount: str | None = None
    size: int | None = None
    seconds: float = 0.0
    collection: str | None = None  # the admin's collection that matched, if any


@dataclass(frozen=True)
class OfferPlan:
    """One offer: ``cores``/``memory`` (GiB) and ``accelerators`` (resource -> count) on ``profile``,
    available from ``start`` for ``duration``, prepared during the ``preparing`` before ``start`` and
    released during the ``releasing`` after it ends. ``pool`` is the capacity pool it draws from.
    ``options`` are the profile's KubeSpawner ``profile_options`` choices (option -> choice key, and
    ``{option}--unlisted-choice`` -> image), sent with ``profile`` as the server's ``user_options``."""

    profile: str
    profile_name: str
    cores: int
    memory: int
    start: datetime
    duration: timedelta
    preparing: timedelta
    releasing: timedelta
    accelerators: Mapping[str, int] = field(default_factory=lambda: EMPTY)
    pool: str = "default"
    image: str | None = None
    notes: tuple[Message, ...] = ()
    options: Mapping[str, str] = field(default_factory=lambda: EMPTY)
    costs: tuple[Figure, ...] = ()
    metrics: tuple[Figure, ...] = ()
    data: tuple[DataPlacement, ...] = ()

    @property
    def prepare_start(self) -> datetime:
        return self.start - self.preparing

    @property
    def end(self) -> datetime:
        return self.start + self.duration

    @property
    def release_end(self) -> datetime:
        return self.end + self.releasing

    def amounts(self) -> dict[str, int]:
        """The resources this offer holds, by resource name (``cores``, ``memory``, accelerators)."""
        return {"cores": self.cores, "memory": self.memory, **dict(self.accelerators)}


def request_name(request: object) -> str:
    """An offer set's name: the request's executable's name, else its own, else ``offerset``."""
    executable = getattr(request, "executable", None)
    name = getattr(executable, "name", None) or getattr(request, "name", None) or "offerset"
    return str(name)[:100]


def offer_names(base: str, plans: Sequence[OfferPlan]) -> list[str]:
    """A name for each offer of a set that tells them apart: the request's name, the profile, the
    cores and the start (``analysis on small, 2 cores, at 2026-12-07T14:00Z``); ``#2``, ``#3`` … on
    offers that would otherwise share one."""
    names = [
        f"{base} on {p.profile}, {p.cores} core{'s' if p.cores != 1 else ''}, at "
        f"{p.start.astimezone(timezone.utc):%Y-%m-%dT%H:%MZ}"[:240]  # the store keeps 255
        for p in plans
    ]
    seen: dict[str, int] = {}
    unique = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        unique.append(name if names.count(name) == 1 else f"{name} #{seen[name]}")
    return unique


@dataclass
class SessionRecord:
    """An execution session (an offer is a session in phase OFFERED)."""

    uuid: str
    offerset: str
    owner: str
    name: str
    phase: Phase
    created: datetime
    modified: datetime
    expires: datetime
    request: ExecutionRequest
    offer: OfferPlan
    messages: list[Message] = field(default_factory=list)
    connectors: list[dict[str, Any]] = field(default_factory=list)
    server_name: str | None = None
    # where the session lives when this broker only relays it (federation); None for our own
    remote_url: str | None = None


@dataclass
class OfferSetRecord:
    uuid: str
    owner: str
    name: str
    created: datetime
    result: str  # "YES" | "NO"
    messages: list[Message] = field(default_factory=list)
    sessions: list[str] = field(default_factory=list)  # session uuids, in offer order


@dataclass
class RelayedSession:
    """An offer a peer broker made, as this broker relays it (federation): ``uuid`` and ``remote_url``
    are the peer's, ``offerset`` ours; ``doc`` is the peer's last known document and ``phase`` its
    phase."""

    uuid: str
    offerset: str
    owner: str
    peer: str
    remote_url: str
    phase: str
    doc: dict[str, Any]
    created: datetime
    modified: datetime
