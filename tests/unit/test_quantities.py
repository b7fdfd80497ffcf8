"""Kubernetes-style quantities, counts and durations from hub configuration."""

from __future__ import annotations

from datetime import timedelta

import pytest
from jupyterhub.traitlets import ByteSpecification

from jupyterhub_execplanner.platform.quantities import (
    format_duration,
    parse_count,
    parse_cpu,
    parse_duration,
    parse_memory,
)

GIB = 1024**3


@pytest.mark.parametrize(
    ("value", "cores"),
    [
        (2, 2.0),
        (0.5, 0.5),
        ("2", 2.0),
        ("0.5", 0.5),
        ("500m", 0.5),
        ("1500m", 1.5),
        (" 4 ", 4.0),
        (0, 0.0),
    ],
)
def test_cpu(value: object, cores: float) -> None:
    assert parse_cpu(value) == pytest.approx(cores)


@pytest.mark.parametrize("value", ["two", "", "2 cores", "-1", -0.5, True, None, [2], "nan", "1Gi"])
def test_cpu_rejects(value: object) -> None:
    with pytest.raises(ValueError, match="CPU quantity|not a valid quantity") as info:
        parse_cpu(value)
    assert repr(value) in str(info.value)
    assert "500m" in str(info.value)


@pytest.mark.parametrize(
    ("value", "gib"),
    [
        ("4G", 4.0),
        ("4Gi", 4.0),
        ("512M", 0.5),
        ("512Mi", 0.5),
        ("1.5Ti", 1536.0),
        ("1T", 1024.0),
        ("1048576K", 1.0),
        (4294967296, 4.0),
        ("4294967296", 4.0),
        (GIB / 2, 0.5),
        ("0", 0.0),
    ],
)
def test_memory(value: object, gib: float) -> None:
    assert parse_memory(value) == pytest.approx(gib)


@pytest.mark.parametrize("value", ["4G", "512M", "1T", "3K", "1.5G"])
def test_memory_agrees_with_jupyterhub_byte_specification(value: str) -> None:
    """KubeSpawner's mem_limit/mem_guarantee are ByteSpecifications: K, M, G, T are 1024-based."""
    assert parse_memory(value) * GIB == pytest.approx(ByteSpecification().validate(None, value), 1)


@pytest.mark.parametrize("value", ["4GB", "4 gigs", "4g", "4k", "100m", "-1G", "", None, True, "G"])
def test_memory_rejects(value: object) -> None:
    with pytest.raises(ValueError, match="memory quantity|not a valid quantity") as info:
        parse_memory(value)
    assert repr(value) in str(info.value)
    assert "'4Gi'" in str(info.value)


@pytest.mark.parametrize(("value", "count"), [(1, 1), ("2", 2), (2.0, 2), (" 3 ", 3), (0, 0)])
def test_count(value: object, count: int) -> None:
    assert parse_count(value) == count


@pytest.mark.parametrize("value", ["1.5", 0.5, "1Gi", "-1", "one", None, True])
def test_count_rejects(value: object) -> None:
    with pytest.raises(ValueError, match="not a valid count"):
        parse_count(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("PT8H", timedelta(hours=8)),
        ("PT30S", timedelta(seconds=30)),
        ("P1D", timedelta(days=1)),
        (28800, timedelta(hours=8)),
        (0.5, timedelta(milliseconds=500)),
        ("90", timedelta(seconds=90)),
        (timedelta(minutes=5), timedelta(minutes=5)),
    ],
)
def test_duration(value: object, expected: timedelta) -> None:
    assert parse_duration(value) == expected


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("8h", "PT8H"),
        ("P1M", "no fixed length"),  # the rules of model/timing.py: see tests/unit/test_time_rules.py
        ("PT-1H", "is not a duration"),
        (-5, "is negative"),
        ("soon", "is not a duration"),
        (None, "is not a duration"),
        (float("inf"), "too long"),
        (True, "is not a duration"),
    ],
)
def test_duration_rejects(value: object, words: str) -> None:
    with pytest.raises(ValueError, match="duration|negative|fixed length") as info:
        parse_duration(value)
    assert words in str(info.value)


def test_duration_may_be_zero() -> None:
    assert parse_duration(0) == parse_duration("PT0S") == timedelta(0)


@pytest.mark.parametrize(
    ("value", "text"),
    [(timedelta(hours=8), "PT8H"), (timedelta(seconds=30), "PT30S"), (timedelta(days=1), "P1D")],
)
def test_format_duration(value: timedelta, text: str) -> None:
    assert format_duration(value) == text
