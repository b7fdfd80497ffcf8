"""The internal model of an execution request, whatever format it arrived in.

Parsers (:mod:`.parse` for Execution Broker v1.0 and the interim ``EB/schema/v1.0/types`` kinds,
:mod:`.draft2023` for the 2023 ExecutionPlanner draft) produce an :class:`ExecutionRequest`; the planner
reads only this; :func:`.render.request_to_doc` writes it back as a canonical v1.0 document (used to
persist it and to forward it to peers). All values are immutable so the planner can be pure.

Units: cores are whole cores, memory and storage whole GiB, as in v1.0. A range's ``max`` is never below
its ``min``: a request without ``max`` gets ``max == min`` ("no more than the minimum").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any

EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True)
class IntRange:
    """An inclusive whole-number range, ``min <= max``."""

    min: int
    max: int

    def __post_init__(self) -> None:
        if self.min > self.max:
            raise ValueError(f"range min {self.min} is above max {self.max}")


@dataclass(frozen=True)
class FloatRange:
    min: float | None
    max: float | None


@dataclass(frozen=True)
class AcceleratorRequest:
    """A request for accelerators (GPUs and the like), an extension of v1.0 compute.

    ``resource`` is the platform resource name it maps to (``nvidia.com/gpu``), ``type`` what the client
    wrote (a 2023 ``extras`` type URI, or the resource name itself), ``count`` how many.
    """

    name: str | None
    type: str | None
    resource: str
    count: IntRange
    spec: Mapping[str, Any] = field(default_factory=lambda: EMPTY)


@dataclass(frozen=True)
class VolumeMount:
    path: str
    mode: str  # READONLY | READWRITE
    resource: str  # the name of a data or storage resource in the request


@dataclass(frozen=True)
class ExecutableSpec:
    """What to run. ``kind`` is the short kind name (``jupyter-notebook``, ``docker-container``,
    ``singularity-container``). ``location`` is the notebook URL or the Singularity image URL,
    ``image``/``digest`` the Docker image; ``extra`` keeps every other field as given, to echo back."""

    kind: str
    name: str | None = None
    description: str | None = None
    location: str | None = None
    requirements: str | None = None
    image: str | None = None
    digest: str | None = None
    extra: Mapping[str, Any] = field(default_factory=lambda: EMPTY)


@dataclass(frozen=True)
class ComputeSpec:
    name: str | None = None
    cores: IntRange = IntRange(1, 1)
    memory: IntRange = IntRange(1, 1)
    accelerators: tuple[AcceleratorRequest, ...] = ()
    volumes: tuple[VolumeMount, ...] = ()
    description: str | None = None


@dataclass(frozen=True)
class StorageSpec:
    kind: str  # short kind name, e.g. simple-storage-resource
    name: str | None = None
    size: IntRange | None = None  # GiB
    extra: Mapping[str, Any] = field(default_factory=lambda: EMPTY)


@dataclass(frozen=True)
class DataSpec:
    """A data resource. ``kind`` is the short kind name (``simple-data-resource``,
    ``ivoa-data-resource``, ``S3-data-resource``, ``rucio-data-resource``, ``skao-data-resource``);
    ``location`` the URL for a simple data resource; ``extra`` the kind-specific blocks as given."""

    kind: str
    name: str | None = None
    location: str | None = None
    extra: Mapping[str, Any] = field(default_factory=lambda: EMPTY)


@dataclass(frozen=True)
class LimitItem:
    """A cost or metric constraint from the request (``SimpleMinMaxFloatCost``/``...Metric``)."""

    kind: str  # short kind name
    type: str | None = None  # meaning, e.g. urn:ivoa:calycopis:cost:monetary
    description: str | None = None
    min: float | None = None
    max: float | None = None


@dataclass(frozen=True)
class ScheduleSpec:
    """When to run. ``start_earliest``/``start_latest`` bound the window in which the session may start
    (both None: as soon as possible); ``duration`` how long it must be available (None: the default)."""

    start_earliest: datetime | None = None
    start_latest: datetime | None = None
    duration: timedelta | None = None


@dataclass(frozen=True)
class ExecutionRequest:
    executable: ExecutableSpec
    compute: ComputeSpec = field(default_factory=ComputeSpec)
    storage: tuple[StorageSpec, ...] = ()
    data: tuple[DataSpec, ...] = ()
    schedule: ScheduleSpec = field(default_factory=ScheduleSpec)
    costs: tuple[LimitItem, ...] = ()
    metrics: tuple[LimitItem, ...] = ()
    name: str | None = None
    # which wire form it came in: "v1.0", "interim" (EB/schema/v1.0/types kinds) or "2023"
    dialect: str = "v1.0"
