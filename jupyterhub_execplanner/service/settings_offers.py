"""Offers and their schedule: how many, how long they hold, and the times a session is planned with.

A part of :class:`~.settings.ExecPlanner`: set these as ``c.ExecPlanner.<name>`` or as keyword arguments
of ``setup_execplanner``. Every duration is seconds (``300``, ``"300"``) or ISO 8601 (``"PT5M"``; no
months or years, whose length is not fixed): see :mod:`~jupyterhub_execplanner.model.timing`."""

from __future__ import annotations

from typing import Any

from traitlets import Int, TraitError, validate

from .traits import CONFIG_SECTION, Duration, Settings


class OfferSettings(Settings):
    """Offers and their schedule

    How many offers a request gets and how long each holds its reservation; the durations a session
    is planned with (offers carry whole seconds: these are rounded up); the calendar they are planned
    on."""

    max_offers = Int(
        4,
        help="""
        The most offers one request gets (1-50). Offers are sorted by earliest start, then best fit.
        """,
    ).tag(config=True)

    offer_expiry = Duration(
        300,
        whole=True,
        help="""
        How long an offer stays valid (e.g. ``300`` or ``'PT5M'``). An offer reserves its resources
        until it expires, is rejected, or a sibling is accepted; then it is EXPIRED and the capacity
        is free again. Default: 300 seconds, as the standard's reference broker.
        """,
    ).tag(config=True)

    default_duration = Duration(
        3600,
        whole=True,
        help="""
        How long a session runs when the request gives no ``schedule.requested.duration``.
        Default: one hour.
        """,
    ).tag(config=True)

    max_duration = Duration(
        86400,
        whole=True,
        help="""
        The longest session this hub offers; a profile may set a shorter one in
        ``execplanner.max_duration``. A request for longer gets NO with a message naming the limit.
        Default: 24 hours.
        """,
    ).tag(config=True)

    prepare_time = Duration(
        30,
        zero=True,
        whole=True,
        help="""
        The default time it takes to start a server: the preparing phase before an offer's start. A
        profile may set its own in ``execplanner.prepare``. 0: none. Default: 30 seconds.
        """,
    ).tag(config=True)

    releasing_time = Duration(
        10,
        whole=True,
        help="The time it takes to stop a server after its session ends. Default: 10 seconds.",
    ).tag(config=True)

    planning_horizon = Duration(
        7 * 86400,
        help="How far ahead the calendar plans. Default: 7 days.",
    ).tag(config=True)

    calendar_resolution = Duration(
        60,
        help="""
        The calendar's time step. Reservations are rounded outward to whole steps, so a slot is
        never oversubscribed. Default: 60 seconds.
        """,
    ).tag(config=True)

    @validate("max_offers")
    def _validate_max_offers(self, proposal: Any) -> int:
        if not 1 <= proposal.value <= 50:
            raise TraitError(
                f"{CONFIG_SECTION}.max_offers must be between 1 and 50, not {proposal.value}"
            )
        return proposal.value
