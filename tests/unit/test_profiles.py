"""Profiles from KubeSpawner's profile_list format."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import pytest

from jupyterhub_execplanner.platform.profiles import (
    Profile,
    ProfileDefaults,
    ProfileError,
    local_host_profile,
    profile_summary,
    profiles_from_list,
    slugify,
)

NONE = ProfileDefaults()

SMALL = {
    "display_name": "Small server",
    "description": "2 cores, 4 GiB",
    "kubespawner_override": {
        "cpu_guarantee": 1,
        "cpu_limit": 2,
        "mem_guarantee": "1G",
        "mem_limit": "4G",
        "image": "jupyter/scipy-notebook:2024-01-01",
    },
}
GPU = {
    "display_name": "GPU server",
    "slug": "gpu",
    "default": True,
    "kubespawner_override": {
        "cpu_limit": "8",
        "mem_limit": "32Gi",
        "extra_resource_limits": {"nvidia.com/gpu": "2", "hugepages-2Mi": "1Gi"},
    },
    "execplanner": {"max_duration": "PT8H", "prepare": 120, "pool": "gpu"},
}


def one(entry: dict[str, Any], defaults: ProfileDefaults = NONE) -> Profile:
    (profile,) = profiles_from_list([entry], defaults=defaults)
    return profile


def test_list_of_profiles() -> None:
    small, gpu = profiles_from_list([SMALL, GPU], defaults=NONE)
    assert small == Profile(
        slug="small-server",
        display_name="Small server",
        description="2 cores, 4 GiB",
        cores_min=1.0,
        cores_max=2.0,
        memory_min=1.0,
        memory_max=4.0,
        image="jupyter/scipy-notebook:2024-01-01",
        override=SMALL["kubespawner_override"],
    )
    assert (gpu.slug, gpu.pool, gpu.default, small.default) == ("gpu", "gpu", True, False)
    assert (gpu.cores_min, gpu.cores_max, gpu.memory_min, gpu.memory_max) == (0, 8.0, 0, 32.0)
    assert dict(gpu.accelerators) == {"nvidia.com/gpu": 2}
    assert gpu.max_duration == timedelta(hours=8)
    assert gpu.prepare == timedelta(seconds=120)
    assert small.prepare == timedelta(seconds=30) and small.max_duration is None


def test_dict_of_profiles_is_sorted_by_key_and_slugs_come_from_the_profiles() -> None:
    """KubeSpawner 7.1: a dict's values, in key order; the outer key is not the slug."""
    profiles = profiles_from_list({"z-small": SMALL, "a-gpu": GPU}, defaults=NONE)
    assert [p.slug for p in profiles] == ["gpu", "small-server"]


def test_the_input_is_not_changed_and_override_is_a_copy() -> None:
    entries = [copy.deepcopy(SMALL), copy.deepcopy(GPU)]
    before = copy.deepcopy(entries)
    _, gpu = profiles_from_list(entries, defaults=NONE)
    assert entries == before
    gpu.override["extra_resource_limits"]["nvidia.com/gpu"] = "99"
    assert entries == before


@pytest.mark.parametrize(
    ("override", "defaults", "expected"),
    [
        # nothing anywhere: no guarantee, no limit
        ({}, NONE, (0.0, None, 0.0, None, None)),
        # spawner-level defaults are inherited
        (
            {},
            ProfileDefaults(
                cpu_guarantee=0.5, cpu_limit=4, mem_guarantee="1G", mem_limit="8G", image="base:1"
            ),
            (0.5, 4.0, 1.0, 8.0, "base:1"),
        ),
        # the profile override wins, key by key
        (
            {"cpu_limit": 2, "image": "mine:2"},
            ProfileDefaults(cpu_guarantee=1, cpu_limit=4, mem_limit="8G", image="base:1"),
            (1.0, 2.0, 0.0, 8.0, "mine:2"),
        ),
        # an explicit None in the override removes the default limit, as in KubeSpawner
        ({"cpu_limit": None}, ProfileDefaults(cpu_limit=4), (0.0, None, 0.0, None, None)),
        # image_spec is KubeSpawner's deprecated alias of image
        ({"image_spec": "old:1"}, ProfileDefaults(image="base:1"), (0.0, None, 0.0, None, "old:1")),
        # millicores and binary quantities
        ({"cpu_guarantee": "500m", "mem_limit": "1.5Ti"}, NONE, (0.5, None, 0.0, 1536.0, None)),
    ],
)
def test_inherit_defaults(
    override: dict[str, Any], defaults: ProfileDefaults, expected: tuple[Any, ...]
) -> None:
    p = one({"display_name": "P", "kubespawner_override": override}, defaults)
    assert (p.cores_min, p.cores_max, p.memory_min, p.memory_max, p.image) == expected


