"""Which profiles can run a request, and why not: the planner's eligibility rules and NO messages.

Per profile (a message per failing profile, plus summaries, when none is eligible):

* executable: a jupyter-notebook runs on every profile but one whose image a request fills; a
  docker-container only on a profile whose ``image`` is the requested image (ignoring a
  ``docker.io/`` or ``docker.io/library/`` prefix and a missing ``:latest``), or whose
  ``unlisted_image`` option accepts it (KubeSpawner's ``unlisted_choice``: the offer then carries
  ``{option}--unlisted-choice: image`` in its options); a singularity-container never.
* cores and memory: the offered amount ``c`` has ``request.min <= c <= request.max`` and
  ``ceil(profile min) <= c <= floor(profile max, or the pool total)``, and is at least 1.
* accelerators: each requested ``resource`` must name one of the profile's accelerators
  (case-insensitive) with at least ``count.min`` of them (and as many in the pool); the offer has
  up to ``min(profile, count.max)``. A profile with accelerators is offered only to requests that
  ask for accelerators, so that GPUs are not spent on work that does not need them.
* duration: the requested one, else ``policy.default_duration``; at most ``policy.max_duration``
  and the profile's ``max_duration`` (a default duration is shortened to the cap; a requested one
  is not), and at least ``policy.min_duration``.
* start window: from ``max(now + profile.prepare, start_earliest)`` (rounded up to a second) to
  ``start_latest``, or one day after the window opens when the request gives no end.

Request-wide problems are ERROR messages; per-profile reasons are WARN, all stamped with the ``now``
the planner was given. The summaries of a NO when no profile is eligible, or none has room, are in
:mod:`.refusals`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ..model import messages as msg
from ..model.messages import Message
from ..model.request import ExecutionRequest
from ..model.timing import SECOND, format_duration, utc
from ..platform.calendar import Calendar
from ..platform.profiles import EMPTY, Profile, profile_label
from .policy import PlannerPolicy

EPS = 1e-9
NOTEBOOK, DOCKER, SINGULARITY = "jupyter-notebook", "docker-container", "singularity-container"
DEFAULT_WINDOW = timedelta(days=1)


@dataclass
class Fit:
    """An eligible profile: the ranges it can offer for this request, and when."""

    profile: Profile
    cores: tuple[int, int]
    memory: tuple[int, int]
    accelerators: dict[str, tuple[int, int]]
    duration: timedelta
    earliest: datetime  # first start, a whole second
    latest: datetime  # last start, a whole second
    size: tuple[int, int]  # the profile's most cores and memory (smaller wastes less)
    image: str | None = None  # the image the offer runs
    # the profile's options, and the unlisted image's
    options: Mapping[str, str] = field(default_factory=lambda: EMPTY)

    def need(self, full: bool) -> dict[str, int]:
        i = 1 if full else 0
        need = {"cores": self.cores[i], "memory": self.memory[i]}
        need.update({name: r[i] for name, r in self.accelerators.items()})
        return need


def runnable_executables(profiles: Sequence[Profile]) -> tuple[str, ...]:
    """The executable kinds some profile can give an offer for (what ``GET /`` advertises): notebooks
    on a profile that does not wait for a request's image, containers on one that runs an image."""
    kinds = []
    if any(p.unlisted_image is None for p in profiles):
        kinds.append(NOTEBOOK)
    if any(p.image or p.unlisted_image is not None for p in profiles):
        kinds.append(DOCKER)
    return tuple(kinds)


# -- the request as a whole -----------------------------------------------------------------------


