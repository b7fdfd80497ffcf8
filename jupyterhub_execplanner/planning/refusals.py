"""The summaries of a NO: what the request asked against what the hub has, when no profile is
eligible (:func:`summaries`) or eligible profiles have no room in the window (:func:`no_room`).
Pure, like the rest of the planner (every message is stamped with the ``now`` it is given); the
per-profile reasons are in :mod:`.eligibility`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime

from ..model import messages as msg
from ..model.messages import Message
from ..model.request import ExecutionRequest
from ..platform.calendar import Calendar
from ..platform.profiles import Profile, profile_label
from .eligibility import (
    DOCKER,
    EPS,
    Fit,
    iso,
    match_accelerator,
    offered_images,
    profile_range,
    runs_image,
)
from .holders import Holder, room_held
from .policy import PlannerPolicy


def summaries(
    request: ExecutionRequest,
    profiles: Sequence[Profile],
    calendar: Calendar,
    policy: PlannerPolicy,
    *,
    now: datetime,
) -> list[Message]:
    """Why no profile of the hub is eligible, as a whole (the per-profile reasons follow)."""
    out: list[Message] = []
    exe, compute = request.executable, request.compute
    if exe.kind == DOCKER and not any(runs_image(p, exe.image) for p in profiles):
        images = sorted({offered_images(p) for p in profiles if p.image or p.unlisted_image})
        out.append(
            msg.error(
                msg.NOT_SUPPORTED,
                "No profile of this hub runs ${image}; it runs ${images}.",
                at=now,
                path="executable.image",
                image=exe.image,
                images=", ".join(images) or "no fixed images",
            )
        )
    pooled = [(p, calendar.pool_totals(p.pool)) for p in profiles if p.pool in calendar.pools]
    if not pooled:
        return [
            *out,
            msg.error(msg.PLATFORM, "No profile of this hub has capacity configured.", at=now, path="$"),
        ]
    for what, req, unit in (("cores", compute.cores, "cores"), ("memory", compute.memory, "GiB")):
        ranges = [
            profile_range(getattr(p, f"{what}_min"), getattr(p, f"{what}_max"), t.get(what, 0.0))
            for p, t in pooled
        ]
        largest, smallest = max(r[1] for r in ranges), min(r[0] for r in ranges)
        if req.min > largest:
            out.append(
                msg.error(
                    msg.RESOURCE_LIMIT,
                    "No profile of this hub offers ${requested} ${unit}; the largest offers "
                    "${largest}. Lower ${path}.",
                    at=now,
                    path=f"compute.{what}.min",
                    requested=req.min,
                    unit=unit,
                    largest=largest,
                )
            )
        elif req.max < smallest:
            out.append(
                msg.error(
                    msg.RESOURCE_LIMIT,
                    "Every profile of this hub gives at least ${smallest} ${unit}; raise ${path} "
                    "(${requested}) to at least ${smallest}.",
                    at=now,
                    path=f"compute.{what}.max",
                    requested=req.max,
                    unit=unit,
                    smallest=smallest,
                )
            )
    names = sorted({name for p, _ in pooled for name in p.accelerators})
    wants = any(a.count.max > 0 for a in compute.accelerators)
    if not wants and all(p.accelerators for p, _ in pooled):
        out.append(
            msg.error(
                msg.NOT_SUPPORTED,
                "Every profile of this hub has accelerators (${names}); ask for one in ${path}.",
                at=now,
                path="compute.accelerators",
                names=", ".join(names),
            )
        )
    for i, accel in enumerate(compute.accelerators):
        if accel.count.max <= 0:
            continue
        counts = [
            min(p.accelerators[k], math.floor(t.get(k, 0.0) + EPS))
            for p, t in pooled
            if (k := match_accelerator(accel.resource, p.accelerators)) is not None
        ]
        if not counts:
            out.append(
                msg.error(
                    msg.NOT_SUPPORTED,
                    "No profile of this hub has the accelerator ${resource}; it has ${names}.",
                    at=now,
                    path=f"compute.accelerators[{i}].resource",
                    resource=accel.resource,
                    names=", ".join(names) or "none",
                )
            )
        elif accel.count.min > max(counts):
            out.append(
                msg.error(
                    msg.RESOURCE_LIMIT,
                    "No profile of this hub offers ${requested} ${resource}; the largest offers "
                    "${largest}.",
                    at=now,
                    path=f"compute.accelerators[{i}].count.min",
                    requested=accel.count.min,
                    resource=accel.resource,
                    largest=max(counts),
                )
            )
    duration = request.schedule.duration
    caps = [min(policy.max_duration, p.max_duration or policy.max_duration) for p in profiles]
    if duration is not None and duration > max(caps):
        out.append(
            msg.error(
                msg.SCHEDULE,
                "No profile of this hub runs a session for ${duration}; the longest is ${limit}. "
                "Shorten ${path}.",
                at=now,
                path="schedule.requested.duration",
                duration=iso(duration),
                limit=iso(max(caps)),
            )
        )
    if not out:
        out.append(
            msg.error(
                msg.NOT_SUPPORTED,
                "No profile of this hub can run this request; the messages that follow say why "
                "for each profile.",
                at=now,
                path="$",
            )
        )
    return out


def no_room(
    request: ExecutionRequest, fits: list[Fit], calendar: Calendar, policy: PlannerPolicy, *,
    now: datetime, holders: Sequence[Holder] = (),
) -> list[Message]:
    """Eligible profiles, but no free slot in the start window; ``holders``: what holds the room."""
    horizon = calendar.horizon_end
    endless = any(h.until is None for h in holders)
    out = [
        msg.error(
            msg.NO_CAPACITY,
            "This hub has no room for the request with a start between ${earliest} and "
            "${latest}; ${advice}",
            at=now,
            path="schedule.requested.start",
            earliest=min(f.earliest for f in fits),
            latest=max(f.latest for f in fits),
            advice=("running servers with no end hold room (see below): a later start helps only once "
                    "they stop."
                    if endless else
                    "try a later or wider start window, a shorter duration or fewer resources."),
        )
    ]
    for pool in dict.fromkeys(f.profile.pool for f in fits):
        held = room_held(holders, pool, calendar.pool_totals(pool), now=now)
        if held is not None:
            out.append(held)
    for fit in fits:
        if fit.earliest + fit.duration + policy.releasing > horizon:
            out.append(
                msg.warn(
                    msg.SCHEDULE,
                    "Profile ${profile} could start at ${earliest}, but this hub plans only up to "
                    "${horizon}.",
                    at=now,
                    path="schedule.requested.start",
                    profile=profile_label(fit.profile),
                    earliest=fit.earliest,
                    horizon=horizon,
                )
            )
            continue
        need = [
            (f"{n} core{'' if n == 1 else 's'}" if k == "cores"
             else f"{n} GiB" if k == "memory" else f"{n} {k}")
            for k, n in fit.need(False).items()
        ]
        out.append(
            msg.warn(
                msg.NO_CAPACITY,
                "Profile ${profile} has no room for ${need} for ${duration} with a start between "
                "${earliest} and ${latest}.",
                at=now,
                path="compute",
                profile=profile_label(fit.profile),
                need=", ".join(need),
                duration=iso(fit.duration),
                earliest=fit.earliest,
                latest=fit.latest,
            )
        )
    return out


