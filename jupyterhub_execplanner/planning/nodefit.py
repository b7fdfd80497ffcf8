"""Node fit and platform health: what caps a profile before planning (pure).

A session runs on one node. When the capacity provider can say which node best holds a request
(``node_fit``, the Kubernetes provider does), each profile is capped to that node's free amounts
before planning, so no offer is larger than what one node has free; and when the provider's figures
cannot be trusted (``health``), the request is answered NO with a PLATFORM message saying why.
Messages are stamped with the ``now`` the caller passes (the wall clock when it passes none).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from types import MappingProxyType

from ..model import messages as msg
from ..model.messages import Message
from ..model.request import ExecutionRequest
from ..platform.profiles import Profile, profile_label
from .eligibility import EPS, match_accelerator

# (pool, need, want) -> the free amounts of the node that best holds it; None: no node to say
NodeFit = Callable[[str, Mapping[str, float], Mapping[str, float]], "Mapping[str, float] | None"]


def platform_unavailable(reason: str, *, now: datetime | None = None) -> Message:
    return msg.error(
        msg.PLATFORM,
        "This hub cannot plan sessions now: ${reason}. Try again in a minute.",
        at=now,
        path="$",
        reason=reason,
    )


def fit_to_nodes(
    request: ExecutionRequest, profiles: Sequence[Profile], node_fit: NodeFit, *,
    now: datetime | None = None,
) -> tuple[list[Profile], list[Message]]:
    """Each profile capped to the free amounts of the node of its pool that best holds the request
    on it (at least the request's and the profile's minimum, as much of their maximum as it can),
    and a message for each profile whose minimum no node has free now."""
    compute = request.compute
    capped: list[Profile] = []
    short: list[Message] = []
    for p in profiles:
        need = {"cores": max(compute.cores.min, p.cores_min),
                "memory": max(compute.memory.min, p.memory_min)}
        want = {"cores": min(compute.cores.max, math.inf if p.cores_max is None else p.cores_max),
                "memory": min(compute.memory.max, math.inf if p.memory_max is None else p.memory_max)}
        for accel in compute.accelerators:
            key = match_accelerator(accel.resource, p.accelerators)
            if accel.count.max > 0 and key is not None:
                need[key] = need.get(key, 0) + accel.count.min
                want[key] = min(p.accelerators[key], want.get(key, 0) + accel.count.max)
        free = node_fit(p.pool, need, want)
        if free is None:
            capped.append(p)
            continue
        capped.append(replace(
            p,
            cores_max=min(free.get("cores", 0.0), math.inf if p.cores_max is None else p.cores_max),
            memory_max=min(free.get("memory", 0.0),
                           math.inf if p.memory_max is None else p.memory_max),
            accelerators=MappingProxyType(
                {k: min(v, math.floor(free.get(k, 0.0) + EPS)) for k, v in p.accelerators.items()}
            ),
        ))  # fmt: skip
        missing = [k for k, v in need.items() if free.get(k, 0.0) + EPS < v]
        if missing:
            short.append(msg.warn(
                msg.NO_CAPACITY,
                "Profile ${profile}: no node of its pool has ${need} free now (the node with the "
                "most has ${largest}); a session runs on one node.",
                at=now, path="compute",
                profile=profile_label(p),
                need=_amounts({k: need[k] for k in missing}),
                largest=_amounts({k: free.get(k, 0.0) for k in missing}),
            ))  # fmt: skip
    return capped, short


def _amounts(amounts: Mapping[str, float]) -> str:
    unit = {"cores": " cores", "memory": " GiB"}
    return ", ".join(f"{v:g}{unit.get(k, ' ' + k)}" for k, v in amounts.items())
