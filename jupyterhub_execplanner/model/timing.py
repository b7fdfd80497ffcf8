"""Time, with one set of rules: instants, durations and intervals.

The hub's settings (``c.ExecPlanner.*``), the ``execplanner`` block of a profile, the request parsers,
the ``execplanner`` command and the lab server all read time here, so they cannot disagree. Standard
library and isodate only: the preload in a session's server and the lab server import it too.

**Instants** are ISO 8601 date-times, extended or basic form (``2026-12-01T22:00:00Z``,
``20261201T220000Z``), or dates (00:00 that day); one without a zone is UTC. Every datetime returned
is timezone-aware UTC. :func:`format_instant` writes one to the second with ``Z``, the form offers
carry (``exact=True`` keeps microseconds, for a request echoed back).

**Durations** are

* seconds: a number (``300``, ``1.5``) or a string of one (``"300"``), in what an admin writes
  (settings, profiles) and in the command line and the lab panel; a request writes ISO 8601 text,
  as the standard says (``numbers=False``);
* ISO 8601: ``PT5M``, ``PT1H30M``, ``P1DT2H``, ``P2W`` (a week is 7 days), with a fraction in any
  unit (``PT1.5S``, ``PT0.5H``; a decimal comma too);
* never months or years: their length is not fixed (28 to 31 days; 365 or 366), and a schedule
  needs one. They are refused everywhere, with the number of days to write instead;
* exact: a fraction of a second is kept (``PT1.5S`` is 1.5 s). Where offers need whole seconds (a
  request's duration, preparation and releasing times, duration caps), :func:`whole_seconds` rounds
  up, so a rounded value is never shorter than the one asked for;
* above zero, unless the caller allows zero (``zero=True``: e.g. a setting where 0 means off).

:func:`format_duration` writes ISO 8601 with days, hours, minutes and seconds (``P1DT2H``,
``PT1.5S``, ``PT0S``).

**Intervals** are ``start/end``, ``start/duration``, ``duration/end``, a bare instant (start ==
end), with dates (``2023-08-09/PT2H``) and an end without a date (``2023-08-14T11:30Z/T12:00Z``).
:func:`format_interval` writes ``start/duration``.

Errors are :class:`TimeError` (a ValueError) whose message starts with the value and says what to
write instead; its ``reason`` is the message without the value, for callers that show the value
their own way. :class:`OutOfRange` marks a well-formed value that cannot be used (zero, negative,
months or years, too long, an interval that ends before it starts).
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime, timedelta, timezone
from typing import Any

import isodate

__all__ = [
    "SECOND",
    "UTC",
    "OutOfRange",
    "TimeError",
    "format_duration",
    "format_instant",
    "format_interval",
    "parse_duration",
    "parse_instant",
    "parse_interval",
    "parse_seconds",
    "utc",
    "whole_seconds",
]

UTC = timezone.utc
SECOND = timedelta(seconds=1)
MAX_TEXT = 100  # characters of an instant or a duration; longer text is not read
DAYS_PER_YEAR, DAYS_PER_MONTH = 365, 30  # only to suggest how many days to write instead

_NUMBER = r"\d+(?:[.,]\d+)?"
_ISO_DURATION = re.compile(
    rf"(?P<sign>[+-])?P(?=\d|T\d)(?:(?P<years>{_NUMBER})Y)?(?:(?P<months>{_NUMBER})M)?"
    rf"(?:(?P<weeks>{_NUMBER})W)?(?:(?P<days>{_NUMBER})D)?"
    rf"(?:T(?=\d)(?:(?P<hours>{_NUMBER})H)?(?:(?P<minutes>{_NUMBER})M)?(?:(?P<seconds>{_NUMBER})S)?)?"
)
_SECONDS = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")
ISO_EXAMPLES = "PT5M, PT1H30M, P1DT2H"


class TimeError(ValueError):
    """A value that is not a usable instant, duration or interval. The message is ``shown`` (the
    value, quoted) followed by ``reason`` (what is wrong and what to write instead)."""

    def __init__(self, shown: str, reason: str) -> None:
        super().__init__(f"{shown} {reason}")
        self.shown, self.reason = shown, reason


class OutOfRange(TimeError):
    """A well-formed value that cannot be used: zero or negative, in months or years, too long, or
    an interval that ends before it starts."""


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 4] + "...'"


# -- instants ---------------------------------------------------------------------------------------


def utc(value: datetime) -> datetime:
    """``value`` as timezone-aware UTC; a naive datetime is taken to be UTC already (what SQLite
    gives back for the UTC times stored in it)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _from_isoformat(text: str) -> datetime:
    if text[-1:] in ("Z", "z"):
        text = text[:-1] + "+00:00"
    text = re.sub(r"(\.\d{6})\d+", r"\1", text)  # fromisoformat before 3.11 reads 6 digits at most
    return datetime.fromisoformat(text)


