"""Who owns an offerset, a session or a snapshot: one key per hub user or service, never shared.

JupyterHub user names may contain almost any character, ``:`` included, so a user called
``service:planner`` and the service ``planner`` must not get the same key. The key of a user whose name
has no ``:`` is the name itself (as every earlier version stored it); any other owner's key is
``<kind>:<name>``: ``user:service:planner`` for that user, ``service:planner`` for the service. A key
without ``:`` is always a user; a key with one names its kind before the first ``:``.
"""

from __future__ import annotations

USER = "user"
SERVICE = "service"


def owner_key(kind: str, name: str) -> str:
    """The owner key of the hub ``kind`` (``user`` or ``service``) called ``name``."""
    if kind == USER and ":" not in name:
        return name
    return f"{kind}:{name}"


def parse_owner(key: str) -> tuple[str, str]:
    """``(kind, name)`` of an owner key made by :func:`owner_key`."""
    kind, sep, name = key.partition(":")
    if not sep:
        return USER, key
    return kind, name


def is_user(key: str) -> bool:
    """Whether the owner is a hub user (only a user can have a notebook server)."""
    return parse_owner(key)[0] == USER


def hub_name(key: str) -> str:
    """The owner's name on the hub (a user's name for ``/hub/api/users/<name>``)."""
    return parse_owner(key)[1]
