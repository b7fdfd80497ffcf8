"""model/timing.py: instants, durations and intervals, the one set of rules.

The rules as the settings, the profiles and the requests apply them are one table in
tests/unit/test_time_rules.py; here, the module's own functions.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from jupyterhub_execplanner.model import timing
from jupyterhub_execplanner.model.timing import (
    OutOfRange,
    TimeError,
    format_duration,
    format_instant,
    parse_duration,
    parse_instant,
    parse_interval,
    parse_seconds,
    utc,
    whole_seconds,
)

UTC = timezone.utc
PLUS_TWO = timezone(timedelta(hours=2))


def at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


# -- instants ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (datetime(2026, 1, 2, 3), at(2026, 1, 2, 3)),  # naive: UTC already (as SQLite gives it back)
        (datetime(2026, 1, 2, 5, tzinfo=PLUS_TWO), at(2026, 1, 2, 3)),  # converted, not relabelled
        (at(2026, 1, 2, 3), at(2026, 1, 2, 3)),
    ],
)
def test_utc(value: datetime, expected: datetime) -> None:
    assert utc(value) == expected and utc(value).tzinfo is UTC


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-12-01T22:00:00Z", at(2026, 12, 1, 22)),
        ("2026-12-01t22:00:00z", at(2026, 12, 1, 22)),
        ("2026-12-01T22:00Z", at(2026, 12, 1, 22)),
        ("2026-12-02T00:00:00+02:00", at(2026, 12, 1, 22)),
        ("2026-12-01T22:00:00", at(2026, 12, 1, 22)),  # no zone: UTC
        ("2026-12-01", at(2026, 12, 1)),  # a date: 00:00 that day
        ("20261201T220000Z", at(2026, 12, 1, 22)),  # the basic form
        ("2026-12-01T22:00:00.1234567Z", datetime(2026, 12, 1, 22, 0, 0, 123456, tzinfo=UTC)),
        (date(2026, 12, 1), at(2026, 12, 1)),
    ],
)
def test_parse_instant(value: object, expected: datetime) -> None:
    parsed = parse_instant(value)
    assert parsed == expected and parsed.tzinfo is UTC


@pytest.mark.parametrize("value", ["tomorrow", "", "2026-13-45", "PT1H", "12:00", 5, None, "2" * 200])
def test_parse_instant_refuses(value: object) -> None:
    with pytest.raises(TimeError, match="is not an ISO 8601 date or time: write e.g. 2026-12-01T22:00:00Z"):
        parse_instant(value)


def test_format_instant_is_to_the_second_with_z() -> None:
    value = datetime(2026, 1, 2, 5, 4, 5, 600, tzinfo=PLUS_TWO)
    assert format_instant(value) == "2026-01-02T03:04:05Z"
    assert format_instant(value, exact=True) == "2026-01-02T03:04:05.000600Z"
    assert format_instant(datetime(2026, 1, 2, 3, 4, 5), exact=True) == "2026-01-02T03:04:05Z"


# -- durations --------------------------------------------------------------------------------------


def test_a_request_writes_iso_8601_text_only() -> None:
    assert parse_duration("PT5M", numbers=False) == timedelta(minutes=5)
    for value in (300, 1.5):
        with pytest.raises(TimeError, match="a request writes durations as ISO 8601 text"):
            parse_duration(value, numbers=False)
    with pytest.raises(TimeError, match=r"seconds are written PT300S in ISO 8601"):
        parse_duration("300", numbers=False)


def test_zero_only_when_allowed() -> None:
    assert parse_duration("PT0S", zero=True) == parse_duration(0, zero=True) == timedelta(0)
    with pytest.raises(OutOfRange, match="is zero"):
        parse_duration("PT0S")


def test_a_timedelta_is_taken_as_it_is() -> None:
    assert parse_duration(timedelta(minutes=5)) == timedelta(minutes=5)


def test_errors_carry_the_value_and_the_reason() -> None:
    with pytest.raises(TimeError) as info:
        parse_duration("P1M")
    assert isinstance(info.value, OutOfRange) and isinstance(info.value, ValueError)
    assert info.value.shown == "'P1M'"
    assert info.value.reason.startswith("counts months, which have no fixed length (28 to 31 days)")
    assert str(info.value) == f"'P1M' {info.value.reason}"


@pytest.mark.parametrize(
    ("text", "instead"),
    [("P1M", "P30D"), ("P1Y", "P365D"), ("P1Y2M3DT4H", "P428DT4H"), ("P1MT30M", "P30DT30M"),
     ("P2M1W", "P67D")],
)
def test_months_and_years_say_how_many_days_to_write_instead(text: str, instead: str) -> None:
    with pytest.raises(OutOfRange, match=f"write days instead, e.g. {instead}$"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [(300, 300.0), (1.5, 1.5), ("300", 300.0), ("PT1.5S", 1.5), ("P1D", 86400.0), (0.1, 0.1)],
)
def test_parse_seconds(value: object, seconds: float) -> None:
    assert parse_seconds(value) == seconds


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (timedelta(seconds=1.5), timedelta(seconds=2)),
        (timedelta(seconds=2), timedelta(seconds=2)),
        (timedelta(microseconds=1), timedelta(seconds=1)),
        (timedelta(0), timedelta(0)),
        (timedelta(days=1, microseconds=1), timedelta(days=1, seconds=1)),
    ],
)
def test_whole_seconds_rounds_up(value: timedelta, expected: timedelta) -> None:
    assert whole_seconds(value) == expected


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(hours=1), "PT1H"),
        (timedelta(days=1, hours=2), "P1DT2H"),
        (timedelta(days=14), "P14D"),
        (timedelta(0), "PT0S"),
        (timedelta(seconds=1.5), "PT1.5S"),
        (timedelta(minutes=1, microseconds=250), "PT1M0.00025S"),
        (90, "PT1M30S"),
        (0.5, "PT0.5S"),
    ],
)
def test_format_duration(value: timedelta | float, text: str) -> None:
    assert format_duration(value) == text
    expected = value if isinstance(value, timedelta) else timedelta(seconds=value)
    assert parse_duration(text, zero=True) == expected


# -- intervals --------------------------------------------------------------------------------------


def test_an_interval_follows_the_duration_rules() -> None:
    assert parse_interval("2026-12-01T22:00:00Z/PT1.5S") == (at(2026, 12, 1, 22), datetime(
        2026, 12, 1, 22, 0, 1, 500000, tzinfo=UTC))
    with pytest.raises(OutOfRange, match="'P1M' counts months"):
        parse_interval("2026-12-01T22:00:00Z/P1M")
    with pytest.raises(TimeError, match="has no start or end time"):
        parse_interval("PT1H/PT300S")


def test_the_module_needs_only_the_standard_library_and_isodate() -> None:
    """The preload and the lab server import it: nothing of the package, nothing heavy."""
    import ast
    from pathlib import Path

    tree = ast.parse(Path(timing.__file__).read_text())
    imported = {
        (node.module or "").split(".")[0] if isinstance(node, ast.ImportFrom) else alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert imported <= {"__future__", "math", "re", "datetime", "typing", "isodate"}