def parse_instant(value: Any) -> datetime:
    """An ISO 8601 instant or date (00:00 that day), timezone-aware UTC. Raises :class:`TimeError`."""
    if isinstance(value, datetime):
        return utc(value)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    reason = "is not an ISO 8601 date or time: write e.g. 2026-12-01T22:00:00Z"
    if not isinstance(value, str):
        raise TimeError(_shown(value), reason)
    text = value.strip()
    if len(text) > MAX_TEXT or not text[:1].isdigit():
        raise TimeError(_shown(text), reason)
    try:
        return utc(_from_isoformat(text))
    except (ValueError, OverflowError):
        pass
    try:
        if "T" in text.upper():
            return utc(isodate.parse_datetime(text.upper()))
        return parse_instant(isodate.parse_date(text))
    except (isodate.ISO8601Error, ValueError, OverflowError, TypeError):
        raise TimeError(_shown(text), reason) from None


def format_instant(value: datetime, *, exact: bool = False) -> str:
    """ISO 8601 UTC with ``Z``, to the second (``2026-11-24T15:00:30Z``); ``exact``: with the
    microseconds when there are any. A naive datetime is taken to be UTC."""
    value = utc(value)
    if exact and value.microsecond:
        return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


# -- durations --------------------------------------------------------------------------------------


def _number(text: str | None) -> float:
    return float(text.replace(",", ".")) if text else 0.0


def _forms(numbers: bool) -> str:
    return f"seconds (300) or ISO 8601 ({ISO_EXAMPLES})" if numbers else f"ISO 8601 ({ISO_EXAMPLES})"


def _iso_hint(upper: str) -> str:
    if _SECONDS.fullmatch(upper) and not upper.startswith("-"):
        return f" (seconds are written PT{upper.lstrip('+')}S in ISO 8601)"
    if re.fullmatch(r"[+-]?\d+(?:[.,]\d+)?\s*[A-Z]+", upper):
        return " (ISO 8601 starts with P, and puts a T before hours, minutes and seconds: PT8H, P2D)"
    if upper.startswith("P") and "T" not in upper and re.search(r"\d[HS]", upper):
        return " (hours, minutes and seconds come after a T: PT1H, not P1H)"
    return ""


def _calendar_units(match: re.Match[str], shown: str) -> OutOfRange:
    years, months = _number(match["years"]), _number(match["months"])
    units = [u for u, n in (("years", years), ("months", months)) if n]
    lengths = {"years": "365 or 366 days", "months": "28 to 31 days"}
    days = years * DAYS_PER_YEAR + months * DAYS_PER_MONTH
    days += 7 * _number(match["weeks"]) + _number(match["days"])
    time_part = "".join(f"{match[g]}{u}" for g, u in (("hours", "H"), ("minutes", "M"), ("seconds", "S"))
                        if match[g])
    example = f"P{days:g}D" + (f"T{time_part}" if time_part else "")
    return OutOfRange(
        shown,
        f"counts {' and '.join(units)}, which have no fixed length "
        f"({'; '.join(lengths[u] for u in units)}): write days instead, e.g. {example}",
    )


def _iso(text: str, numbers: bool) -> timedelta:
    """The signed duration an ISO 8601 text stands for (months and years refused)."""
    raw = text.strip()
    shown = _shown(raw)
    upper = raw.upper()
    match = _ISO_DURATION.fullmatch(upper) if len(upper) <= MAX_TEXT else None
    if match is None:
        raise TimeError(shown, f"is not a duration{_iso_hint(upper)}: write {_forms(numbers)}")
    if _number(match["years"]) or _number(match["months"]):
        raise _calendar_units(match, shown)
    try:
        value = timedelta(
            weeks=_number(match["weeks"]),
            days=_number(match["days"]),
            hours=_number(match["hours"]),
            minutes=_number(match["minutes"]),
            seconds=_number(match["seconds"]),
        )
    except OverflowError:
        raise OutOfRange(shown, "is too long a duration") from None
    return -value if match["sign"] == "-" else value


def _signed(value: Any, numbers: bool) -> timedelta:
    if isinstance(value, timedelta):
        return value
    seconds: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        if not numbers:
            reason = f"is not a duration: a request writes durations as ISO 8601 text ({ISO_EXAMPLES})"
            raise TimeError(_shown(value), reason)
        seconds = float(value)
    elif isinstance(value, str) and numbers and _SECONDS.fullmatch(value.strip()):
        seconds = float(value.strip())
    elif isinstance(value, str):
        return _iso(value, numbers)
    else:
        raise TimeError(_shown(value), f"is not a duration: write {_forms(numbers)}")
    if math.isnan(seconds):
        raise TimeError(_shown(value), f"is not a duration: write {_forms(numbers)}")
    try:
        return timedelta(seconds=seconds)
    except OverflowError:
        raise OutOfRange(_shown(value), "is too long a duration") from None


