"""What the planner offers, and the records the session manager keeps.

:class:`OfferPlan` is the planner's answer for one offer: which profile, how much, and when.
:class:`SessionRecord` and :class:`OfferSetRecord` are what the manager persists and what
:mod:`.render` turns into v1.0 (and 2023) documents.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from .messages import Message
from .phases import Phase
from .request import EMPTY, ExecutionRequest


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