def check_request(request: ExecutionRequest, policy: PlannerPolicy, *, now: datetime) -> list[Message]:
    """The problems of the request as a whole (ERROR messages), whatever the profiles."""
    problems: list[Message] = []
    kind = request.executable.kind
    if kind == SINGULARITY:
        problems.append(
            msg.error(
                msg.NOT_SUPPORTED,
                "${path} is ${value}: this hub runs Jupyter notebooks and Docker containers, not "
                "Singularity images; send a jupyter-notebook or docker-container executable.",
                at=now,
                path="executable.kind",
                value=kind,
            )
        )
    elif kind not in (NOTEBOOK, DOCKER):
        problems.append(
            msg.error(
                msg.NOT_SUPPORTED,
                "${path} is ${value}, which this hub cannot run; send a ${kinds} executable.",
                at=now,
                path="executable.kind",
                value=kind,
                kinds=f"{NOTEBOOK} or {DOCKER}",
            )
        )
    elif kind == DOCKER and not request.executable.image:
        problems.append(
            msg.error(
                msg.MISSING_VALUE,
                "${path} is missing: name the Docker image to run.",
                at=now,
                path="executable.image",
            )
        )
    duration = request.schedule.duration
    path = "schedule.requested.duration"
    if duration is not None and duration < policy.min_duration:
        problems.append(
            msg.error(
                msg.INVALID_VALUE,
                "${path} is ${duration}; ask for at least ${limit}.",
                at=now,
                path=path,
                duration=iso(duration),
                limit=iso(policy.min_duration),
            )
        )
    elif duration is not None and duration > policy.max_duration:
        problems.append(
            msg.error(
                msg.SCHEDULE,
                "${path} is ${duration}; this hub runs a session for at most ${limit}.",
                at=now,
                path=path,
                duration=iso(duration),
                limit=iso(policy.max_duration),
            )
        )
    start, end = request.schedule.start_earliest, request.schedule.start_latest
    if start is not None and end is not None and utc(end) < utc(start):
        problems.append(
            msg.error(
                msg.SCHEDULE,
                "${path} ends (${end}) before it starts (${start}); give a window that ends later.",
                at=now,
                path="schedule.requested.start",
                start=utc(start),
                end=utc(end),
            )
        )
    return problems


# -- one profile -----------------------------------------------------------------------------------


def assess(
    request: ExecutionRequest,
    profile: Profile,
    calendar: Calendar,
    now: datetime,
    policy: PlannerPolicy,
) -> Fit | Message:
    """The profile's :class:`Fit` for the request, or the (WARN) message saying why it has none."""
    name = profile_label(profile)

    def no(kind: str, template: str, path: str, **values: Any) -> Message:
        return msg.warn(kind, template, at=now, path=path, profile=name, **values)

    exe = request.executable
    image, options = profile.image, profile.options
    unlisted = profile.unlisted_image
    if exe.kind == DOCKER and unlisted is not None and exe.image and runs_image(profile, exe.image):
        image, options = exe.image, {**options, **unlisted.user_options(exe.image)}
    elif exe.kind == DOCKER and image_name(profile.image) != image_name(exe.image):
        return no(
            msg.NOT_SUPPORTED,
            "${path}: profile ${profile} runs ${offered}, not ${image}.",
            "executable.image",
            offered=offered_images(profile),
            image=exe.image,
        )
    elif exe.kind != DOCKER and unlisted is not None:
        return no(
            msg.NOT_SUPPORTED,
            "${path}: profile ${profile} runs the image a docker-container request names.",
            "executable.kind",
        )
    if profile.pool not in calendar.pools:
        return no(
            msg.PLATFORM,
            "Profile ${profile} draws from pool ${pool}, which has no capacity configured.",
            "$",
            pool=profile.pool,
        )
    totals = calendar.pool_totals(profile.pool)
    compute = request.compute
    wants = any(a.count.max > 0 for a in compute.accelerators)
    if profile.accelerators and not wants:
        return no(
            msg.NOT_SUPPORTED,
            "${path}: profile ${profile} is kept for requests that ask for its accelerators "
            "(${names}).",
            "compute.accelerators",
            names=", ".join(profile.accelerators),
        )
    ranges: dict[str, tuple[int, int]] = {}
    for what, req, lo_p, hi_p, unit in (
        ("cores", compute.cores, profile.cores_min, profile.cores_max, "cores"),
        ("memory", compute.memory, profile.memory_min, profile.memory_max, "GiB"),
    ):
        p_lo, p_hi = profile_range(lo_p, hi_p, totals.get(what, 0.0))
        lo, hi = max(req.min, p_lo), min(req.max, p_hi)
        if lo > hi and req.min > p_hi:
            return no(
                msg.RESOURCE_LIMIT,
                "${path} is ${requested}; profile ${profile} offers at most ${largest} ${unit}.",
                f"compute.{what}.min",
                requested=req.min,
                largest=p_hi,
                unit=unit,
            )
        if lo > hi:
            return no(
                msg.RESOURCE_LIMIT,
                "${path} is ${requested}; profile ${profile} gives at least ${smallest} ${unit}.",
                f"compute.{what}.max",
                requested=req.max,
                smallest=p_lo,
                unit=unit,
            )
        ranges[what] = (lo, hi)
    accelerators: dict[str, tuple[int, int]] = {}
    for i, accel in enumerate(compute.accelerators):
        if accel.count.max <= 0:
            continue  # "none of these": nothing to match
        key = match_accelerator(accel.resource, profile.accelerators)
        path = f"compute.accelerators[{i}]"
        if key is None:
            return no(
                msg.NOT_SUPPORTED,
                "${path}: profile ${profile} has no accelerator ${resource}; it has ${names}.",
                f"{path}.resource",
                resource=accel.resource,
                names=", ".join(profile.accelerators) or "none",
            )
        lo0, hi0 = accelerators.get(key, (0, 0))
        lo, hi = lo0 + accel.count.min, hi0 + accel.count.max
        have = min(profile.accelerators[key], math.floor(totals.get(key, 0.0) + EPS))
        if lo > have:
            return no(
                msg.RESOURCE_LIMIT,
                "${path} is ${requested}; profile ${profile} offers at most ${largest} "
                "${resource}.",
                f"{path}.count.min",
                requested=lo,
                largest=have,
                resource=key,
            )
        accelerators[key] = (lo, min(hi, have))
    cap = min(policy.max_duration, profile.max_duration or policy.max_duration)
    duration = request.schedule.duration or min(policy.default_duration, cap)
    if duration > cap:
        return no(
            msg.SCHEDULE,
            "${path} is ${duration}; profile ${profile} runs a session for at most ${limit}.",
            "schedule.requested.duration",
            duration=iso(duration),
            limit=iso(cap),
        )
    if duration < policy.min_duration:
        return no(
            msg.SCHEDULE,
            "Profile ${profile} runs a session for at most ${limit}, below this hub's minimum "
            "of ${minimum}.",
            "schedule.requested.duration",
            limit=iso(cap),
            minimum=iso(policy.min_duration),
        )
    ready = now + profile.prepare
    asked = utc(request.schedule.start_earliest) if request.schedule.start_earliest else now
    earliest = ceil_second(max(ready, asked))
    closes = request.schedule.start_latest
    latest = floor_second(utc(closes) if closes else earliest + DEFAULT_WINDOW)
    if latest < earliest:
        return no(
            msg.SCHEDULE,
            "${path} ends at ${latest}; profile ${profile} needs ${prepare} to start a server, "
            "so it can start at ${ready} at the earliest. Give a later window.",
            "schedule.requested.start",
            latest=latest,
            prepare=iso(profile.prepare),
            ready=earliest,
        )
    size = (
        profile_range(0, profile.cores_max, totals.get("cores", 0.0))[1],
        profile_range(0, profile.memory_max, totals.get("memory", 0.0))[1],
    )
    return Fit(
        profile, ranges["cores"], ranges["memory"], accelerators, duration, earliest, latest, size,
        image, options,
    )  # fmt: skip


