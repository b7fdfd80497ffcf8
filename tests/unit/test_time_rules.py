"""One table of durations, read by every reader of time: the settings (every ``Duration`` of
``c.ExecPlanner`` and ``c.ExecPlannerLab``), a profile's ``execplanner`` block, the v1.0 and 2023
request parsers and the ``execplanner`` command line. They cannot disagree again.

Each row is a value and either its exact seconds or the words every reader's message has. What a
reader does on top is declared with the reader, not per row: whether 0 is allowed, whether it rounds
up to whole seconds (what offers carry), and whether it takes seconds as numbers (a request writes
ISO 8601 text, as the standard says; its message for seconds is the row's ``request`` words).
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from traitlets import TraitError

from jupyterhub_execplanner.cli import _positive
from jupyterhub_execplanner.labserver.settings import ExecPlannerLab
from jupyterhub_execplanner.model.draft2023 import parse_request_2023
from jupyterhub_execplanner.model.kinds import kind_uri
from jupyterhub_execplanner.model.parse import parse_request
from jupyterhub_execplanner.platform.profiles import ProfileDefaults, ProfileError, profiles_from_list
from jupyterhub_execplanner.service.settings import ExecPlanner
from jupyterhub_execplanner.service.traits import Duration

NOW = datetime(2026, 11, 24, 15, 0, tzinfo=timezone.utc)
NUMBER = "a request writes durations as ISO 8601 text"  # what a request's reader says of seconds


@dataclass(frozen=True)
class Row:
    value: Any
    seconds: float | None = None  # exact; None: refused with ``words``
    words: str = ""
    request: str = ""  # a request's words for a value in seconds (it takes ISO 8601 text only)


ROWS = [
    # ISO 8601
    Row("PT5M", 300),
    Row("PT1H30M", 5400),
    Row("P1DT2H", 93600),
    Row("P2W", 14 * 86400),
    Row("pt2h", 7200),
    Row(" PT1H ", 3600),
    Row("PT1.5S", 1.5),  # fractions are kept; readers for offers round up
    Row("PT1,5S", 1.5),
    Row("PT0.25S", 0.25),
    Row("PT0.5H", 1800),
    Row("P0.5D", 43200),
    # seconds
    Row(300, 300, request=NUMBER),
    Row(1.5, 1.5, request=NUMBER),
    Row("300", 300, request="seconds are written PT300S"),
    Row(" 90 ", 90, request="seconds are written PT90S"),
    Row("2.5", 2.5, request="seconds are written PT2.5S"),
    # zero: refused, unless the reader allows it
    Row("PT0S", 0),
    Row("P0D", 0),
    Row(0, 0, request=NUMBER),
    Row("0", 0, request="seconds are written PT0S"),
    # months and years: refused everywhere (no fixed length), with the days to write instead
    Row("P1M", words="counts months, which have no fixed length (28 to 31 days): write days instead, "
        "e.g. P30D"),
    Row("P1Y", words="counts years, which have no fixed length (365 or 366 days): write days instead, "
        "e.g. P365D"),
    Row("P1Y2M", words="write days instead, e.g. P425D"),
    Row("P6MT1H", words="e.g. P180DT1H"),
    # negative
    Row("-PT1H", words="is negative"),
    Row(-5, words="is negative", request=NUMBER),
    Row("-5", words="is negative", request="is not a duration"),
    # not durations
    Row("soon", words="is not a duration"),
    Row("8h", words="is not a duration (ISO 8601 starts with P, and puts a T before hours"),
    Row("P1H", words="(hours, minutes and seconds come after a T: PT1H, not P1H)"),
    Row("PT", words="is not a duration"),
    Row("P", words="is not a duration"),
    Row("P1DT", words="is not a duration"),
    Row("", words="is not a duration"),
    Row("1e3", words="is not a duration"),
    Row("P" + "1" * 200 + "D", words="is not a duration"),
    Row(True, words="is not a duration"),
    Row([300], words="is not a duration"),
    Row(float("nan"), words="is not a duration", request=NUMBER),
    Row(float("inf"), words="is too long a duration", request=NUMBER),
    Row("P99999999999999D", words="is too long a duration"),
]


@dataclass(frozen=True)
class Reader:
    """Reads a duration: seconds it read, or raises ValueError/TraitError with its message."""

    name: str
    read: Callable[[Any], float]
    zero: bool = False  # 0 allowed
    whole: bool = False  # rounded up to whole seconds
    numbers: bool = True  # seconds as numbers (not: ISO 8601 text only)
    text_only: bool = False  # reads only strings (a command line)


def _setting(name: str, cls: type = ExecPlanner) -> Callable[[Any], float]:
    return lambda value: float(getattr(cls(**{name: value}), name))


def _profile(key: str) -> Callable[[Any], float]:
    def read(value: Any) -> float:
        (profile,) = profiles_from_list(
            [{"display_name": "X", "execplanner": {key: value}}], defaults=ProfileDefaults()
        )
        return getattr(profile, key).total_seconds()

    return read


class Refused(ValueError):
    pass


def _request(value: Any) -> float:
    doc = {"executable": {"kind": kind_uri("executable", "jupyter-notebook")},
           "schedule": {"requested": {"duration": value}}}
    result = parse_request(doc, now=NOW)
    if not result.ok:
        raise Refused(" | ".join(m.message for m in result.messages))
    return result.request.schedule.duration.total_seconds()  # type: ignore[union-attr]


def _request_2023(value: Any) -> float:
    doc = {"request": {"executable": {"type": "https://www.purl.org/ivoa.net/executable-types/jupyter-notebook",
                                      "spec": {"notebook": "https://x.org/a"}},
                       "datetime": [{"minduration": value}]}}
    result = parse_request_2023(doc, now=NOW)
    if not result.ok:
        raise Refused(" | ".join(m.message for m in result.messages))
    return result.request.schedule.duration.total_seconds()  # type: ignore[union-attr]


def _command_line(value: Any) -> float:
    try:
        return _positive(value)
    except argparse.ArgumentTypeError as e:
        raise Refused(str(e)) from None


DURATIONS = {
    name: trait
    for name, trait in ExecPlanner.class_traits(config=True).items()
    if isinstance(trait, Duration) and trait.at_least is None and trait.at_most is None
}
READERS = [
    *(Reader(f"c.ExecPlanner.{n}", _setting(n), zero=t.zero, whole=t.whole) for n, t in DURATIONS.items()),
    Reader("c.ExecPlannerLab.timeout", _setting("timeout", ExecPlannerLab)),
    Reader("execplanner.max_duration", _profile("max_duration"), whole=True),
    Reader("execplanner.prepare", _profile("prepare"), zero=True, whole=True),
    Reader("schedule.requested.duration", _request, whole=True, numbers=False),
    Reader("request.datetime[0].minduration (2023)", _request_2023, whole=True, numbers=False),
    Reader("execplanner --timeout", _command_line, text_only=True),
]


def test_every_duration_setting_is_in_the_table() -> None:
    # their bounds: tests/unit/test_settings.py
    bounded = {"peer_timeout", "kube_stale_after", "slurm_poll_interval", "slurm_stale_after"}
    durations = {n for n, t in ExecPlanner.class_traits(config=True).items() if isinstance(t, Duration)}
    assert durations == set(DURATIONS) | bounded
    assert len(DURATIONS) >= 14


def _expected(row: Row, reader: Reader) -> float | str:
    if not reader.numbers and row.request:
        return row.request
    if row.seconds is None:
        return row.words
    if row.seconds == 0 and not reader.zero:
        return "is zero"
    return float(math.ceil(row.seconds)) if reader.whole else float(row.seconds)


# A command line reads only text, so it is given only the rows written as text.
PAIRS = [
    pytest.param(row, reader, id=f"{reader.name}-{repr(row.value)[:24]}")
    for reader in READERS
    for row in ROWS
    if isinstance(row.value, str) or not reader.text_only
]


@pytest.mark.parametrize(("row", "reader"), PAIRS)
def test_one_table_for_every_reader(row: Row, reader: Reader) -> None:
    expected = _expected(row, reader)
    if isinstance(expected, float):
        assert reader.read(row.value) == pytest.approx(expected, abs=1e-6)
        return
    with pytest.raises((ValueError, TraitError, ProfileError)) as info:
        reader.read(row.value)
    assert expected in str(info.value), f"{reader.name}: {info.value}"


def test_the_messages_name_where_the_value_was() -> None:
    with pytest.raises(TraitError, match=r"^ExecPlanner\.spawn_timeout = 'P1M' counts months"):
        ExecPlanner(spawn_timeout="P1M")
    with pytest.raises(TraitError, match=r"^ExecPlannerLab\.timeout = 'P1M' counts months"):
        ExecPlannerLab(timeout="P1M")
    with pytest.raises(ProfileError, match=r"^profile 'x': execplanner.max_duration = 'P1M' counts months"):
        _profile("max_duration")("P1M")
    with pytest.raises(Refused, match=r"^schedule.requested.duration is not a usable duration: 'P1M' counts"):
        _request("P1M")


def test_whole_settings_round_up_and_keep_an_int() -> None:
    planner = ExecPlanner(prepare_time="PT1.5S", preload_start_timeout=599.2, spawn_timeout="PT1.5S")
    assert (planner.prepare_time, planner.preload_start_timeout) == (2, 600)
    assert isinstance(planner.preload_start_timeout, int)  # a spawner's http_timeout is an Integer
    assert planner.spawn_timeout == 1.5
    assert planner.duration("prepare_time") == timedelta(seconds=2)
