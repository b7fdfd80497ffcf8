"""Time as requests and offers write it: the rules of :mod:`.timing`, applied to the standard's
documents.

A request's durations are ISO 8601 text (``PT1H``; never seconds as a number, never months or
years), above zero, and rounded up to whole seconds (an offer's schedule is in whole seconds, and a
rounded duration is never shorter than the one asked for). A request's instants are echoed back
exactly (to the microsecond); offers write instants to the second. Errors are
:class:`~.timing.TimeError` (a ValueError) and :class:`~.timing.OutOfRange`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from . import timing
from .timing import OutOfRange, TimeError, format_duration, format_interval, parse_instant, parse_interval

__all__ = [
    "OutOfRange",
    "TimeError",
    "format_duration",
    "format_instant",
    "format_interval",
    "parse_duration",
    "parse_instant",
    "parse_interval",
]


def parse_duration(value: Any) -> timedelta:
    """A request's duration: positive ISO 8601 text, rounded up to whole seconds."""
    return timing.whole_seconds(timing.parse_duration(value, numbers=False))


def format_instant(value: datetime) -> str:
    """An instant of a request, echoed: to the second, or to the microsecond if it has one."""
    return timing.format_instant(value, exact=True)
