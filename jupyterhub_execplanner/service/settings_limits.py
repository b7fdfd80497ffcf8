"""Per-user limits: how much of the hub one user may hold or ask for, so no one can starve the others.

A part of :class:`~.settings.ExecPlanner`: set these as ``c.ExecPlanner.<name>`` or as keyword arguments
of ``setup_execplanner``. Each applies to every hub user and service on its own; the broker's admins
(the ``custom:execplanner:admin`` scope) have none. 0 turns a limit off.
"""

from __future__ import annotations

from typing import Any

from traitlets import Float, Int, TraitError, validate

from ..sessions.limits import Limits
from .traits import CONFIG_SECTION, Settings


class LimitSettings(Settings):
    """Per-user limits

    How much of the hub one user may hold or ask for, so no one can starve the others. Each applies
    to every hub user and service on its own; the broker's admins (the ``custom:execplanner:admin``
    scope) have none. 0 turns a limit off."""

    limit_open_offers = Int(
        20,
        help="""
        The most unexpired offers one user may hold (each holds capacity until it is accepted,
        rejected or expires). A request past it is answered ``result: NO`` naming this setting.
        Default: 20 (five requests of four offers). 0: no limit.
        """,
    ).tag(config=True)

    limit_sessions = Int(
        4,
        help="""
        The most accepted sessions one user may have that have not ended (ACCEPTED to RELEASING).
        Accepting one more, or ``POST direct``, is answered ``429`` with ``Retry-After`` (until the
        user's next session ends) and a message naming this setting. Default: 4. 0: no limit.
        """,
    ).tag(config=True)

    limit_core_hours = Float(
        512.0,
        help="""
        The most core-hours of this hub's capacity one user may hold from now on: every accepted
        session that has not ended, and of each set of open offers the largest (only one of them can
        be accepted), counted from now to its end. Offers that would pass it are left out of an
        answer; when none is left the answer is ``result: NO`` naming this setting. Default: 512
        (e.g. 8 cores for 64 hours). 0: no limit.
        """,
    ).tag(config=True)

    limit_requests_per_minute = Int(
        60,
        help="""
        The most requests that plan offers (``POST requests``, ``POST direct``, the 2023 ``POST
        request``) and snapshots (``POST snapshots``) one user may make in any 60 seconds, counted by
        this service in memory. Past it: ``429`` with ``Retry-After``. Default: 60. 0: no limit.
        """,
    ).tag(config=True)

    limit_snapshot_bytes = Int(
        100 * 1024 * 1024,
        help="""
        The most bytes of unexpired snapshots (``POST snapshots``, the notebooks the JupyterLab panel
        uploads to run elsewhere) one user may keep. Past it: ``429`` with ``Retry-After`` (until the
        user's oldest snapshot expires) and a message naming this setting; deleting snapshots frees
        room at once. Default: 100 MiB. 0: no limit.
        """,
    ).tag(config=True)

    @validate("limit_open_offers", "limit_sessions", "limit_requests_per_minute", "limit_snapshot_bytes")
    def _validate_count(self, proposal: Any) -> int:
        value = proposal.value
        if isinstance(value, bool) or value < 0:
            raise TraitError(
                f"{CONFIG_SECTION}.{proposal.trait.name} must be a whole number >= 0 (0: no limit), "
                f"not {value!r}"
            )
        return value

    @validate("limit_core_hours")
    def _validate_core_hours(self, proposal: Any) -> float:
        value = proposal.value
        if isinstance(value, bool) or value < 0 or value != value:
            raise TraitError(
                f"{CONFIG_SECTION}.limit_core_hours must be a number >= 0 (0: no limit), not {value!r}"
            )
        return float(value)

    def user_limits(self) -> Limits:
        """The limits as the session manager applies them."""
        return Limits(
            open_offers=self.limit_open_offers,
            sessions=self.limit_sessions,
            core_hours=self.limit_core_hours,
            requests_per_minute=self.limit_requests_per_minute,
            snapshot_bytes=self.limit_snapshot_bytes,
        )
