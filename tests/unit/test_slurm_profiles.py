"""A Slurm hub's profiles (ProfilesSpawner over SlurmSpawner, c.ExecPlanner.profiles, the default
partition), the hub's spawner recognised, and a session's job as ExecPlannerSlurmSpawner asks for it."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from traitlets.config import Config

from jupyterhub_execplanner.launch import LaunchSpec
from jupyterhub_execplanner.platform.profiles import ProfileError
from jupyterhub_execplanner.platform.slurmcli import parse_nodes, parse_partitions
from jupyterhub_execplanner.platform.slurmprofiles import is_slurm_hub, slurm_profiles
from jupyterhub_execplanner.platform.slurmspawner import batch_command, job_settings

SPAWNER = "jupyterhub_execplanner.platform.slurmspawner.ExecPlannerSlurmSpawner"
PARTITIONS = parse_partitions(
    "PartitionName=cpu Default=YES MaxTime=12:00:00 Nodes=c[1-2] State=UP\n"
    "PartitionName=gpu Default=NO MaxTime=UNLIMITED Nodes=g1 State=UP\n")
NODES = parse_nodes(
    "NodeName=c1 CPUTot=32 RealMemory=131072 Gres=(null) State=IDLE Partitions=cpu\n"
    "NodeName=c2 CPUTot=64 RealMemory=262144 Gres=(null) State=IDLE+DRAIN Partitions=cpu\n"
    "NodeName=g1 CPUTot=16 RealMemory=65536 Gres=gpu:4 State=MIXED Partitions=gpu\n")
TIMES = {"prepare": timedelta(seconds=30), "max_duration": timedelta(hours=8)}


def config(**sections: dict) -> Config:
    c = Config()
    for name, values in sections.items():
        for key, value in values.items():
            setattr(getattr(c, name), key, value)
    return c


@pytest.mark.parametrize(
    ("sections", "slurm"),
    [
        ({"JupyterHub": {"spawner_class": "batchspawner.SlurmSpawner"}}, True),
        ({"JupyterHub": {"spawner_class": SPAWNER}}, True),
        ({"JupyterHub": {"spawner_class": "wrapspawner.ProfilesSpawner"},
          "ProfilesSpawner": {"child_class": SPAWNER}}, True),
        ({"JupyterHub": {"spawner_class": "wrapspawner.ProfilesSpawner"},
          "ProfilesSpawner": {"profiles": [("A", "a", "batchspawner.SlurmSpawner", {})]}}, True),
        ({"JupyterHub": {"spawner_class": "wrapspawner.ProfilesSpawner"}}, False),
        ({"JupyterHub": {"spawner_class": "batchspawner.TorqueSpawner"}}, False),
        ({"JupyterHub": {"spawner_class": "kubespawner.KubeSpawner"}}, False),
        ({}, False),
    ],
)
def test_slurm_hubs_are_recognised(sections: dict, slurm: bool) -> None:
    assert is_slurm_hub(config(**sections)) is slurm


def test_profiles_spawner_profiles_are_fixed_sizes_in_their_partitions() -> None:
    c = config(
        JupyterHub={"spawner_class": "wrapspawner.ProfilesSpawner"},
        ProfilesSpawner={"profiles": [
            ("Small", "small", SPAWNER, {"req_nprocs": "2", "req_memory": "4G"}),
            ("GPU", "gpu", SPAWNER, {"req_partition": "gpu", "req_nprocs": "8", "req_memory": "32000",
                                     "req_ngpus": "1", "req_runtime": "2:00:00"}),
            ("Two A100", "a100", SPAWNER, {"req_partition": "gpu", "req_gres": "gpu:a100:2"}),
        ]},
        SlurmSpawner={"req_runtime": "4:00:00"},
    )
    profiles, source = slurm_profiles(c, [], PARTITIONS, NODES, **TIMES)
    assert source == "c.ProfilesSpawner.profiles"
    small, gpu, a100 = profiles
    assert (small.pool, small.cores_min, small.cores_max, small.memory_min, small.memory_max) == (
        "cpu", 2, 2, 4, 4)
    assert small.max_duration == timedelta(hours=4) and not small.accelerators  # c.SlurmSpawner's
    assert (gpu.pool, gpu.cores_max, dict(gpu.accelerators)) == ("gpu", 8, {"gpu": 1})
    assert gpu.memory_max == pytest.approx(32000 / 1024) and gpu.max_duration == timedelta(hours=2)
    assert dict(a100.accelerators) == {"gpu": 2} and a100.cores_max is None


@pytest.mark.parametrize(
    ("settings", "named"),
    [({"req_nprocs": "two"}, "req_nprocs"), ({"req_memory": "lots"}, "req_memory"),
     ({"req_runtime": "soon"}, "req_runtime"), ({"req_ngpus": "-1"}, "req_ngpus")],
)
def test_bad_profile_settings_name_the_setting(settings: dict, named: str) -> None:
    c = config(JupyterHub={"spawner_class": "wrapspawner.ProfilesSpawner"},
               ProfilesSpawner={"profiles": [("Bad", "bad", SPAWNER, settings)]})
    with pytest.raises(ProfileError, match=named):
        slurm_profiles(c, [], PARTITIONS, NODES, **TIMES)


def test_own_profiles_default_to_the_default_partition() -> None:
    own = [{"display_name": "Any", "slug": "any", "kubespawner_override": {"cpu_limit": 4}},
           {"display_name": "G", "slug": "g", "execplanner": {"pool": "gpu"},
            "kubespawner_override": {"extra_resource_limits": {"gpu": 1}}}]
    profiles, source = slurm_profiles(config(JupyterHub={"spawner_class": SPAWNER}), own,
                                      PARTITIONS, NODES, **TIMES)
    assert source == "c.ExecPlanner.profiles"
    assert [(p.slug, p.pool, dict(p.accelerators)) for p in profiles] == [
        ("any", "cpu", {}), ("g", "gpu", {"gpu": 1})]


def test_without_profiles_the_default_partition_is_offered_up_to_its_largest_usable_node() -> None:
    (profile,), source = slurm_profiles(config(JupyterHub={"spawner_class": SPAWNER}), [],
                                        PARTITIONS, NODES, **TIMES)
    assert source == "partition cpu"
    # c2 (64 cores) is drained: c1 is the largest node that takes jobs
    assert (profile.pool, profile.cores_max, profile.memory_max) == ("cpu", 32, 128)
    assert profile.max_duration == timedelta(hours=12) and profile.default


def test_no_partition_at_all_says_what_to_do() -> None:
    with pytest.raises(ProfileError, match="no partition"):
        slurm_profiles(config(JupyterHub={"spawner_class": SPAWNER}), [], [], [], **TIMES)


def spec(**changes: object) -> LaunchSpec:
    values = {"session": "0b7c", "owner": "alice", "server_name": "ep-0b7c", "profile": "gpu",
              "cores": 2, "memory": 4, "end": "2026-12-07T15:00:00Z", "accelerators": {"gpu": 1}}
    values.update(changes)
    return LaunchSpec(**values)  # type: ignore[arg-type]


def test_a_sessions_job_asks_for_the_offer_until_its_end() -> None:
    now = datetime(2026, 12, 7, 14, 0, tzinfo=timezone.utc)
    settings = job_settings(spec(), now, reservation="execplanner-0b7c")
    assert settings == {
        "req_runtime": "0-01:01:00",  # to the session's end, and the minute the server takes to stop
        "req_options": "--no-requeue --comment=execplanner:0b7c",
        "req_nprocs": "2", "req_memory": "4G", "req_gres": "gpu:1",
        "req_reservation": "execplanner-0b7c",
    }
    assert "req_reservation" not in job_settings(spec(accelerators={}), now)
    assert "req_gres" not in job_settings(spec(accelerators={}), now)


def test_the_job_command_puts_batchspawner_singleuser_inside_the_preload() -> None:
    wrapped = ["/v/bin/python", "-m", "jupyterhub_execplanner.singleuser", "--",
               "/v/bin/jupyterhub-singleuser"]
    assert batch_command("/v/bin/batchspawner-singleuser", wrapped, ["--allow-root"]) == (
        "/v/bin/python -m jupyterhub_execplanner.singleuser -- /v/bin/batchspawner-singleuser "
        "/v/bin/jupyterhub-singleuser --allow-root")
    assert batch_command("bs", ["jupyterhub-singleuser"], ["--debug"]) == "bs jupyterhub-singleuser --debug"
    assert batch_command("bs", ["x y"], []) == "bs 'x y'"


def test_the_example_slurm_hub_is_a_slurm_hub_with_its_three_profiles(
        tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from pathlib import Path

    from traitlets.config.loader import PyFileConfigLoader

    examples = Path(__file__).resolve().parents[2] / "examples" / "slurm"
    monkeypatch.setenv("EXECPLANNER_STATE_DIR", str(tmp_path))
    c = PyFileConfigLoader("jupyterhub_config.py", path=str(examples)).load_config()
    assert is_slurm_hub(c)
    assert any(s.get("name") == "execplanner" for s in c.JupyterHub.services)
    profiles, source = slurm_profiles(c, [], PARTITIONS, NODES, **TIMES)
    assert source == "c.ProfilesSpawner.profiles"
    assert [(p.slug, p.pool, p.cores_max, dict(p.accelerators)) for p in profiles] == [
        ("small", "cpu", 2, {}), ("node", "cpu", 32, {}), ("gpu", "gpu", 8, {"gpu": 1})]
