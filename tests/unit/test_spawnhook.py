"""The pre-spawn hook on a real SimpleLocalProcessSpawner object: a signed launch is applied, anything
else claiming to be the broker's is refused, ordinary servers are left alone, the admin's hook runs."""

from __future__ import annotations

import json
import sys
from types import SimpleNamespace
from typing import Any

import pytest
from jupyterhub import orm
from jupyterhub.spawner import SimpleLocalProcessSpawner, SpawnException
from traitlets import Dict, Unicode
from traitlets.config import Config

from jupyterhub_execplanner import launch, setup_execplanner
from jupyterhub_execplanner.launch import DataItem, LaunchSpec
from jupyterhub_execplanner.service.settings import ExecPlanner
from jupyterhub_execplanner.singleuser.plan import PreloadPlan
from jupyterhub_execplanner.spawnhook import apply_launch, make_pre_spawn_hook

SECRET = "s3cret"
SERVICE = "http://127.0.0.1:10101"


def spec(**changes: Any) -> LaunchSpec:
    values: dict[str, Any] = dict(
        session="0b5c1c1e-2d3f-4a5b-8c9d-0e1f2a3b4c5d",
        owner="alice",
        server_name=launch.server_name_for("0b5c1c1e-2d3f-4a5b-8c9d-0e1f2a3b4c5d"),
        profile="small",
        cores=2,
        memory=4,
        end="2030-01-01T00:00:00Z",
        notebook="https://example.org/notebooks/My%20Analysis.ipynb?raw=1",
        requirements="requirements.txt",
        data=(DataItem("table.fits", "https://example.org/t.fits"),),
    )
    values.update(changes)
    return LaunchSpec(**values)


def spawner(options: dict | None = None, *, name: str | None = None, user: str = "alice",
            cls: type = SimpleLocalProcessSpawner, **config: Any) -> Any:
    owner = SimpleNamespace(name=user, escaped_name=user, id=1, url=f"/user/{user}/", urls={},
                            settings={})
    row = orm.Spawner(name=name if name is not None else spec().server_name)  # not in a database
    made = cls(user=owner, orm_spawner=row, config=Config({"ExecPlanner": config}))
    made.user_options = options or {}
    return made


async def run_hook(s: Any, **kwargs: Any) -> None:
    hook = make_pre_spawn_hook(SECRET, service_url=SERVICE, service_name="execplanner", **kwargs)
    await hook(s)


async def test_signed_launch_is_applied() -> None:
    s = spawner(launch.to_user_options(spec(), SECRET), pip_extra_args=["--no-index"],
                preload_installer="uv")
    await run_hook(s)
    assert (s.cpu_limit, s.cpu_guarantee) == (2.0, 2.0)
    assert (s.mem_limit, s.mem_guarantee) == (4 * 1024**3, 4 * 1024**3)
    assert s.cmd == [sys.executable, "-m", "jupyterhub_execplanner.singleuser", "--",
                     "jupyterhub-singleuser"]
    path = "execplanner/ep-0b5c1c1e2d3f/My_Analysis.ipynb"
    assert launch.notebook_path(spec()) == path
    assert s.default_url == f"/lab/tree/{path}"
    assert s.http_timeout == 600
    plan = PreloadPlan.from_json(s.environment[launch.PRELOAD_ENV])
    assert plan.spec == spec()
    assert plan.report_url == (f"{SERVICE}/services/execplanner/sessions/{spec().session}/progress")
    assert plan.report_token == launch.report_token(SECRET, spec().session)
    assert launch.check_report_token(SECRET, spec().session, plan.report_token)
    assert not launch.check_report_token(SECRET, "another-session", plan.report_token)
    assert plan.pip_extra_args == ("--no-index",)
    assert plan.installer == "uv"
    assert plan.max_notebook_size == 20 * 1024 * 1024 and plan.timeout == 60


async def test_plain_session_opens_lab_and_keeps_the_admins_command() -> None:
    s = spawner(launch.to_user_options(spec(notebook=None, requirements=None, data=()), SECRET))
    s.cmd = ["/opt/bin/jupyterhub-singleuser", "--debug"]
    s.http_timeout = 900
    await run_hook(s)
    assert s.default_url == "/lab"
    assert s.cmd[-3:] == ["--", "/opt/bin/jupyterhub-singleuser", "--debug"]
    assert s.http_timeout == 900


class ImageSpawner(SimpleLocalProcessSpawner):
    """Stands for KubeSpawner/DockerSpawner: an image and extra resource limits."""

    image = Unicode("base:latest").tag(config=True)
    extra_resource_limits = Dict().tag(config=True)


async def test_image_and_accelerators_on_spawners_that_have_them() -> None:
    s = spawner(launch.to_user_options(spec(image="gpu:1", accelerators={"nvidia.com/gpu": 1}), SECRET),
                cls=ImageSpawner)
    s.extra_resource_limits = {"example.com/fpga": "1"}
    await run_hook(s)
    assert s.image == "gpu:1"
    assert s.extra_resource_limits == {"example.com/fpga": "1", "nvidia.com/gpu": "1"}
    assert s.cmd[0] == "python3"  # the hub's Python is not in the image
    plain = spawner(launch.to_user_options(spec(image="gpu:1"), SECRET))
    await run_hook(plain)
    assert not plain.has_trait("image")


