"""ISO 8601 durations, instants and intervals, as requests and offers write them.

Durations are whole seconds: a fraction of a second is rounded up. Years and months have no fixed
length in ISO 8601; we read a year as 365 days and a month as 30 days (a schedule needs a fixed
length). Instants without a zone are UTC; a date alone means 00:00Z that day. Every datetime
returned is timezone-aware UTC. Errors are ValueError with a sentence that says what to write
instead; :class:`OutOfRange` marks well-formed values that are not acceptable (zero or negative
durations, intervals that end before they start).
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime, timedelta, timezone

import isodate

from .messages import format_time, parse_time

_MAX_TEXT = 100
_DAYS_PER_YEAR = 365
_DAYS_PER_MONTH = 30


class OutOfRange(ValueError):
    """A well-formed ISO 8601 value that cannot be used (zero or negative, or ending too early)."""


def _duration(text: object) -> timedelta:
    """Parse any ISO 8601 duration, including zero and negative ones, to whole seconds."""
    if not isinstance(text, str):
        raise ValueError(
            f"a duration must be an ISO 8601 string such as PT1H, not {type(text).__name__}"
        )
    raw = text.strip()
    if len(raw) > _MAX_TEXT or not re.fullmatch(r"[+-]?P[0-9TYMWDHS.,]+", raw.upper()):
        raise ValueError(
            f"{raw[:_MAX_TEXT]!r} is not an ISO 8601 duration: write P, then T before hours, "
            "minutes and seconds, e.g. PT1H, PT30M, P1DT2H"
        )
    try:
        parsed = isodate.parse_duration(raw.upper())
        if isinstance(parsed, isodate.Duration):
            days = float(parsed.years) * _DAYS_PER_YEAR + float(parsed.months) * _DAYS_PER_MONTH
            parsed = parsed.tdelta + timedelta(days=days)
    except (OverflowError, ArithmeticError) as exc:
        raise OutOfRange(f"{raw!r} is too long a duration; give at most a few days") from exc
    except (isodate.ISO8601Error, ValueError) as exc:
        upper = raw.upper()
        hint = (
            " (hours, minutes and seconds come after a T: PT1H, not P1H)"
            if "T" not in upper and ("H" in upper or "S" in upper)
            else ""
        )
        raise ValueError(
            f"{raw!r} is not an ISO 8601 duration{hint}; write e.g. PT1H, PT30M or P1DT2H"
        ) from exc
    if not isinstance(parsed, timedelta):
        raise ValueError(f"{raw!r} is not an ISO 8601 duration; write e.g. PT1H")
    try:
        return timedelta(seconds=math.ceil(parsed.total_seconds()))
    except (OverflowError, ValueError) as exc:
        raise OutOfRange(f"{raw!r} is too long a duration; give at most a few days") from exc


def parse_duration(text: object) -> timedelta:
    """A positive ISO 8601 duration (``PT1H``, ``P1DT2H``) as a timedelta of whole seconds.

    Raises ValueError for malformed text ("1H", "P1H") and :class:`OutOfRange` for zero or negative.
    """
    value = _duration(text)
    if value <= timedelta(0):
        raise OutOfRange(
            f"the duration {str(text).strip()!r} is not positive; "
            "give a length of time such as PT1H"
        )
    return value


def format_duration(value: timedelta) -> str:
    """ISO 8601 for a timedelta of zero or more, to the second: PT1H, PT30S, P1DT2H, PT0S."""
    seconds = round(value.total_seconds())
    if seconds < 0:
        raise ValueError(f"cannot write a negative duration ({value})")
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    date_part = f"{days}D" if days else ""
    time_part = "".join(f"{n}{u}" for n, u in ((hours, "H"), (minutes, "M"), (secs, "S")) if n)
    if not date_part and not time_part:
        return "PT0S"
    return f"P{date_part}" + (f"T{time_part}" if time_part else "")


def format_instant(value: datetime) -> str:
    """An instant as ISO 8601 UTC with ``Z``: to the second, or to the microsecond if it has one."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    value = value.astimezone(timezone.utc)
    if value.microsecond:
        return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return format_time(value)


