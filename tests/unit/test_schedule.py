"""ISO 8601 durations, instants and intervals as requests and offers write them (model/schedule.py)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from jupyterhub_execplanner.model.schedule import (
    OutOfRange,
    format_duration,
    format_instant,
    format_interval,
    parse_duration,
    parse_instant,
    parse_interval,
)

UTC = timezone.utc


def at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PT1H", timedelta(hours=1)),
        ("PT30M", timedelta(minutes=30)),
        ("PT30S", timedelta(seconds=30)),
        ("P1D", timedelta(days=1)),
        ("P1DT2H", timedelta(days=1, hours=2)),
        ("P1W", timedelta(days=7)),
        ("PT1H30M15S", timedelta(hours=1, minutes=30, seconds=15)),
        ("PT0.5S", timedelta(seconds=1)),  # a request's duration is rounded up to whole seconds
        ("PT1.2S", timedelta(seconds=2)),
        ("PT0.5H", timedelta(minutes=30)),
        ("pt2h", timedelta(hours=2)),
        (" PT1H ", timedelta(hours=1)),
        ("PT36H", timedelta(hours=36)),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("value", "error", "words"),
    [
        ("1H", ValueError, "ISO 8601 starts with P"),
        ("P1H", ValueError, "PT1H, not P1H"),
        ("1D", ValueError, "is not a duration"),
        ("P", ValueError, "is not a duration"),
        ("", ValueError, "is not a duration"),
        ("PT1X", ValueError, "is not a duration"),
        ("2026-12-01T10:00:00Z", ValueError, "is not a duration"),
        ("PT0S", OutOfRange, "is zero"),
        ("P0D", OutOfRange, "is zero"),
        ("-PT1H", OutOfRange, "is negative"),
        ("P1M", OutOfRange, "no fixed length"),  # months and years: refused, as in the settings
        ("P1Y", OutOfRange, "write days instead, e.g. P365D"),
        ("P99999999999999D", OutOfRange, "too long"),
        (3600, ValueError, "a request writes durations as ISO 8601 text"),
        ("3600", ValueError, "PT3600S"),
        (None, ValueError, "is not a duration"),
        ("P" + "1" * 200 + "D", ValueError, "is not a duration"),
    ],
)
def test_parse_duration_errors(value: object, error: type[Exception], words: str) -> None:
    with pytest.raises(error) as info:
        parse_duration(value)
    assert words in str(info.value)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(hours=1), "PT1H"),
        (timedelta(seconds=30), "PT30S"),
        (timedelta(days=1, hours=2), "P1DT2H"),
        (timedelta(days=2), "P2D"),
        (timedelta(0), "PT0S"),
        (timedelta(hours=1, minutes=30, seconds=5), "PT1H30M5S"),
        (timedelta(minutes=2, seconds=0.4), "PT2M0.4S"),  # fractions are kept
        (timedelta(seconds=59.6), "PT59.6S"),
        (timedelta(days=400), "P400D"),
    ],
)
def test_format_duration(value: timedelta, text: str) -> None:
    assert format_duration(value) == text


def test_format_duration_refuses_negative() -> None:
    with pytest.raises(ValueError, match="negative"):
        format_duration(timedelta(seconds=-5))


@pytest.mark.parametrize("text", ["PT1H", "PT30S", "P1DT2H", "PT2H45M10S", "P3D"])
def test_duration_round_trip(text: str) -> None:
    assert format_duration(parse_duration(text)) == text


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-12-01T22:00:00Z", at(2026, 12, 1, 22)),
        ("2026-12-01T22:00Z", at(2026, 12, 1, 22)),
        ("2026-12-01T23:00:00+01:00", at(2026, 12, 1, 22)),
        ("2026-12-01T22:00:00", at(2026, 12, 1, 22)),  # no zone: UTC
        ("2026-12-01", at(2026, 12, 1)),
        ("20261201T220000Z", at(2026, 12, 1, 22)),
        (datetime(2026, 12, 1, 22), at(2026, 12, 1, 22)),
        (date(2026, 12, 1), at(2026, 12, 1)),
    ],
)
def test_parse_instant(value: object, expected: datetime) -> None:
    parsed = parse_instant(value)
    assert parsed == expected
    assert parsed.utcoffset() == timedelta(0)


@pytest.mark.parametrize("value", ["tomorrow", "", "2026-13-45", "PT1H", 5, None, "12:00"])
def test_parse_instant_errors(value: object) -> None:
    with pytest.raises(ValueError):
        parse_instant(value)


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("2026-12-01T22:00:00Z/PT1H", at(2026, 12, 1, 22), at(2026, 12, 1, 23)),
        ("2026-12-01T22:00:00Z/2026-12-01T23:30:00Z", at(2026, 12, 1, 22), at(2026, 12, 1, 23, 30)),
        ("PT2H/2023-08-09", at(2023, 8, 8, 22), at(2023, 8, 9)),
        ("PT30M/2023-08-14T12:00:00Z", at(2023, 8, 14, 11, 30), at(2023, 8, 14, 12)),
        ("2023-08-09/PT2H", at(2023, 8, 9), at(2023, 8, 9, 2)),
        ("2023-08-09/2023-08-10", at(2023, 8, 9), at(2023, 8, 10)),
        ("2023-08-14T11:30Z", at(2023, 8, 14, 11, 30), at(2023, 8, 14, 11, 30)),
        ("2023-08-14T11:30Z/T12:00Z", at(2023, 8, 14, 11, 30), at(2023, 8, 14, 12)),
        ("2023-08-14T11:30Z/PT30M", at(2023, 8, 14, 11, 30), at(2023, 8, 14, 12)),
        ("2023-08-14T13:30+02:00/PT30M", at(2023, 8, 14, 11, 30), at(2023, 8, 14, 12)),
        ("2026-11-24T15:00:30Z/PT0S", at(2026, 11, 24, 15, 0, 30), at(2026, 11, 24, 15, 0, 30)),
        (" 2023-08-09 / PT2H ", at(2023, 8, 9), at(2023, 8, 9, 2)),
        (datetime(2026, 1, 2, 3, tzinfo=UTC), at(2026, 1, 2, 3), at(2026, 1, 2, 3)),
    ],
)
def test_parse_interval(text: object, start: datetime, end: datetime) -> None:
    parsed = parse_interval(text)
    assert parsed == (start, end)
    assert all(p.utcoffset() == timedelta(0) for p in parsed)


@pytest.mark.parametrize(
    ("text", "error", "words"),
    [
        ("2026-12-01T23:00:00Z/2026-12-01T22:00:00Z", OutOfRange, "ends before it starts"),
        ("2026-12-01T22:00:00Z/-PT1H", OutOfRange, "ends before it starts"),
        ("PT1H", ValueError, "is a duration, not a start time"),
        ("PT1H/PT2H", ValueError, "no start or end"),
        ("R5/2026-12-01T22:00:00Z/PT1H", ValueError, "repeats"),
        ("a/b/c", ValueError, "more than one '/'"),
        ("next tuesday", ValueError, "not an ISO 8601 date or time"),
        ("2026-12-01T22:00:00Z/1H", ValueError, "not an ISO 8601"),
        ("", ValueError, "not an ISO 8601 date or time"),
        (["2026-12-01"], ValueError, "must be an ISO 8601 string"),
        (None, ValueError, "must be an ISO 8601 string"),
        ("9999-12-31T23:00:00Z/P30D", OutOfRange, "beyond the calendar"),
    ],
)
def test_parse_interval_errors(text: object, error: type[Exception], words: str) -> None:
    with pytest.raises(error) as info:
        parse_interval(text)
    assert words in str(info.value)


@pytest.mark.parametrize(
    ("start", "duration", "text"),
    [
        (at(2026, 11, 24, 15, 0, 30), timedelta(0), "2026-11-24T15:00:30Z/PT0S"),
        (at(2026, 11, 24, 15), timedelta(hours=1), "2026-11-24T15:00:00Z/PT1H"),
        (
            datetime(2026, 11, 24, 16, 30, tzinfo=timezone(timedelta(hours=1))),
            timedelta(minutes=5),
            "2026-11-24T15:30:00Z/PT5M",
        ),
    ],
)
def test_format_interval(start: datetime, duration: timedelta, text: str) -> None:
    assert format_interval(start, duration) == text
    assert parse_interval(text) == (start, start + duration)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (at(2026, 1, 2, 3, 4, 5), "2026-01-02T03:04:05Z"),
        (datetime(2026, 1, 2, 3, 4, 5, 600, tzinfo=UTC), "2026-01-02T03:04:05.000600Z"),
        (datetime(2026, 1, 2, 3, 4, 5), "2026-01-02T03:04:05Z"),
    ],
)
def test_format_instant(value: datetime, text: str) -> None:
    assert format_instant(value) == text
    assert parse_instant(text) == value.replace(tzinfo=UTC)