async def test_no_options_leave_the_server_untouched() -> None:
    s = spawner({"profile": "large"})
    await run_hook(s)
    assert s.cmd == ["jupyterhub-singleuser"]
    assert s.environment == {} and s.default_url == "" and s.cpu_limit is None


def altered(options: dict, **changes: Any) -> dict:
    forged = json.loads(json.dumps(options))
    forged[launch.LAUNCH_OPTION].update(changes)
    return forged


GOOD = launch.to_user_options(spec(), SECRET)


@pytest.mark.parametrize(
    ("options", "user", "expected"),
    [
        (launch.to_user_options(spec(), "another-secret"), "alice", "not signed by this hub's broker"),
        (altered(GOOD, cores=64), "alice", "not signed"),
        ({**GOOD, "profile": "large"}, "alice", "do not match their signed launch"),
        ({launch.SESSION_OPTION: spec().session}, "alice", "without a launch and its signature"),
        (GOOD, "mallory", "is for alice/ep-0b5c1c1e2d3f, not mallory/ep-0b5c1c1e2d3f"),
    ],
    ids=["other-secret", "altered", "profile-swapped", "unsigned", "other-user"],
)
async def test_forged_options_are_refused(options: dict, user: str, expected: str) -> None:
    s = spawner(options, user=user)
    with pytest.raises(SpawnException) as e:
        await run_hook(s)
    assert e.value.status_code == 403
    assert expected in e.value.message
    assert e.value.jupyterhub_message == e.value.message  # the progress event shows this
    assert "start an ordinary server" in e.value.message
    assert launch.PRELOAD_ENV not in s.environment and s.cmd == ["jupyterhub-singleuser"]


async def test_other_server_name_is_refused() -> None:
    with pytest.raises(SpawnException, match="not alice/ep-other"):
        await run_hook(spawner(GOOD, name="ep-other"))


@pytest.mark.parametrize("is_async", [False, True])
async def test_the_admins_hook_runs_first(is_async: bool) -> None:
    calls: list[str] = []

    def sync_hook(s: Any) -> None:
        calls.append(f"admin saw {s.cmd[0]}")
        s.environment["GREETING"] = "hello"

    async def async_hook(s: Any) -> None:
        sync_hook(s)

    s = spawner(GOOD)
    await run_hook(s, previous=async_hook if is_async else sync_hook)
    assert calls == ["admin saw jupyterhub-singleuser"]
    assert s.environment["GREETING"] == "hello" and launch.PRELOAD_ENV in s.environment


async def test_a_reused_spawner_does_not_wrap_twice_and_forgets_the_launch() -> None:
    s = spawner(GOOD)
    hook = make_pre_spawn_hook(SECRET, service_url=SERVICE)
    await hook(s)
    await hook(s)
    assert s.cmd.count("--") == 1
    s.user_options = {}
    await hook(s)
    assert s.cmd == ["jupyterhub-singleuser"] and s.environment == {} and s.default_url == ""
    assert s.cpu_limit is None and s.http_timeout == 30


def test_setup_installs_the_hook_chained_and_shares_the_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(launch.SECRET_ENV, "from-env")

    def admin_hook(s: Any) -> None:
        pass

    c = Config()
    c.Spawner.pre_spawn_hook = admin_hook
    c.KubeSpawner.pre_spawn_hook = admin_hook
    setup_execplanner(c, hub_config_file="")
    setup_execplanner(c, hub_config_file="")  # twice: not chained to itself
    assert c.JupyterHub.allow_named_servers is True
    assert c.Spawner.pre_spawn_hook.execplanner_previous is admin_hook
    assert c.KubeSpawner.pre_spawn_hook.execplanner_previous is admin_hook
    assert c.JupyterHub.services[0]["environment"] == {launch.SECRET_ENV: "from-env"}


async def test_settings_are_read_from_the_hub_config_at_spawn() -> None:
    s = spawner(GOOD, preload_timeout=5, requirements_allow_options=True, preload_start_timeout=120)
    await run_hook(s)
    plan = PreloadPlan.from_json(s.environment[launch.PRELOAD_ENV])
    assert (plan.timeout, plan.allow_options, plan.install_timeout) == (5, True, 120)
    assert s.http_timeout == 120
    explicit = spawner(GOOD)
    await run_hook(explicit, settings=ExecPlanner(preload_installer="pip"))
    assert PreloadPlan.from_json(explicit.environment[launch.PRELOAD_ENV]).installer == "pip"


async def test_apply_launch_directly_returns_the_spec() -> None:
    s = spawner(GOOD)
    assert apply_launch(s, SECRET, settings=ExecPlanner()) == spec()
    assert PreloadPlan.from_json(s.environment[launch.PRELOAD_ENV]).report_url == ""