def parse_instant(value: object) -> datetime:
    """An ISO 8601 instant (or a date, meaning 00:00Z), timezone-aware UTC. Raises ValueError."""
    if isinstance(value, datetime):
        return (
            value.replace(tzinfo=timezone.utc)
            if value.tzinfo is None
            else value.astimezone(timezone.utc)
        )
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=timezone.utc)
    if not isinstance(value, str):
        raise ValueError(f"an instant must be an ISO 8601 string, not {type(value).__name__}")
    text = value.strip()
    if len(text) > _MAX_TEXT or not text[:1].isdigit():
        raise ValueError(f"{text[:_MAX_TEXT]!r} is not an ISO 8601 date or time")
    try:
        return parse_time(text)
    except (ValueError, OverflowError):
        pass
    try:
        if "T" in text.upper():
            return parse_instant(isodate.parse_datetime(text.upper()))
        return parse_instant(isodate.parse_date(text))
    except (isodate.ISO8601Error, ValueError, OverflowError, TypeError) as exc:
        raise ValueError(
            f"{text!r} is not an ISO 8601 date or time; write e.g. 2026-12-01T22:00:00Z"
        ) from exc


def _is_duration(text: str) -> bool:
    return text.lstrip("+-").upper().startswith("P")


def _short_end(start_text: str, end_text: str) -> str:
    """Complete an end like ``T12:00Z`` or ``12:00Z`` with the start's date."""
    day = start_text.upper().split("T", 1)[0]
    return f"{day}{end_text}" if end_text.upper().startswith("T") else f"{day}T{end_text}"


def parse_interval(value: object) -> tuple[datetime, datetime]:
    """An ISO 8601 interval as ``(start, end)``, timezone-aware UTC.

    Accepts ``start/end``, ``start/duration``, ``duration/end``, a bare instant (start == end),
    dates (``2023-08-09/PT2H``: a date is 00:00Z) and an end without a date
    (``2023-08-14T11:30Z/T12:00Z``).
    Raises ValueError (and :class:`OutOfRange` if the end is before the start).
    """
    if isinstance(value, (datetime, date)):
        instant = parse_instant(value)
        return instant, instant
    if not isinstance(value, str):
        raise ValueError(
            f"an interval must be an ISO 8601 string such as 2026-12-01T22:00:00Z/PT1H, "
            f"not {type(value).__name__}"
        )
    text = value.strip()
    if len(text) > 2 * _MAX_TEXT:
        raise ValueError("that interval is too long to be an ISO 8601 interval")
    if text.upper().startswith("R"):
        raise ValueError(f"{text!r} repeats; give one interval such as 2026-12-01T22:00:00Z/PT1H")
    parts = text.split("/")
    if len(parts) == 1:
        if _is_duration(text):
            raise ValueError(
                f"{text!r} is a duration, not a start time; "
                f"add the start: 2026-12-01T22:00:00Z/{text}"
            )
        instant = parse_instant(text)
        return instant, instant
    if len(parts) != 2:
        raise ValueError(f"{text!r} has more than one '/'; write start/end or start/duration")
    first, second = parts[0].strip(), parts[1].strip()
    try:
        if _is_duration(first) and _is_duration(second):
            raise ValueError(f"{text!r} has no start or end time; write start/duration")
        if _is_duration(first):
            end = parse_instant(second)
            start = end - _duration(first)
        elif _is_duration(second):
            start = parse_instant(first)
            end = start + _duration(second)
        else:
            start = parse_instant(first)
            if re.match(r"[Tt]|\d{2}:", second):
                second = _short_end(first, second)
            end = parse_instant(second)
    except OverflowError as exc:
        raise OutOfRange(f"{text!r} reaches beyond the calendar") from exc
    if end < start:
        raise OutOfRange(f"the interval {text!r} ends before it starts; put the earlier time first")
    return start, end


def format_interval(start: datetime, duration: timedelta) -> str:
    """``<start>/<duration>`` as offers write ``available.start``: ``2026-11-24T15:00:30Z/PT0S``."""
    return f"{format_time(start)}/{format_duration(duration)}"