@pytest.mark.parametrize(
    ("default_limits", "override_limits", "accelerators"),
    [
        ({}, {"nvidia.com/gpu": 1}, {"nvidia.com/gpu": 1}),
        ({"nvidia.com/gpu": "1"}, {}, {"nvidia.com/gpu": 1}),
        ({"nvidia.com/gpu": "1"}, {"nvidia.com/gpu": None}, {}),  # None deletes a key
        ({"amd.com/gpu": "1"}, {"nvidia.com/gpu": "2"}, {"amd.com/gpu": 1, "nvidia.com/gpu": 2}),
        ({}, {"nvidia.com/gpu": "0"}, {}),
        ({}, {"example.com/fpga": "0.5", "hugepages-1Gi": "2Gi", "ephemeral-storage": "10"}, {}),
    ],
)
def test_accelerators_from_extra_resource_limits(
    default_limits: dict[str, Any], override_limits: dict[str, Any], accelerators: dict[str, int]
) -> None:
    defaults = ProfileDefaults(extra_resource_limits=default_limits)
    p = one(
        {"display_name": "P", "kubespawner_override": {"extra_resource_limits": override_limits}},
        defaults,
    )
    assert dict(p.accelerators) == accelerators


@pytest.mark.parametrize(
    ("entries", "defaults"),
    [
        ([{"display_name": "A"}, {"display_name": "B", "default": True}], [False, True]),
        ([{"display_name": "A"}, {"display_name": "B"}], [True, False]),
        (
            [{"display_name": "A", "default": True}, {"display_name": "B", "default": True}],
            [True, False],
        ),
    ],
)
def test_one_default_as_kubespawner_picks_it(
    entries: list[dict[str, Any]], defaults: list[bool]
) -> None:
    assert [p.default for p in profiles_from_list(entries, defaults=NONE)] == defaults


@pytest.mark.parametrize(
    "display_name",
    [
        "Small server",
        "Small server (2 cores, 4 GiB)",
        "Bob's GPU: A100 / 80GB",
        "  Lots   of   space  ",
        "Ünïcødé Straße",
        "1,000 cores!",
        "CamelCase_and_underscores",
    ],
)
def test_slug_is_what_kubespawner_generates(display_name: str) -> None:
    from kubespawner import KubeSpawner

    spawner = KubeSpawner.__new__(KubeSpawner)  # _get_initialized_profile_list needs no state
    (expected,) = spawner._get_initialized_profile_list([{"display_name": display_name}])
    assert slugify(display_name) == expected["slug"]
    assert one({"display_name": display_name}).slug == expected["slug"]


@pytest.mark.parametrize(
    ("profile_list", "slug", "key", "words"),
    [
        (
            [{"display_name": "X", "kubespawner_override": {"cpu_guarantee": 4, "cpu_limit": 2}}],
            "x",
            "kubespawner_override.cpu_limit",
            ["below", "raise cpu_limit or lower cpu_guarantee"],
        ),
        (
            [
                {
                    "display_name": "X",
                    "kubespawner_override": {"mem_guarantee": "8G", "mem_limit": "4G"},
                }
            ],
            "x",
            "kubespawner_override.mem_limit",
            ["4 GiB", "8 GiB", "raise mem_limit"],
        ),
        (
            [{"display_name": "X", "kubespawner_override": {"mem_limit": "4 gigs"}}],
            "x",
            "kubespawner_override.mem_limit",
            ["'4 gigs'", "'4Gi'"],
        ),
        (
            [{"display_name": "X", "kubespawner_override": {"cpu_limit": "lots"}}],
            "x",
            "kubespawner_override.cpu_limit",
            ["'lots'", "500m"],
        ),
        (
            [{"display_name": "X", "kubespawner_override": {"cpu_limit": 0}}],
            "x",
            "kubespawner_override.cpu_limit",
            ["remove it"],
        ),
        (
            [{"display_name": "X", "kubespawner_override": {"cpu_limit": lambda spawner: 2}}],
            "x",
            "kubespawner_override.cpu_limit",
            ["callable", "give a value"],
        ),
        (
            [{"display_name": "X", "execplanner": {"max_duration": "8 hours"}}],
            "x",
            "execplanner.max_duration",
            ["PT8H"],
        ),
        (
            [{"display_name": "X", "execplanner": {"max_duration": 0}}],
            "x",
            "execplanner.max_duration",
            ["above zero"],
        ),
        (
            [{"display_name": "X", "execplanner": {"max_duraton": "PT8H"}}],
            "x",
            "execplanner",
            ["max_duration, prepare, pool", "max_duraton"],
        ),
        (
            [{"display_name": "X", "execplanner": {"pool": ""}}],
            "x",
            "execplanner.pool",
            ["pool name"],
        ),
        (
            [{"display_name": "Small"}, {"display_name": "small"}],
            "small",
            "slug",
            ["profile_list[0]", "profile_list[1]", "unique"],
        ),
        (
            [{"display_name": "X", "kubespawner_override": "cpu_limit=2"}],
            "x",
            "kubespawner_override",
            ["must be a dict"],
        ),
    ],
)
def test_errors_name_the_profile_the_key_and_the_fix(
    profile_list: list[dict[str, Any]], slug: str, key: str, words: list[str]
) -> None:
    with pytest.raises(ProfileError) as info:
        profiles_from_list(profile_list, defaults=NONE)
    text = str(info.value)
    assert (info.value.slug, info.value.key) == (slug, key)
    assert f"profile {slug!r}" in text and key.rsplit(".", 1)[-1] in text
    for word in words:
        assert word in text


