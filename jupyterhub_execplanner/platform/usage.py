"""What the hub's running servers hold, from the hub's user models (pure).

The calendar already holds the servers of this broker's sessions in flight (their reservations), so
exactly those are skipped: the ``(hub user name, server name)`` pairs of
:meth:`~jupyterhub_execplanner.sessions.manager.SessionManager.held_servers`. Every other running or
pending server holds capacity, whatever its ``user_options`` say (a user may replay a session's
options, or start a server with them by hand):

- a server whose ``profile`` option names a known profile holds that profile's guarantees (the
  footprint where the profile guarantees no cores or memory), in the profile's pool;
- a server whose options carry a launch (``execplanner_launch``) holds the launch's cores, memory and
  accelerators, but never less than the above: the options are the user's to write, so they are
  trusted to say a server is bigger, never smaller;
- any other server holds the configured footprint, in the first profile's pool.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from ..launch import LAUNCH_OPTION
from .profiles import Profile

Usage = dict[str, dict[str, float]]  # pool -> resource -> amount


class RunningServer(NamedTuple):
    """A running or starting server, as the hub's user model shows it."""

    user: str  # the hub user's name
    name: str  # the server's name ("" for the default server)
    options: Mapping[str, Any]  # its user_options


def running_servers(users: Iterable[Any]) -> list[RunningServer]:
    """Every server of ``users`` (the hub's user models, JSON objects) that is running or starting,
    once each (pages read while users start and stop servers may show a user twice). Anything that
    is not a user model with a ``servers`` object is left out."""
    found: dict[tuple[str, str], RunningServer] = {}
    for user in users:
        servers = user.get("servers") if isinstance(user, dict) else None
        if not isinstance(servers, dict):
            continue
        owner = str(user.get("name", ""))
        for key, server in servers.items():
            if not isinstance(server, dict) or not (server.get("ready") or server.get("pending")):
                continue
            name = str(server.get("name", key) or "")
            options = server.get("user_options")
            found[(owner, name)] = RunningServer(owner, name, options if isinstance(options, dict) else {})
    return list(found.values())


def _amount(value: Any) -> float | None:
    """A usable amount (a finite number >= 0), or None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) and value >= 0 else None


def _profile_for(options: Mapping[str, Any], by_slug: Mapping[str, list[Profile]]) -> Profile | None:
    """The profile the options start: the alternative whose option choices they all make (KubeSpawner
    profiles with ``profile_options`` are one alternative per choice), else the slug's first."""
    candidates = by_slug.get(str(options.get("profile", "")))
    if not candidates:
        return None
    for profile in candidates:
        if all(options.get(name) == choice for name, choice in profile.options.items()):
            return profile
    return candidates[0]


def _launch_amounts(launch: Any) -> dict[str, float]:
    """The cores, memory and accelerators a launch in ``user_options`` names (what it says is
    malformed is left out)."""
    if not isinstance(launch, Mapping):
        return {}
    amounts: dict[str, float] = {}
    for key in ("cores", "memory"):
        value = _amount(launch.get(key))
        if value is not None:
            amounts[key] = value
    accelerators = launch.get("accelerators")
    if isinstance(accelerators, Mapping):
        for name, count in accelerators.items():
            value = _amount(count)
            if value is not None:
                amounts[str(name)] = value
    return amounts


def server_holds(
    options: Mapping[str, Any],
    by_slug: Mapping[str, list[Profile]],
    default_pool: str,
    footprint: Mapping[str, float],
) -> tuple[str, dict[str, float]]:
    """``(pool, resource -> amount)`` that one server started with ``options`` holds."""
    profile = _profile_for(options, by_slug)
    if profile is not None:
        pool = profile.pool
        held = {
            "cores": float(profile.cores_min) or float(footprint.get("cores", 0.0)),
            "memory": float(profile.memory_min) or float(footprint.get("memory", 0.0)),
            **{str(k): float(v) for k, v in profile.accelerators.items()},
        }
    else:
        pool, held = default_pool, {str(k): float(v) for k, v in footprint.items()}
    for key, amount in _launch_amounts(options.get(LAUNCH_OPTION)).items():
        held[key] = max(held.get(key, 0.0), amount)
    return pool, held


def external_usage(
    servers: Iterable[RunningServer],
    profiles: Sequence[Profile],
    footprint: Mapping[str, float],
    held: frozenset[tuple[str, str]] | set[tuple[str, str]] = frozenset(),
    each: list[tuple[str, str, Mapping[str, float]]] | None = None,
) -> Usage:
    """Pool -> resource -> amount held by the running ``servers`` other than the ``held`` ones
    (``(user, server name)`` pairs whose capacity the calendar already holds). ``each``, when given,
    gets ``(user, pool, resource -> amount)`` of every such server, for a NO that says what holds
    the room (summed only then: a large hub's read stays cheap)."""
    by_slug: dict[str, list[Profile]] = {}
    for profile in profiles:
        by_slug.setdefault(profile.slug, []).append(profile)
    default_pool = profiles[0].pool if profiles else "default"
    usage: Usage = {}
    # most servers have no options, or only a profile: what those hold is worked out once
    simple: dict[str, tuple[str, dict[str, float]]] = {}
    for server in servers:
        if (server.user, server.name) in held:
            continue
        options = server.options
        key = _simple_key(options)
        if key is None:
            pool, amounts = server_holds(options, by_slug, default_pool, footprint)
        else:
            if key not in simple:
                simple[key] = server_holds(options, by_slug, default_pool, footprint)
            pool, amounts = simple[key]
        total = usage.setdefault(pool, {})
        for name, amount in amounts.items():
            total[name] = total.get(name, 0.0) + amount
        if each is not None:
            each.append((server.user, pool, amounts))
    return usage


def _simple_key(options: Mapping[str, Any]) -> str | None:
    """A key for options that are empty or name only a profile (what they hold depends on nothing
    else); None for any other options."""
    if not options:
        return ""
    if len(options) == 1:
        profile = options.get("profile")
        if isinstance(profile, str):
            return "profile:" + profile
    return None
