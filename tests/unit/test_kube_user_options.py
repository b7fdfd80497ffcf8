"""A mock KubeSpawner (as kubespawner's own tests make it; no cluster) given the user_options the
driver sends for an accepted offer: KubeSpawner accepts the execplanner keys, applies the profile
and its option choices, and (with the broker's pre-spawn hook, run in the hub's order: the hook,
then ``start()`` -> ``load_user_options``) ends with the offer's resources and image."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from jupyterhub import orm
from kubernetes_asyncio.config import kube_config
from kubespawner import KubeSpawner
from traitlets.config import Config

from jupyterhub_execplanner import launch
from jupyterhub_execplanner.model.offer import OfferPlan, SessionRecord
from jupyterhub_execplanner.model.phases import Phase
from jupyterhub_execplanner.model.request import ExecutableSpec, ExecutionRequest
from jupyterhub_execplanner.platform.kubeprofiles import profiles_from_kubespawner
from jupyterhub_execplanner.platform.profiles import ProfileDefaults
from jupyterhub_execplanner.sessions.store import offer_from_dict, offer_to_dict
from jupyterhub_execplanner.spawnhook import PRELOAD_MODULE, make_pre_spawn_hook
from jupyterhub_execplanner.worker.decide import launch_spec

SECRET = "kube-secret"
GIB = 1024**3
SESSION = "0b5c1c1e-2d3f-4a5b-8c9d-0e1f2a3b4c5d"
SERVER = launch.server_name_for(SESSION)
PROFILES = [
    {"display_name": "Small", "slug": "small",
     "kubespawner_override": {"cpu_limit": 2, "mem_limit": "4G"}},
    {"display_name": "Python", "slug": "python", "default": True,
     "kubespawner_override": {"cpu_guarantee": 1, "cpu_limit": 8, "mem_guarantee": "2G",
                              "mem_limit": "32G", "environment": {"FROM_PROFILE": "1"}},
     "profile_options": {
         "image": {"choices": {
             "scipy": {"kubespawner_override": {"image": "quay.io/jupyter/scipy-notebook:2024"}},
             "r": {"kubespawner_override": {"image": "quay.io/jupyter/r-notebook:2024"}}},
             "unlisted_choice": {"enabled": True, "validation_regex": "^quay[.]io/",
                                 "kubespawner_override": {"image": "{value}"}}},
         "node": {"choices": {
             "any": {"kubespawner_override": {}},
             "gpu": {"kubespawner_override": {
                 "node_selector": {"cloud.google.com/gke-nodepool": "gpu"},
                 "extra_resource_limits": {"nvidia.com/gpu": "1"},
                 "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists"}]}}}}}},
]  # fmt: skip


@pytest.fixture(autouse=True)
def kubeconfig(tmp_path: Path) -> Iterator[None]:
    """KubeSpawner(_mock=True) loads a kube config (never connecting): one for a closed port."""
    path = tmp_path / "kubeconfig"
    path.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: loopback\n"
        "clusters: [{name: loopback, cluster: {server: 'http://127.0.0.1:9'}}]\n"
        "users: [{name: nobody, user: {token: unused}}]\n"
        "contexts: [{name: loopback, context: {cluster: loopback, user: nobody}}]\n"
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(path))
        mp.delenv("KUBERNETES_SERVICE_HOST", raising=False)
        yield


def config() -> Config:
    c = Config()
    c.JupyterHub.spawner_class = "kubespawner.KubeSpawner"
    c.KubeSpawner.image = "quay.io/jupyter/base-notebook:2024"
    c.KubeSpawner.cmd = ["jupyterhub-singleuser"]
    c.KubeSpawner.profile_list = copy.deepcopy(PROFILES)
    return c


def kube_spawner(options: dict[str, Any]) -> KubeSpawner:
    user = type("User", (), {"name": "alice", "escaped_name": "alice", "id": 7,
                             "url": "/user/alice/", "urls": {}, "settings": {}})()  # fmt: skip
    spawner = KubeSpawner(config=config(), _mock=True, user=user, orm_spawner=orm.Spawner(name=SERVER))
    spawner.user_options = options
    return spawner


def accepted(slug: str, options: dict[str, str], cores: int, memory: int,
             image: str | None = None, gpus: int = 0) -> SessionRecord:
    """A session as the manager keeps it after an accept, for an offer the planner made."""
    now = datetime(2026, 11, 24, 15, tzinfo=timezone.utc)
    offer = OfferPlan(
        profile=slug, profile_name=slug, cores=cores, memory=memory, start=now,
        duration=timedelta(hours=1), preparing=timedelta(seconds=30),
        releasing=timedelta(seconds=10), accelerators={"nvidia.com/gpu": gpus} if gpus else {},
        image=image, options=options,
    )  # fmt: skip
    offer = offer_from_dict(offer_to_dict(offer))  # as the store gives it back
    request = ExecutionRequest(ExecutableSpec(kind="docker-container", image=image))
    return SessionRecord(SESSION, "os", "alice", "s", Phase.ACCEPTED, now, now, now, request, offer)


async def claimed(*_: Any) -> None:
    """The broker's answer to the hook's claim of a launch: yes (these tests have no broker; the
    claim itself is tested in test_spawnhook.py and end to end)."""


def driver_options(record: SessionRecord) -> dict[str, Any]:
    return launch.to_user_options(launch_spec(record, SERVER), SECRET)


async def start_as_the_hub_does(spawner: KubeSpawner) -> None:
    """user.spawn: ``pre_spawn_hook``, then ``spawner.start()``, whose first step is
    ``load_user_options``."""
    await make_pre_spawn_hook(SECRET, service_url="http://hub:10101", claim=claimed)(spawner)
    await spawner.load_user_options()


async def test_kubespawner_accepts_the_execplanner_keys_and_applies_the_choices() -> None:
    options = driver_options(accepted("python", {"image": "r", "node": "gpu"}, 2, 4, gpus=1))
    assert {k: options[k] for k in ("profile", "image", "node")} == {
        "profile": "python", "image": "r", "node": "gpu"}  # fmt: skip
    spawner = kube_spawner(options)
    await spawner.load_user_options()  # KubeSpawner alone: no error for the execplanner_* keys
    assert spawner.image == "quay.io/jupyter/r-notebook:2024"
    assert spawner.node_selector == {"cloud.google.com/gke-nodepool": "gpu"}
    assert spawner.tolerations == [{"key": "nvidia.com/gpu", "operator": "Exists"}]
    assert (spawner.cpu_limit, spawner.mem_limit) == (8.0, 32 * GIB)  # the profile's


@pytest.mark.parametrize(
    ("slug", "options", "cores", "memory", "image", "gpus"),
    [
        ("small", {}, 2, 4, "quay.io/jupyter/base-notebook:2024", 0),
        ("python", {"image": "scipy", "node": "any"}, 3, 6, "quay.io/jupyter/scipy-notebook:2024", 0),
        ("python", {"image": "r", "node": "gpu"}, 8, 32, "quay.io/jupyter/r-notebook:2024", 1),
        ("python", {"node": "any", "image--unlisted-choice": "quay.io/me/mine:1"}, 1, 2,
         "quay.io/me/mine:1", 0),
    ],
)  # fmt: skip
async def test_the_server_ends_with_the_offer(
    slug: str, options: dict[str, str], cores: int, memory: int, image: str, gpus: int
) -> None:
    spawner = kube_spawner(driver_options(accepted(slug, options, cores, memory, image, gpus)))
    await start_as_the_hub_does(spawner)
    assert (spawner.cpu_guarantee, spawner.cpu_limit) == (cores, cores)
    assert (spawner.mem_guarantee, spawner.mem_limit) == (memory * GIB, memory * GIB)
    assert spawner.image == image
    assert spawner.extra_resource_limits == ({"nvidia.com/gpu": "1"} if gpus else {})
    assert spawner.cmd[1:4] == ["-m", PRELOAD_MODULE, "--"]
    assert spawner.cmd[4:] == ["jupyterhub-singleuser"]  # wrapped once, not twice
    assert launch.PRELOAD_ENV in spawner.environment
    if slug == "python":  # the profile's own settings stay
        assert spawner.environment["FROM_PROFILE"] == "1"


async def test_the_next_ordinary_start_gets_the_profile_again() -> None:
    spawner = kube_spawner(driver_options(accepted("small", {}, 1, 1)))
    await start_as_the_hub_does(spawner)
    spawner.user_options = {"profile": "small"}
    await start_as_the_hub_does(spawner)
    assert (spawner.cpu_limit, spawner.mem_limit) == (2.0, 4 * GIB)
    assert spawner.cmd == ["jupyterhub-singleuser"]
    assert launch.PRELOAD_ENV not in spawner.environment
    assert "load_user_options" not in vars(spawner)


async def test_a_start_that_failed_before_the_profile_leaves_no_wrapper() -> None:
    spawner = kube_spawner(driver_options(accepted("small", {}, 1, 1)))
    await make_pre_spawn_hook(SECRET, claim=claimed)(spawner)
    assert "load_user_options" in vars(spawner)  # start() never ran
    spawner.user_options = {"profile": "small"}
    await start_as_the_hub_does(spawner)
    assert "load_user_options" not in vars(spawner) and spawner.cpu_limit == 2.0


async def test_changed_choices_are_refused() -> None:
    options = driver_options(accepted("python", {"image": "scipy", "node": "any"}, 1, 2))
    options["node"] = "gpu"  # a user re-posting a signed launch with a GPU
    with pytest.raises(Exception, match="profile options do not match"):
        await make_pre_spawn_hook(SECRET, claim=claimed)(kube_spawner(options))


async def test_kubespawner_rejects_an_unlisted_image_outside_the_regex() -> None:
    """KubeSpawner validates the unlisted image itself: a launch cannot bypass the regex."""
    record = accepted("python", {"node": "any", "image--unlisted-choice": "docker.io/x:1"}, 1, 2)
    spawner = kube_spawner(driver_options(record))
    with pytest.raises(ValueError, match="failed validation regex"):
        await start_as_the_hub_does(spawner)


def test_offers_of_the_planner_carry_options_to_user_options() -> None:
    profiles = profiles_from_kubespawner(config(), defaults=ProfileDefaults())
    gpu = next(p for p in profiles if dict(p.options) == {"image": "r", "node": "gpu"})
    assert dict(gpu.accelerators) == {"nvidia.com/gpu": 1}
    options = driver_options(accepted(gpu.slug, dict(gpu.options), 1, 1, gpus=1))
    spec = launch.from_user_options(options, SECRET, user="alice", server_name=SERVER)
    assert spec is not None and spec.options == {"image": "r", "node": "gpu"}