def test_a_bad_default_names_the_spawner_setting() -> None:
    with pytest.raises(ProfileError, match=r"profile 'x': c.KubeSpawner.mem_limit: '4 gigs'"):
        profiles_from_list([{"display_name": "X"}], defaults=ProfileDefaults(mem_limit="4 gigs"))


@pytest.mark.parametrize(
    ("profile_list", "words"),
    [
        (lambda spawner: [], "a callable profile_list is not supported yet; give a list"),
        ("small", "must be a list"),
        ([{"slug": "x"}], "profile_list[0] needs a 'display_name'"),
        ([["X"]], "profile_list[0] must be a dict"),
        ([{"display_name": "!!!"}], "no usable slug"),
        ({"k": {"display_name": "X", "slug": ""}}, "profile_list['k']"),
    ],
)
def test_malformed_lists(profile_list: Any, words: str) -> None:
    with pytest.raises(ProfileError) as info:
        profiles_from_list(profile_list, defaults=NONE)
    assert words in str(info.value)


def test_empty_list_gives_no_profiles() -> None:
    assert profiles_from_list([], defaults=NONE) == []
    assert profiles_from_list({}, defaults=NONE) == []


@pytest.mark.parametrize(
    ("totals", "defaults", "expected"),
    [
        (
            {"cores": 8, "memory": 31},
            NONE,
            ("This host (8 cores, 31 GiB)", 0.0, 8.0, 0.0, 31.0, {}),
        ),
        (
            {"cores": 8, "memory": 31, "nvidia.com/gpu": 1},
            ProfileDefaults(cpu_guarantee=1, mem_guarantee="2G", cpu_limit=4),
            ("This host (4 cores, 31 GiB)", 1.0, 4.0, 2.0, 31.0, {"nvidia.com/gpu": 1}),
        ),
    ],
)
def test_local_host_profile(
    totals: dict[str, float], defaults: ProfileDefaults, expected: tuple[Any, ...]
) -> None:
    p = local_host_profile(totals, defaults)
    assert (p.slug, p.pool, p.default) == ("local", "default", True)
    assert (
        p.display_name,
        p.cores_min,
        p.cores_max,
        p.memory_min,
        p.memory_max,
        dict(p.accelerators),
    ) == expected


def test_profile_summary_is_json_ready() -> None:
    _, gpu = profiles_from_list([SMALL, GPU], defaults=NONE)
    assert profile_summary(gpu) == {
        "slug": "gpu",
        "display_name": "GPU server",
        "description": "",
        "cores": {"min": 0, "max": 8.0},
        "memory": {"min": 0, "max": 32.0},
        "accelerators": {"nvidia.com/gpu": 2},
        "image": None,
        "pool": "gpu",
        "max_duration": "PT8H",
    }


def test_defaults_from_a_spawner() -> None:
    class Spawner:
        cpu_limit = 2.0
        cpu_guarantee = None
        mem_limit = 4 * 1024**3
        mem_guarantee = None
        image = "quay.io/jupyter/base-notebook"
        extra_resource_limits = {"nvidia.com/gpu": "1"}

    defaults = ProfileDefaults.from_spawner(Spawner, prepare=60)
    p = one({"display_name": "P"}, defaults)
    assert (p.cores_max, p.memory_max, p.image) == (2.0, 4.0, "quay.io/jupyter/base-notebook")
    assert dict(p.accelerators) == {"nvidia.com/gpu": 1}
    assert p.prepare == timedelta(minutes=1)
