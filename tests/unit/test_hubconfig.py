"""setup_execplanner(c): what it registers, and the errors that stop a hub at start."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from traitlets.config import Config

from jupyterhub_execplanner import launch, setup_execplanner
from jupyterhub_execplanner.hubconfig import SetupError
from jupyterhub_execplanner.service import scopes


def test_registers_service_scopes_and_roles() -> None:
    c = Config()
    setup_execplanner(c, hub_config_file="/srv/jupyterhub/jupyterhub_config.py")
    (service,) = c.JupyterHub.services
    assert service["name"] == "execplanner"
    assert service["url"].startswith("http://127.0.0.1:")
    assert service["command"] == [
        sys.executable,
        "-m",
        "jupyterhub_execplanner.service",
        "--ExecPlanner.hub_config_file=/srv/jupyterhub/jupyterhub_config.py",
    ]
    assert service["cwd"] == "/srv/jupyterhub"
    assert set(scopes.USER_SCOPES) <= set(service["oauth_client_allowed_scopes"])
    assert set(c.JupyterHub.custom_scopes) == set(scopes.DESCRIPTIONS)
    (role,) = c.JupyterHub.load_roles
    assert role["services"] == ["execplanner"]
    assert set(role["scopes"]) == set(scopes.SERVICE_SCOPES)
    assert {*scopes.USER_SCOPES, "access:services!service=execplanner"} <= c.JupyterHub.extra_user_scopes


def test_keeps_what_the_admin_configured() -> None:
    c = Config()
    c.JupyterHub.services = [{"name": "idle-culler", "command": ["cull"]}]
    c.JupyterHub.load_roles = [{"name": "user", "scopes": ["self", "shares!user"]}]
    c.JupyterHub.custom_scopes = {"custom:mine": {"description": "mine"}}
    setup_execplanner(c, name="broker", url="http://10.0.0.5:9000", hub_config_file="")
    assert [s["name"] for s in c.JupyterHub.services] == ["idle-culler", "broker"]
    assert "custom:mine" in c.JupyterHub.custom_scopes
    user = next(r for r in c.JupyterHub.load_roles if r["name"] == "user")
    assert user["scopes"][:2] == ["self", "shares!user"]
    assert scopes.REQUEST in user["scopes"] and "access:services!service=broker" in user["scopes"]
    assert c.JupyterHub.services[1]["url"] == "http://10.0.0.5:9000"
    assert "cwd" not in c.JupyterHub.services[1]


def test_calling_twice_does_not_duplicate() -> None:
    c = Config()
    setup_execplanner(c, hub_config_file="")
    setup_execplanner(c, hub_config_file="", offer_expiry=60)
    assert len(c.JupyterHub.services) == 1
    assert len(c.JupyterHub.load_roles) == 1
    assert c.ExecPlanner.offer_expiry == 60


def test_settings_are_passed_to_the_service() -> None:
    c = Config()
    setup_execplanner(c, hub_config_file="", offer_expiry="PT2M", max_offers=6)
    assert c.ExecPlanner.offer_expiry == "PT2M"
    assert c.ExecPlanner.max_offers == 6


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"max_offer": 3}, "Did you mean 'max_offers'?"),
        ({"offer_expiry": "soon"}, "ExecPlanner.offer_expiry = 'soon' is not a duration"),
        ({"offer_expiry": -5}, "ExecPlanner.offer_expiry = -5 is negative"),
        ({"offer_expiry": "P1M"}, "ExecPlanner.offer_expiry = 'P1M' counts months"),
        ({"max_offers": 0}, "max_offers must be between 1 and 50"),
        ({"capacity": {"default": {"cores": "many"}}}, "capacity['default']['cores']"),
        ({"capacity": {"gpu": 4}}, "capacity['gpu'] must be a dict"),
        ({"public_url": "hub.example.org"}, "public_url must start with http"),
        ({"profiles": "small"}, "profiles"),
    ],
)
def test_wrong_settings_name_the_setting(settings: dict, expected: str) -> None:
    with pytest.raises(SetupError) as e:
        setup_execplanner(Config(), hub_config_file="", **settings)
    assert expected in str(e.value)
    assert "setup_execplanner" in str(e.value)


@pytest.mark.parametrize(("kwargs", "expected"), [({"name": "my broker"}, "name="),
                                                  ({"url": "127.0.0.1:9000"}, "url=")])
def test_wrong_service_arguments(kwargs: dict, expected: str) -> None:
    with pytest.raises(SetupError, match=expected):
        setup_execplanner(Config(), hub_config_file="", **kwargs)


def test_sessions_run_as_named_servers_with_the_hook_and_a_shared_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(launch.SECRET_ENV, raising=False)
    c = Config()
    setup_execplanner(c, hub_config_file="", url="http://127.0.0.1:10101")
    assert c.JupyterHub.allow_named_servers is True
    assert callable(c.Spawner.pre_spawn_hook)
    secret = c.JupyterHub.services[0]["environment"][launch.SECRET_ENV]
    assert len(secret) == 64
    setup_execplanner(c, hub_config_file="", url="http://127.0.0.1:10101")
    assert c.JupyterHub.services[0]["environment"][launch.SECRET_ENV] == secret  # kept, not renewed
    monkeypatch.setenv(launch.SECRET_ENV, "given")
    fresh = Config()
    setup_execplanner(fresh, hub_config_file="")
    assert fresh.JupyterHub.services[0]["environment"][launch.SECRET_ENV] == "given"


def test_the_service_may_start_and_stop_servers(monkeypatch: pytest.MonkeyPatch) -> None:
    from jupyterhub_execplanner import hubconfig

    c = Config()
    setup_execplanner(c, hub_config_file="")
    (role,) = c.JupyterHub.load_roles
    assert {"start:servers", "delete:servers", "read:servers"} <= set(role["scopes"])
    monkeypatch.setattr(hubconfig, "_jupyterhub_major", lambda: 5)
    old = Config()
    setup_execplanner(old, hub_config_file="")
    service_role = next(r for r in old.JupyterHub.load_roles if r["name"] == "execplanner-service")
    assert "servers" in service_role["scopes"] and "start:servers" not in service_role["scopes"]


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"preload_installer": "conda"}, "preload_installer must be 'auto', 'uv' or 'pip'"),
        ({"preload_max_notebook_size": 0}, "preload_max_notebook_size must be a positive number"),
        ({"preload_timeout": -1}, "preload_timeout = -1 is negative"),
        ({"pip_extra_args": "--find-links http://mirror/"}, "give one argument per item: "
         r"\['--find-links', 'http://mirror/'\]"),
    ],
)
def test_wrong_preload_settings_name_the_setting(settings: dict, expected: str) -> None:
    with pytest.raises(SetupError, match=expected):
        setup_execplanner(Config(), hub_config_file="", **settings)


def test_the_servers_token_may_call_the_broker() -> None:
    """The lab panel's server extension calls the broker with the server's own token."""
    import jupyterhub.roles

    c = Config()
    setup_execplanner(c, name="broker", hub_config_file="")
    (server_role,) = [r for r in jupyterhub.roles.get_default_roles() if r["name"] == "server"]
    wanted = [*server_role["scopes"], "access:services!service=broker", *scopes.USER_SCOPES]
    assert c.Spawner.server_token_scopes == wanted, "JupyterHub's defaults are kept"
    assert c.Spawner.environment["EXECPLANNER_SERVICE_NAME"] == "broker"
    setup_execplanner(c, name="broker", hub_config_file="")
    assert c.Spawner.server_token_scopes == wanted, "no duplicates"


def test_the_admins_server_token_scopes_are_kept() -> None:
    c = Config()
    c.Spawner.server_token_scopes = ["users:activity!user", "read:users:name"]
    c.Spawner.environment = {"EXECPLANNER_SERVICE_NAME": "mine", "OTHER": "1"}
    setup_execplanner(c, hub_config_file="")
    assert c.Spawner.server_token_scopes[:2] == ["users:activity!user", "read:users:name"]
    assert "access:services!service=execplanner" in c.Spawner.server_token_scopes
    assert c.Spawner.environment == {"EXECPLANNER_SERVICE_NAME": "mine", "OTHER": "1"}


async def test_a_callable_server_token_scopes_is_wrapped() -> None:
    c = Config()

    async def mine(spawner: object) -> list[str]:
        return ["users:activity!user", f"read:users!user={spawner}"]

    c.Spawner.server_token_scopes = mine
    setup_execplanner(c, hub_config_file="")
    setup_execplanner(c, hub_config_file="")  # wrapped once
    got = await c.Spawner.server_token_scopes("alice")
    assert got == ["users:activity!user", "read:users!user=alice", "access:services!service=execplanner",
                   *scopes.USER_SCOPES]


def test_an_admins_server_role_is_the_base_of_the_server_token_scopes() -> None:
    c = Config()
    c.JupyterHub.load_roles = [{"name": "server", "scopes": ["users:activity!user", "access:servers!server",
                                                            "read:users:name!user", "custom:foo"]}]
    setup_execplanner(c, hub_config_file="/srv/jupyterhub_config.py")
    scopes = c.Spawner.server_token_scopes
    assert scopes[:4] == ["users:activity!user", "access:servers!server", "read:users:name!user",
                          "custom:foo"]
    assert "access:services!service=execplanner" in scopes and "custom:execplanner:request" in scopes


# ---- what the service gets of the hub's environment ------------------------------------------------

CLUSTER_ENV = {
    "KUBECONFIG": "/etc/kube/config",
    "KUBERNETES_SERVICE_HOST": "10.0.0.1",
    "KUBERNETES_SERVICE_PORT": "443",
    "PROXY_API_SERVICE_HOST": "10.0.0.7",
    "PROXY_API_SERVICE_PORT": "8001",
    "POD_NAMESPACE": "jhub",
    "HELM_RELEASE_NAME": "jhub",
    "HTTPS_PROXY": "http://proxy.example.org:3128",
    "no_proxy": ".cluster.local",
}
NOT_PASSED = {"CONFIGPROXY_AUTH_TOKEN": "secret", "JPY_COOKIE_SECRET": "secret",
              "DATABASE_PASSWORD": "secret", "HOME": "/root"}


def test_the_service_gets_what_the_spawner_sees_of_the_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in {**CLUSTER_ENV, **NOT_PASSED}.items():
        monkeypatch.setenv(key, value)
    for key in ("HTTP_PROXY", "http_proxy", "https_proxy", "NO_PROXY"):
        monkeypatch.delenv(key, raising=False)
    c = Config()
    setup_execplanner(c, url="http://hub:10101", hub_config_file="")
    environment = c.JupyterHub.services[0]["environment"]
    for key in ("KUBECONFIG", "KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT",
                "PROXY_API_SERVICE_HOST", "PROXY_API_SERVICE_PORT", "POD_NAMESPACE",
                "HELM_RELEASE_NAME", "HTTPS_PROXY"):
        assert environment[key] == CLUSTER_ENV[key], key
    assert not set(NOT_PASSED) & set(environment), "secrets of the hub stay in the hub"
    # the service's calls to the hub and to itself do not go through the proxy
    assert environment["no_proxy"] == ".cluster.local,127.0.0.1,localhost,::1,hub"
    assert environment["NO_PROXY"] == "127.0.0.1,localhost,::1,hub"


def test_the_admins_service_environment_wins_and_unset_variables_are_not_passed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KUBECONFIG", "/from/the/hub")
    for key in ("KUBERNETES_SERVICE_HOST", "HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy",
                "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(key, raising=False)
    c = Config()
    c.JupyterHub.services = [{"name": "execplanner", "environment": {"KUBECONFIG": "/admins/own"}}]
    setup_execplanner(c, hub_config_file="")
    environment = c.JupyterHub.services[0]["environment"]
    assert environment["KUBECONFIG"] == "/admins/own"
    assert "KUBERNETES_SERVICE_HOST" not in environment and "NO_PROXY" not in environment


def test_each_hub_start_gives_the_service_a_new_boot_id() -> None:
    first, second = Config(), Config()
    setup_execplanner(first, hub_config_file="")
    setup_execplanner(second, hub_config_file="")
    boots = [c.JupyterHub.services[0]["environment"][launch.HUB_BOOT_ENV] for c in (first, second)]
    assert all(len(b) == 32 for b in boots) and boots[0] != boots[1]


def test_the_service_gets_the_hubs_execplanner_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    # the service loads the hub's config file again: what that file reads must be there too
    monkeypatch.setenv("EXECPLANNER_STATE_DIR", "/tmp/hub-b")
    monkeypatch.setenv("EXECPLANNER_HUB_PORT", "8001")
    monkeypatch.setenv("EXECPLANNER_HUB_BOOT", "stale")
    c = Config()
    setup_execplanner(c, hub_config_file="")
    environment = c.JupyterHub.services[0]["environment"]
    assert environment["EXECPLANNER_STATE_DIR"] == "/tmp/hub-b"
    assert environment["EXECPLANNER_HUB_PORT"] == "8001"
    assert environment[launch.HUB_BOOT_ENV] != "stale", "each start's own boot id wins"


@pytest.mark.parametrize(
    ("hub_db", "config_file", "expected"),
    [
        ("sqlite:////srv/hub-b/jupyterhub.sqlite", "/etc/jh/jupyterhub_config.py", "/srv/hub-b"),
        ("sqlite:///jupyterhub.sqlite", "/etc/jh/jupyterhub_config.py", "/etc/jh"),  # relative
        ("postgresql://db/hub", "/etc/jh/jupyterhub_config.py", "/etc/jh"),
        (None, "/etc/jh/jupyterhub_config.py", "/etc/jh"),
    ],
)
def test_the_broker_database_follows_the_hubs_own_state(
    hub_db: str | None, config_file: str, expected: str
) -> None:
    from jupyterhub_execplanner.service.settings import ExecPlanner

    config = Config({"ExecPlanner": {"hub_config_file": config_file}})
    if hub_db is not None:
        config.JupyterHub.db_url = hub_db
    settings = ExecPlanner(config=config)
    assert settings.db_url == f"sqlite:///{expected}/jupyterhub_execplanner.sqlite"


def test_the_trial_hub_lets_two_people_each_run_a_lab_and_a_session(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from traitlets.config.loader import PyFileConfigLoader

    examples = Path(__file__).resolve().parents[2] / "examples"
    monkeypatch.setenv("EXECPLANNER_STATE_DIR", str(tmp_path))
    config = PyFileConfigLoader("jupyterhub_config.py", path=str(examples)).load_config()
    settings = config.ExecPlanner
    labs = 2 * settings.server_footprint["cores"]  # two people's labs, with no end
    sessions = 2 * 1  # and a session of the smallest offer (1 core) each
    assert labs + sessions <= settings.capacity["default"]["cores"]


def test_a_broker_database_beside_the_config_file_is_kept(tmp_path: Path) -> None:
    from jupyterhub_execplanner.service.settings import ExecPlanner

    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "jupyterhub_execplanner.sqlite").write_bytes(b"")  # an earlier version's
    config = Config({"ExecPlanner": {"hub_config_file": str(tmp_path / "etc" / "jupyterhub_config.py")}})
    config.JupyterHub.db_url = f"sqlite:///{tmp_path}/srv/jupyterhub.sqlite"
    assert ExecPlanner(config=config).db_url == f"sqlite:///{tmp_path}/etc/jupyterhub_execplanner.sqlite"