def runs_image(profile: Profile, image: str | None) -> bool:
    """Whether a docker-container request for ``image`` can run on ``profile``."""
    unlisted = profile.unlisted_image
    if unlisted is not None:  # an image a listed choice sets is offered with that choice
        name = image_name(image)
        return unlisted.accepts(image) and all(name != image_name(i) for i in unlisted.listed)
    return image_name(profile.image) == image_name(image)


def offered_images(profile: Profile) -> str:
    if profile.unlisted_image is not None:
        pattern = profile.unlisted_image.pattern
        return f"images matching {pattern}" if pattern else "any image"
    return profile.image or "no fixed image"


def profile_range(lo: float, hi: float | None, pool: float) -> tuple[int, int]:
    top = pool if hi is None else min(hi, pool)
    return max(1, math.ceil(lo - EPS)), math.floor(top + EPS)


def match_accelerator(resource: str, accelerators: Mapping[str, int]) -> str | None:
    wanted = resource.strip().lower()
    return next((k for k in accelerators if k.lower() == wanted), None)


def image_name(name: str | None) -> str | None:
    """A Docker image name without the default registry and with an explicit tag."""
    if not name:
        return None
    image = name.strip()
    for prefix in (
        "docker.io/library/",
        "index.docker.io/library/",
        "docker.io/",
        "index.docker.io/",
    ):
        if image.startswith(prefix):
            image = image[len(prefix) :]
            break
    if image.startswith("library/") and image.count("/") == 1:
        image = image[len("library/") :]
    if "@" not in image and ":" not in image.rsplit("/", 1)[-1]:
        image += ":latest"
    return image


# -- time --------------------------------------------------------------------------------------


def ceil_second(value: datetime) -> datetime:
    return value if value.microsecond == 0 else value.replace(microsecond=0) + SECOND


def floor_second(value: datetime) -> datetime:
    return value.replace(microsecond=0)


def iso(value: timedelta) -> str:
    return format_duration(value)
