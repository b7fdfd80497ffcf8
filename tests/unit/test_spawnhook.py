"""The pre-spawn hook on a real SimpleLocalProcessSpawner object: a signed launch is claimed from the
broker, then applied; anything else claiming to be the broker's (forged, extra keys, expired, already
used) is refused, ordinary servers are left alone, the admin's hook runs."""

from __future__ import annotations

import json
import socket
import sys
from collections.abc import AsyncIterator
from datetime import datetime, timezone
from types import SimpleNamespace
from typing import Any

import pytest
from jupyterhub import orm
from jupyterhub.spawner import SimpleLocalProcessSpawner, SpawnException
from tornado import web
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets
from traitlets import Dict, Unicode
from traitlets.config import Config

from jupyterhub_execplanner import launch, setup_execplanner
from jupyterhub_execplanner.launch import DataItem, LaunchSpec
from jupyterhub_execplanner.service.settings import ExecPlanner
from jupyterhub_execplanner.singleuser.plan import PreloadPlan
from jupyterhub_execplanner.spawnhook import apply_launch, claim_launch, make_pre_spawn_hook

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
        nonce="9f86d081884c7d659a2feaa0c55ad015",
        not_after="2030-01-01T00:00:00Z",
    )
    values.update(changes)
    return LaunchSpec(**values)


CLAIMS: list[tuple[str, str, str]] = []  # (session, nonce, service url) the fake broker was asked


async def claimed(spec: LaunchSpec, secret: str, service_url: str, service_name: str) -> None:
    """A broker that lets every launch be used (the real one is tested below)."""
    CLAIMS.append((spec.session, spec.nonce, service_url))


def spawner(options: dict | None = None, *, name: str | None = None, user: str = "alice",
            cls: type = SimpleLocalProcessSpawner, **config: Any) -> Any:
    owner = SimpleNamespace(name=user, escaped_name=user, id=1, url=f"/user/{user}/", urls={},
                            settings={})
    row = orm.Spawner(name=name if name is not None else spec().server_name)  # not in a database
    made = cls(user=owner, orm_spawner=row, config=Config({"ExecPlanner": config}))
    made.user_options = options or {}
    return made


async def run_hook(s: Any, **kwargs: Any) -> None:
    kwargs.setdefault("claim", claimed)
    kwargs.setdefault("service_url", SERVICE)
    hook = make_pre_spawn_hook(SECRET, service_name="execplanner", **kwargs)
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
WITH_CHOICES = launch.to_user_options(spec(options={"image": "scipy"}), SECRET)
NOW = datetime(2029, 12, 31, 23, 59, 59, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("options", "now", "refusal"),
    [
        (GOOD, NOW, None),
        (WITH_CHOICES, NOW, None),
        ({**GOOD, "image": "evil:latest"}, NOW, "the options image are not part of the signed launch"),
        ({**GOOD, "cpu_limit": 64, "mem_limit": "1T"}, NOW,
         "the options cpu_limit, mem_limit are not part of the signed launch"),
        ({**WITH_CHOICES, "node": "gpu"}, NOW, "the options node are not part of the signed launch"),
        ({**WITH_CHOICES, "image": "r"}, NOW, "the profile options do not match"),
        ({k: v for k, v in WITH_CHOICES.items() if k != "image"}, NOW, "the profile options do not match"),
        ({k: v for k, v in GOOD.items() if k != "profile"}, NOW, "do not match their signed launch"),
        (GOOD, datetime(2030, 1, 1, tzinfo=timezone.utc),
         "this launch expired at 2030-01-01T00:00:00Z"),
        (altered(GOOD, nonce=""), NOW, "not signed"),
        (launch.to_user_options(spec(not_after="soon"), SECRET), NOW, "malformed"),
    ],
    ids=["signed", "signed-with-choices", "extra-image", "extra-limits", "extra-option",
         "changed-choice", "missing-choice", "missing-profile", "expired",
         "nonce-removed", "bad-time"],
)
def test_a_launch_is_exactly_the_signed_options_within_their_time(
    options: dict, now: datetime | None, refusal: str | None
) -> None:
    read = lambda: launch.from_user_options(  # noqa: E731
        options, SECRET, user="alice", server_name=spec().server_name, now=now)
    if refusal is None:
        got = read()
        assert got is not None and got.nonce and got.not_after
        return
    with pytest.raises(launch.LaunchRefused, match=refusal):
        read()


def test_a_launch_issued_when_signed_is_good_now() -> None:
    """Signed now (by the wall clock, as the driver does), read back now: accepted. (Made in the
    test, not at collection: the launch is good for five minutes only.)"""
    options = launch.to_user_options(spec(nonce="", not_after=""), SECRET)
    got = launch.from_user_options(options, SECRET, user="alice", server_name=spec().server_name)
    assert got is not None and got.nonce and got.not_after


def test_each_launch_gets_its_own_nonce_and_time_limit() -> None:
    first, second = launch.issue(spec(), NOW), launch.issue(spec(), NOW)
    assert len(first.nonce) == 32 and first.nonce != second.nonce
    assert first.not_after == "2030-01-01T00:04:59Z"  # five minutes
    unsigned = spec(nonce="", not_after="")
    made = launch.to_user_options(unsigned, SECRET)[launch.LAUNCH_OPTION]
    assert made["nonce"] and made["not_after"], "to_user_options issues one when there is none"
    token = launch.launch_token(SECRET, first.session, first.nonce)
    assert launch.check_launch_token(SECRET, first.session, first.nonce, token)
    assert not launch.check_launch_token(SECRET, first.session, second.nonce, token)
    assert not launch.check_launch_token("other", first.session, first.nonce, token)
    assert not launch.check_launch_token(SECRET, first.session, first.nonce, "ünicode")


