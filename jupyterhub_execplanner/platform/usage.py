"""What the hub's running servers hold, from the hub's user models (pure).

Servers this service started carry ``execplanner_session`` in their ``user_options`` and are already
in the calendar as sessions, so they are skipped here. Any other running or pending server holds the
guarantees of its ``profile`` user option when that names a known profile, else the configured
footprint.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..launch import SESSION_OPTION
from .profiles import Profile


def running_servers(users: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The server models of every user that are running or starting."""
    servers: list[Mapping[str, Any]] = []
    for user in users:
        for server in (user.get("servers") or {}).values():
            if isinstance(server, Mapping) and (server.get("ready") or server.get("pending")):
                servers.append(server)
    return servers


def external_usage(
    servers: Iterable[Mapping[str, Any]],
    profiles: Sequence[Profile],
    footprint: Mapping[str, float],
) -> dict[str, dict[str, float]]:
    """Pool -> resource -> amount held by servers this service did not start."""
    by_slug = {p.slug: p for p in profiles}
    default_pool = profiles[0].pool if profiles else "default"
    usage: dict[str, dict[str, float]] = {}
    for server in servers:
        options = server.get("user_options") or {}
        if not isinstance(options, Mapping) or options.get(SESSION_OPTION):
            continue
        profile = by_slug.get(str(options.get("profile", "")))
        if profile is not None:
            pool = profile.pool
            held = {
                "cores": profile.cores_min,
                "memory": profile.memory_min,
                **{k: float(v) for k, v in profile.accelerators.items()},
            }
            # a profile without guarantees still takes room: fall back to the footprint
            for key in ("cores", "memory"):
                if not held[key]:
                    held[key] = float(footprint.get(key, 0.0))
        else:
            pool, held = default_pool, dict(footprint)
        total = usage.setdefault(pool, {})
        for key, amount in held.items():
            total[key] = total.get(key, 0.0) + float(amount)
    return usage
