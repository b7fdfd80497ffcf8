"""The planner: eligibility, sizing, scheduling and ordering of offers."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np
import pytest

from jupyterhub_execplanner.model import messages as msg
from jupyterhub_execplanner.model.request import (
    AcceleratorRequest,
    ComputeSpec,
    ExecutableSpec,
    ExecutionRequest,
    IntRange,
    ScheduleSpec,
)
from jupyterhub_execplanner.planning.planner import PlanResult, plan
from jupyterhub_execplanner.planning.policy import PlannerPolicy
from jupyterhub_execplanner.platform.calendar import Calendar
from jupyterhub_execplanner.platform.profiles import Profile, ProfileDefaults, profiles_from_list

NOW = datetime(2026, 11, 24, 15, 0, 0, 250000, tzinfo=timezone.utc)
T = NOW.replace(microsecond=0)
READY = T + timedelta(seconds=31)  # NOW + 30 s prepare, rounded up to a whole second
H = timedelta(hours=1)
M = timedelta(minutes=1)
POLICY = PlannerPolicy()
GPU = "nvidia.com/gpu"

SMALL = Profile(
    "small",
    "Small",
    cores_min=1,
    cores_max=2,
    memory_min=1,
    memory_max=4,
    image="quay.io/jupyter/base-notebook:2024",
)
LARGE = Profile(
    "large",
    "Large",
    cores_min=2,
    cores_max=8,
    memory_min=4,
    memory_max=32,
    image="python:3.12",
    max_duration=timedelta(hours=8),
)
GPUS = Profile(
    "gpu",
    "GPU",
    cores_min=1,
    cores_max=8,
    memory_min=4,
    memory_max=32,
    accelerators={GPU: 2},
    pool="gpu",
    prepare=timedelta(minutes=2),
)
PROFILES = (SMALL, LARGE, GPUS)
POOLS = {"default": {"cores": 8, "memory": 32}, "gpu": {"cores": 16, "memory": 64, GPU: 2}}


def calendar(pools: dict[str, dict[str, float]] = POOLS) -> Calendar:
    return Calendar(pools, origin=NOW)


def request(
    cores: tuple[int, int] = (2, 2),
    memory: tuple[int, int] = (4, 4),
    *,
    kind: str = "jupyter-notebook",
    image: str | None = None,
    gpus: Sequence[tuple[str, int, int]] = (),
    start: datetime | None = None,
    end: datetime | None = None,
    duration: timedelta | None = None,
) -> ExecutionRequest:
    return ExecutionRequest(
        executable=ExecutableSpec(kind=kind, image=image, location="https://example.org/a.ipynb"),
        compute=ComputeSpec(
            cores=IntRange(*cores),
            memory=IntRange(*memory),
            accelerators=tuple(
                AcceleratorRequest(None, None, name, IntRange(lo, hi)) for name, lo, hi in gpus
            ),
        ),
        schedule=ScheduleSpec(start, end, duration),
    )


def run(
    req: ExecutionRequest,
    profiles: Sequence[Profile] = PROFILES,
    cal: Calendar | None = None,
    policy: PlannerPolicy = POLICY,
) -> PlanResult:
    return plan(req, profiles, calendar() if cal is None else cal, now=NOW, policy=policy)


def summary(result: PlanResult) -> list[tuple[str, int, int, dict[str, int], datetime]]:
    return [(o.profile, o.cores, o.memory, dict(o.accelerators), o.start) for o in result.offers]


def kinds_and_paths(result: PlanResult) -> list[tuple[str, str, str]]:
    return [(m.level, m.kind, m.values.get("path", "")) for m in result.messages]


# -- resources ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cores", "memory", "profiles", "expected"),
    [
        # a missing max means max == min: exactly the minimum
        ((2, 2), (4, 4), [LARGE], [("large", 2, 4)]),
        # the largest fit within the request's max and the profile's max
        ((2, 8), (4, 16), [LARGE], [("large", 8, 16)]),
        ((2, 16), (4, 64), [LARGE], [("large", 8, 32)]),
        # the profile's guarantee raises the offer to it, within the request's max
        ((1, 4), (1, 8), [LARGE], [("large", 4, 8)]),
        # fractional guarantees round up, limits down
        (
            (1, 4),
            (1, 4),
            [Profile("f", "F", cores_min=1.5, cores_max=3.5, memory_max=2.5)],
            [("f", 3, 2)],
        ),
        # cpu_limit None: up to the pool
        ((1, 64), (1, 64), [Profile("u", "U")], [("u", 8, 32)]),
    ],
)
def test_sizes_stay_within_request_and_profile(
    cores: tuple[int, int],
    memory: tuple[int, int],
    profiles: list[Profile],
    expected: list[tuple[str, int, int]],
) -> None:
    result = run(request(cores, memory), profiles)
    assert result.result == "YES"
    assert [(o.profile, o.cores, o.memory) for o in result.offers] == expected


@pytest.mark.parametrize(
    ("cores", "memory", "path", "words"),
    [
        (
            (64, 64),
            (1, 1),
            "compute.cores.min",
            "No profile of this hub offers 64 cores; the largest offers 8",
        ),
        (
            (1, 1),
            (100, 100),
            "compute.memory.min",
            "No profile of this hub offers 100 GiB; the largest offers 32",
        ),
    ],
)
def test_too_large_for_every_profile(
    cores: tuple[int, int], memory: tuple[int, int], path: str, words: str
) -> None:
    result = run(request(cores, memory))
    assert result.result == "NO" and result.offers == ()
    first = result.messages[0]
    assert (first.level, first.kind, first.values["path"]) == ("ERROR", msg.RESOURCE_LIMIT, path)
    assert words in first.message
    # then one message per profile, naming it
    assert [m.values.get("profile") for m in result.messages[1:]] == ["small", "large", "gpu"]
    assert all(m.level == "WARN" for m in result.messages[1:])


def test_profile_minimum_above_request_maximum() -> None:
    result = run(request((2, 2), (1, 2)), [LARGE])
    assert result.result == "NO"
    assert kinds_and_paths(result)[0] == ("ERROR", msg.RESOURCE_LIMIT, "compute.memory.max")
    assert "at least 4 GiB" in result.messages[0].message


# -- accelerators ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("gpus", "expected"),
    [
        ([(GPU, 1, 1)], [("gpu", 2, 4, {GPU: 1}, READY + timedelta(seconds=90))]),
        ([(GPU, 1, 4)], [("gpu", 2, 4, {GPU: 2}, READY + timedelta(seconds=90))]),
        ([("NVIDIA.com/GPU", 2, 2)], [("gpu", 2, 4, {GPU: 2}, READY + timedelta(seconds=90))]),
    ],
)
def test_gpu_requests_go_to_gpu_profiles(
    gpus: list[tuple[str, int, int]], expected: list[tuple[Any, ...]]
) -> None:
    assert summary(run(request(gpus=gpus))) == expected


def test_requests_without_gpus_do_not_get_gpu_profiles() -> None:
    assert {o.profile for o in run(request((1, 8), (1, 32))).offers} == {"small", "large"}
    result = run(request(), [GPUS])
    assert result.result == "NO"
    assert kinds_and_paths(result)[0] == ("ERROR", msg.NOT_SUPPORTED, "compute.accelerators")


@pytest.mark.parametrize(
    ("gpus", "kind", "path", "words"),
    [
        (
            [(GPU, 3, 3)],
            msg.RESOURCE_LIMIT,
            "compute.accelerators[0].count.min",
            "offers 3 nvidia.com/gpu; the largest offers 2",
        ),
        (
            [("https://example.org/types/gpu/a100", 1, 1)],
            msg.NOT_SUPPORTED,
            "compute.accelerators[0].resource",
            "it has nvidia.com/gpu",
        ),
        (
            [(GPU, 1, 1), ("amd.com/gpu", 1, 1)],
            msg.NOT_SUPPORTED,
            "compute.accelerators[1].resource",
            "accelerator amd.com/gpu",
        ),
    ],
)
def test_gpu_requests_the_hub_cannot_serve(
    gpus: list[tuple[str, int, int]], kind: str, path: str, words: str
) -> None:
    result = run(request(gpus=gpus))
    assert result.result == "NO"
    assert kinds_and_paths(result)[0] == ("ERROR", kind, path)
    assert words in result.messages[0].message


def test_gpus_in_use_give_a_later_slot() -> None:
    cal = calendar()
    cal.reserve("busy", "gpu", T, T + 2 * H, {"cores": 1, GPU: 2})
    (offer,) = run(request(gpus=[(GPU, 1, 1)]), cal=cal).offers
    assert offer.prepare_start == T + 2 * H
    assert offer.start == T + 2 * H + timedelta(minutes=2)


# -- executables ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("image", "profiles"),
    [
        ("python:3.12", ["large"]),
        ("docker.io/library/python:3.12", ["large"]),
        ("docker.io/python:3.12", ["large"]),
        ("quay.io/jupyter/base-notebook:2024", ["small"]),
    ],
)
def test_docker_image_match(image: str, profiles: list[str]) -> None:
    result = run(request(kind="docker-container", image=image))
    assert sorted({o.profile for o in result.offers}) == profiles


@pytest.mark.parametrize(
    ("profile_image", "requested", "match"),
    [
        ("python", "docker.io/library/python:latest", True),
        ("library/python:latest", "python", True),
        ("org/tool", "docker.io/org/tool:latest", True),
        ("python:3.12", "python:3.11", False),
        ("ghcr.io/org/tool", "org/tool", False),
    ],
)
def test_docker_image_normalisation(profile_image: str, requested: str, match: bool) -> None:
    profile = Profile("p", "P", image=profile_image)
    result = run(request(kind="docker-container", image=requested), [profile])
    assert (result.result == "YES") is match


def test_docker_image_mismatch_names_the_images() -> None:
    result = run(request(kind="docker-container", image="rocker/rstudio"))
    assert result.result == "NO"
    first = result.messages[0]
    assert (first.kind, first.values["path"]) == (msg.NOT_SUPPORTED, "executable.image")
    assert first.message == (
        "No profile of this hub runs rocker/rstudio; it runs python:3.12, "
        "quay.io/jupyter/base-notebook:2024."
    )


@pytest.mark.parametrize(
    ("kind", "path", "words"),
    [
        ("singularity-container", "executable.kind", "not Singularity"),
        ("vm-image", "executable.kind", "cannot run"),
    ],
)
def test_unsupported_executables(kind: str, path: str, words: str) -> None:
    result = run(request(kind=kind))
    assert result.result == "NO"
    assert kinds_and_paths(result) == [("ERROR", msg.NOT_SUPPORTED, path)]
    assert words in result.messages[0].message


def test_notebooks_run_on_every_profile() -> None:
    assert {o.profile for o in run(request()).offers} == {"small", "large"}


# -- schedule -------------------------------------------------------------------------------------


def test_offer_fields() -> None:
    offer = run(request((2, 2), (4, 4)), [LARGE]).offers[0]
    assert offer.start == READY  # now + prepare, rounded up to a whole second
    assert offer.start.microsecond == 0
    assert (offer.duration, offer.preparing, offer.releasing) == (
        H,
        timedelta(seconds=30),
        timedelta(seconds=10),
    )
    assert (offer.profile_name, offer.pool, offer.image) == ("Large", "default", "python:3.12")
    assert offer.accelerators == {}


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (T + 2 * H, None, T + 2 * H),
        (T + 2 * H + timedelta(milliseconds=1), None, T + 2 * H + timedelta(seconds=1)),
        (NOW - H, NOW + H, READY),  # a window that opened in the past: as soon as ready
        (NOW, NOW + timedelta(seconds=10), None),  # closes before a server can be ready
    ],
)
def test_start_window(start: datetime, end: datetime | None, expected: datetime | None) -> None:
    result = run(request(start=start, end=end), [SMALL])
    if expected is None:
        assert result.result == "NO"
        assert kinds_and_paths(result)[-1] == ("WARN", msg.SCHEDULE, "schedule.requested.start")
    else:
        assert [o.start for o in result.offers] == [expected]


def test_window_already_full_gives_a_later_slot() -> None:
    cal = calendar()
    cal.reserve("x", "default", T, T + 3 * H, {"cores": 8, "memory": 32})
    (offer,) = run(request((2, 2), (4, 4)), [SMALL], cal).offers
    assert offer.prepare_start == T + 3 * H  # as soon as the holder ends
    cal.release("x")
    cal.reserve("x", "default", T, T + 3 * H + timedelta(seconds=1), {"cores": 8, "memory": 32})
    (offer,) = run(request((2, 2), (4, 4)), [SMALL], cal).offers
    assert offer.prepare_start == T + 3 * H + timedelta(minutes=1)  # its bucket is taken


def test_full_calendar_says_no_with_a_reason() -> None:
    cal = calendar()
    cal.reserve("x", "default", NOW, NOW + 30 * H, {"cores": 8, "memory": 32})
    result = run(request((2, 2), (4, 4)), [SMALL, LARGE], cal)
    assert result.result == "NO"
    assert kinds_and_paths(result) == [
        ("ERROR", msg.NO_CAPACITY, "schedule.requested.start"),
        ("WARN", msg.NO_CAPACITY, "compute"),
        ("WARN", msg.NO_CAPACITY, "compute"),
    ]
    assert "no room for 2 cores, 4 GiB for PT1H" in result.messages[1].message


def test_beyond_the_horizon() -> None:
    result = run(request(start=NOW + timedelta(days=8)), [SMALL])
    assert result.result == "NO"
    assert kinds_and_paths(result)[1] == ("WARN", msg.SCHEDULE, "schedule.requested.start")
    assert "plans only up to" in result.messages[1].message


@pytest.mark.parametrize(
    ("duration", "profiles", "expected", "kind", "words"),
    [
        (None, [SMALL], H, None, ""),  # the policy's default
        (timedelta(hours=3), [SMALL], timedelta(hours=3), None, ""),
        (timedelta(hours=10), [LARGE], None, msg.SCHEDULE, "the longest is PT8H"),
        (timedelta(hours=25), [SMALL], None, msg.SCHEDULE, "at most P1D"),
        (timedelta(seconds=20), [SMALL], None, msg.INVALID_VALUE, "at least PT1M"),
    ],
)
def test_duration(
    duration: timedelta | None,
    profiles: list[Profile],
    expected: timedelta | None,
    kind: str | None,
    words: str,
) -> None:
    result = run(request(duration=duration), profiles)
    if expected is not None:
        assert [o.duration for o in result.offers] == [expected]
    else:
        assert result.result == "NO"
        assert (result.messages[0].kind, result.messages[0].values["path"]) == (
            kind,
            "schedule.requested.duration",
        )
        assert words in result.messages[0].message


def test_default_duration_is_shortened_to_the_profile_cap() -> None:
    short = Profile("short", "Short", max_duration=timedelta(minutes=20))
    assert [o.duration for o in run(request(), [short]).offers] == [timedelta(minutes=20)]


# -- several offers -------------------------------------------------------------------------------


def test_offers_are_sorted_by_start_then_fit_then_size() -> None:
    cal = calendar({"default": {"cores": 16, "memory": 64}})
    result = run(request((1, 2), (1, 4)), [LARGE, SMALL, Profile("any", "Any")], cal)
    # all start now; small and any give 2/4 (perfect fit), large gives 2/4 too; size breaks ties
    assert [(o.profile, o.cores, o.memory, o.start) for o in result.offers] == [
        ("small", 2, 4, READY),
        ("large", 2, 4, READY),
        ("any", 2, 4, READY),
    ]


def test_partial_fit_now_and_full_size_later() -> None:
    cal = calendar()
    cal.reserve("x", "default", T, T + 2 * H, {"cores": 4, "memory": 8})
    result = run(request((2, 8), (4, 32)), [LARGE], cal)
    # (a) now with what is free, (b) the full size once both "x" and (a) are over
    assert [(o.cores, o.memory) for o in result.offers] == [(4, 24), (8, 32)]
    assert result.offers[0].start == READY
    assert result.offers[1].prepare_start == T + 2 * H


@pytest.mark.parametrize("max_offers", [1, 2, 3])
def test_max_offers(max_offers: int) -> None:
    profiles = [Profile(f"p{i}", f"P{i}") for i in range(6)]
    cal = calendar({"default": {"cores": 100, "memory": 100}})
    policy = PlannerPolicy(max_offers=max_offers)
    assert len(run(request(), profiles, cal, policy).offers) == max_offers


def test_two_offers_of_one_request_never_oversubscribe() -> None:
    """The manager reserves every offer; together they must fit."""
    cal = calendar()
    result = run(request((4, 8), (8, 32)), [SMALL, LARGE, Profile("any", "Any")], cal)
    assert len(result.offers) >= 2
    for i, offer in enumerate(result.offers):
        cal.reserve(f"o{i}", offer.pool, offer.prepare_start, offer.release_end, offer.amounts())
    for name, used in cal.usage("default").items():
        assert used.max() <= POOLS["default"][name]
    assert result.offers[0].start < result.offers[1].start  # the second waits for the first


def test_plan_leaves_the_calendar_unchanged() -> None:
    cal = calendar()
    cal.reserve("x", "default", NOW, NOW + 2 * H, {"cores": 3, "memory": 7})
    cal.set_external("default", {"cores": 1})
    before = ({p: cal.usage(p) for p in cal.pools}, cal.reservations())
    result = run(request((1, 8), (1, 32)), PROFILES, cal)
    # large gets what is free now (4 of 8 cores: one is external, three are "x"); small then waits
    assert [(o.profile, o.cores, o.memory) for o in result.offers] == [
        ("large", 4, 25),
        ("small", 2, 4),
    ]
    assert result.offers[1].prepare_start >= result.offers[0].release_end
    after = ({p: cal.usage(p) for p in cal.pools}, cal.reservations())
    assert before[1] == after[1]
    for pool, arrays in before[0].items():
        assert all(np.array_equal(arrays[k], after[0][pool][k]) for k in arrays)
    cal.reserve("y", "default", NOW, NOW + H, {"cores": 1})  # and it is not left frozen


def test_no_profiles() -> None:
    result = run(request(), [])
    assert result.result == "NO"
    assert kinds_and_paths(result) == [("ERROR", msg.PLATFORM, "$")]


def test_profile_in_a_pool_without_capacity() -> None:
    result = run(request(), [Profile("lost", "Lost", pool="nowhere")])
    assert result.result == "NO"
    assert ("WARN", msg.PLATFORM, "$") in kinds_and_paths(result)


def test_profiles_from_kubespawner_config_plan_end_to_end() -> None:
    profiles = profiles_from_list(
        [
            {"display_name": "Small", "kubespawner_override": {"cpu_limit": 2, "mem_limit": "4G"}},
            {
                "display_name": "Big",
                "kubespawner_override": {"cpu_limit": 8, "mem_limit": "32G"},
                "execplanner": {"prepare": "PT1M"},
            },
        ],
        defaults=ProfileDefaults(),
    )
    result = run(request((1, 8), (2, 32)), profiles)
    assert [(o.profile, o.cores, o.memory) for o in result.offers] == [
        ("small", 2, 4),
        ("big", 6, 28),
    ]


def test_never_raises_and_respects_min_max_and_window() -> None:
    rng = random.Random(11)
    kinds = ["jupyter-notebook", "docker-container", "singularity-container", "other"]
    cal = calendar()
    for i in range(40):
        start = NOW + timedelta(minutes=rng.uniform(0, 600))
        cal.reserve(
            f"r{i}",
            rng.choice(["default", "gpu"]),
            start,
            start + H,
            {"cores": rng.randint(1, 4), "memory": rng.randint(1, 8)},
        )
    before = {p: cal.usage(p) for p in cal.pools}
    for _ in range(300):
        c_lo, m_lo = rng.randint(0, 10), rng.randint(0, 40)
        start = NOW + timedelta(minutes=rng.uniform(-60, 600)) if rng.random() < 0.5 else None
        end = (
            start + timedelta(minutes=rng.uniform(-10, 300))
            if start and rng.random() < 0.7
            else None
        )
        req = request(
            (c_lo, c_lo + rng.randint(0, 10)),
            (m_lo, m_lo + rng.randint(0, 40)),
            kind=rng.choice(kinds),
            image=rng.choice([None, "python:3.12", "nope"]),
            gpus=[(GPU, 0, rng.randint(0, 3))] if rng.random() < 0.3 else (),
            start=start,
            end=end,
            duration=rng.choice([None, timedelta(minutes=rng.uniform(0, 2000))]),
        )
        result = run(req, PROFILES, cal)
        assert result.result == ("YES" if result.offers else "NO")
        assert result.offers or result.messages
        assert not any(m.kind == msg.PLATFORM and "failed" in m.message for m in result.messages)
        for o in result.offers:
            assert req.compute.cores.min <= o.cores <= req.compute.cores.max
            assert req.compute.memory.min <= o.memory <= req.compute.memory.max
            assert o.start >= NOW + o.preparing and o.start.microsecond == 0
            if end is not None:
                assert o.start <= end
    after = {p: cal.usage(p) for p in cal.pools}
    assert all(np.array_equal(before[p][k], after[p][k]) for p in before for k in before[p])


def test_zero_accelerators_asked_is_no_accelerator() -> None:
    result = run(request(gpus=[("amd.com/gpu", 0, 0)]), [SMALL, GPUS])
    assert [(o.profile, dict(o.accelerators)) for o in result.offers] == [("small", {})]