@pytest.mark.parametrize(
    ("options", "user", "expected"),
    [
        (launch.to_user_options(spec(), "another-secret"), "alice", "not signed by this hub's broker"),
        (altered(GOOD, cores=64), "alice", "not signed"),
        ({**GOOD, "profile": "large"}, "alice", "do not match their signed launch"),
        ({launch.SESSION_OPTION: spec().session}, "alice", "without a launch and its signature"),
        (GOOD, "mallory", "is for alice/ep-0b5c1c1e2d3f, not mallory/ep-0b5c1c1e2d3f"),
        ({**GOOD, "image": "evil:latest"}, "alice", "not part of the signed launch"),
    ],
    ids=["other-secret", "altered", "profile-swapped", "unsigned", "other-user", "extra-key"],
)
async def test_forged_options_are_refused(options: dict, user: str, expected: str) -> None:
    s = spawner(options, user=user)
    CLAIMS.clear()
    with pytest.raises(SpawnException) as e:
        await run_hook(s)
    assert CLAIMS == [], "refused before the broker is asked"
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
    hook = make_pre_spawn_hook(SECRET, service_url=SERVICE, claim=claimed)
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
    assert c.JupyterHub.services[0]["environment"][launch.SECRET_ENV] == "from-env"


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


# ---- claiming a launch from the broker ----------------------------------------------------------------


class FakeBroker(web.RequestHandler):
    """``POST .../sessions/{uuid}/launch`` answered as the test says; the claims are recorded."""

    def post(self, session: str) -> None:
        self.settings["claims"].append((session, json.loads(self.request.body),
                                        self.request.headers.get("Authorization")))
        status, message = self.settings["answer"]
        self.set_status(status)
        if status != 204:
            self.finish({"status": status, "message": message})


@pytest.fixture
async def broker() -> AsyncIterator[dict[str, Any]]:
    state: dict[str, Any] = {"claims": [], "answer": (204, "")}
    app = web.Application([(r"/services/execplanner/sessions/([^/]+)/launch", FakeBroker)], **state)
    sockets = bind_sockets(0, "127.0.0.1")
    server = HTTPServer(app)
    server.add_sockets(sockets)
    state["url"] = f"http://127.0.0.1:{sockets[0].getsockname()[1]}"
    state["app"] = app
    yield state
    server.stop()


def answer(broker: dict[str, Any], status: int, message: str = "") -> None:
    broker["app"].settings["answer"] = (status, message)


async def test_the_hook_claims_the_launch_then_applies_it(broker: dict[str, Any]) -> None:
    s = spawner(GOOD)
    await run_hook(s, claim=claim_launch, service_url=broker["url"])
    ((session, body, auth),) = broker["app"].settings["claims"]
    assert session == spec().session
    assert body == {"user": "alice", "server": spec().server_name, "nonce": spec().nonce}
    assert auth == f"execplanner-launch {launch.launch_token(SECRET, spec().session, spec().nonce)}"
    assert s.cpu_limit == 2.0 and launch.PRELOAD_ENV in s.environment


@pytest.mark.parametrize(
    ("status", "message", "expected"),
    [
        (409, "this launch was already used", "was not started: this launch was already used."),
        (409, "the session is CANCELLED", "was not started: the session is CANCELLED."),
        (403, "Launch claims need the launch token", "did not confirm the launch (HTTP 403: Launch"),
        (500, "", "did not confirm the launch (HTTP 500)"),
    ],
    ids=["used", "cancelled", "other-secret", "broker-error"],
)
async def test_a_launch_the_broker_refuses_is_not_started(
    broker: dict[str, Any], status: int, message: str, expected: str
) -> None:
    answer(broker, status, message)
    s = spawner(GOOD)
    with pytest.raises(SpawnException) as e:
        await run_hook(s, claim=claim_launch, service_url=broker["url"])
    assert e.value.status_code == 403 and expected in e.value.message
    assert launch.PRELOAD_ENV not in s.environment and s.cpu_limit is None


async def test_a_broker_that_does_not_answer_refuses_broker_launches_only() -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}"  # nobody listens there
    s = spawner(GOOD)
    with pytest.raises(SpawnException, match="the execution broker did not answer to confirm"):
        await run_hook(s, claim=claim_launch, service_url=url)
    ordinary = spawner({"profile": "large"})
    await run_hook(ordinary, claim=claim_launch, service_url=url)  # never asks the broker
    assert ordinary.cmd == ["jupyterhub-singleuser"]


async def test_the_hook_claims_at_the_url_the_hub_knows_for_the_service(broker: dict[str, Any]) -> None:
    s = spawner(GOOD)
    s.user.settings = {"services": {"execplanner": SimpleNamespace(url=broker["url"])}}
    await run_hook(s, claim=claim_launch, service_url="http://127.0.0.1:9")  # the setup-time URL
    assert len(broker["app"].settings["claims"]) == 1
    plan = PreloadPlan.from_json(s.environment[launch.PRELOAD_ENV])
    assert plan.report_url.startswith(broker["url"] + "/services/execplanner/")