def parse_duration(value: Any, *, numbers: bool = True, zero: bool = False) -> timedelta:
    """A length of time: a timedelta, seconds (a number or a string of one; not with
    ``numbers=False``) or ISO 8601 text, exact to the microsecond. Above zero (``zero``: or zero).
    Raises :class:`TimeError`, :class:`OutOfRange` for a value that is well-formed but not usable."""
    result = _signed(value, numbers)
    shown = _shown(value.strip() if isinstance(value, str) else value)
    if result < timedelta(0):
        raise OutOfRange(shown, "is negative: give a length of time, such as PT5M")
    if result == timedelta(0) and not zero:
        raise OutOfRange(shown, "is zero: give a length of time above zero, such as PT5M")
    return result


def parse_seconds(value: Any, *, zero: bool = False) -> float:
    """:func:`parse_duration` in seconds; a number given as seconds is returned as it is."""
    delta = parse_duration(value, zero=zero)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return delta.total_seconds()


def whole_seconds(value: timedelta) -> timedelta:
    """``value`` rounded up to whole seconds (offers carry whole seconds)."""
    return -((-value) // SECOND) * SECOND


def format_duration(value: timedelta | float) -> str:
    """ISO 8601 for a length of time of zero or more (a timedelta, or seconds): ``PT1H``, ``PT30S``,
    ``P1DT2H``, ``PT1.5S``, ``PT0S``; a fraction of a second is kept (to the microsecond)."""
    if not isinstance(value, timedelta):
        value = timedelta(seconds=value)
    if value < timedelta(0):
        raise ValueError(f"cannot write a negative duration ({value})")
    days, rest = value.days, value.seconds
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    seconds = f"{secs}.{value.microseconds:06d}".rstrip("0").rstrip(".") if value.microseconds else str(secs)
    date_part = f"{days}D" if days else ""
    time_part = "".join(
        f"{n}{u}" for n, u in ((hours, "H"), (minutes, "M"), (seconds, "S")) if n not in (0, "0")
    )
    if not date_part and not time_part:
        return "PT0S"
    return f"P{date_part}" + (f"T{time_part}" if time_part else "")


# -- intervals --------------------------------------------------------------------------------------

INTERVAL_EXAMPLE = "2026-12-01T22:00:00Z/PT1H"


def _is_duration(text: str) -> bool:
    return text.lstrip("+-").upper().startswith("P")


def _short_end(start_text: str, end_text: str) -> str:
    """Complete an end like ``T12:00Z`` or ``12:00Z`` with the start's date."""
    day = start_text.upper().split("T", 1)[0]
    return f"{day}{end_text}" if end_text.upper().startswith("T") else f"{day}T{end_text}"


def parse_interval(value: Any) -> tuple[datetime, datetime]:
    """An ISO 8601 interval as ``(start, end)``, timezone-aware UTC (see the module's docstring).
    Raises :class:`TimeError`, :class:`OutOfRange` if the end is before the start."""
    if isinstance(value, datetime | date):
        instant = parse_instant(value)
        return instant, instant
    if not isinstance(value, str):
        raise TimeError(
            _shown(value), f"is not an interval: it must be an ISO 8601 string such as {INTERVAL_EXAMPLE}"
        )
    text = value.strip()
    shown = _shown(text)
    if len(text) > 2 * MAX_TEXT:
        raise TimeError(shown, "is too long to be an ISO 8601 interval")
    if text.upper().startswith("R"):
        raise TimeError(shown, f"repeats; give one interval such as {INTERVAL_EXAMPLE}")
    parts = text.split("/")
    if len(parts) == 1:
        if _is_duration(text):
            reason = f"is a duration, not a start time; add the start: 2026-12-01T22:00:00Z/{text}"
            raise TimeError(shown, reason)
        instant = parse_instant(text)
        return instant, instant
    if len(parts) != 2:
        raise TimeError(shown, "has more than one '/'; write start/end or start/duration")
    first, second = parts[0].strip(), parts[1].strip()
    try:
        if _is_duration(first) and _is_duration(second):
            raise TimeError(shown, "has no start or end time; write start/duration")
        if _is_duration(first):
            end = parse_instant(second)
            start = end - _iso(first, numbers=False)
        elif _is_duration(second):
            start = parse_instant(first)
            end = start + _iso(second, numbers=False)
        else:
            start = parse_instant(first)
            if re.match(r"[Tt]|\d{2}:", second):
                second = _short_end(first, second)
            end = parse_instant(second)
    except OverflowError:
        raise OutOfRange(shown, "reaches beyond the calendar") from None
    if end < start:
        raise OutOfRange(shown, "ends before it starts; put the earlier time first")
    return start, end


def format_interval(start: datetime, duration: timedelta) -> str:
    """``<start>/<duration>``, as offers write ``available.start``: ``2026-11-24T15:00:30Z/PT0S``."""
    return f"{format_instant(start)}/{format_duration(duration)}"
