"""Linked accounts in the hub's configuration: what setup_execplanner registers on each side, and
the mistakes that stop a hub at start with a message naming the setting (docs/linked-accounts.md)."""

from __future__ import annotations

import pytest
from traitlets.config import Config

from jupyterhub_execplanner import setup_execplanner
from jupyterhub_execplanner.hubconfig import SetupError
from jupyterhub_execplanner.service import scopes

CALLBACK = "https://hub-a.example.org/services/execplanner/links/callback"
CLIENT = {"name": "hub-a", "client_id": "service-hub-a-execplanner", "secret_env": "HUB_A_LINK_SECRET",
          "redirect_uri": CALLBACK}
PEER = {"name": "hub-b", "url": "https://hub-b.example.org",
        "link": {"client_id": "service-hub-a-execplanner", "secret_env": "HUB_B_LINK_SECRET"}}


def test_the_asked_hub_registers_the_other_broker_as_an_oauth_client(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_A_LINK_SECRET", "s" * 32)
    c = Config()
    setup_execplanner(c, hub_config_file="/srv/jupyterhub_config.py", link_clients=[CLIENT])
    broker, client = c.JupyterHub.services
    assert client == {
        "name": "execplanner-link-hub-a",
        "oauth_client_id": "service-hub-a-execplanner",
        "api_token": "s" * 32,
        "oauth_redirect_uri": CALLBACK,
        "oauth_client_allowed_scopes": ["access:services!service=execplanner", *scopes.USER_SCOPES],
        "display": False,
    }
    assert "url" not in client and "command" not in client
    # every user may consent to it; the broker may revoke the tokens it got
    assert "access:services!service=execplanner-link-hub-a" in c.JupyterHub.extra_user_scopes
    (role,) = c.JupyterHub.load_roles
    assert "tokens" in role["scopes"]
    # calling again (a config file read twice) keeps one of each
    setup_execplanner(c, hub_config_file="/srv/jupyterhub_config.py", link_clients=[CLIENT])
    assert [s["name"] for s in c.JupyterHub.services] == ["execplanner", "execplanner-link-hub-a"]


def test_without_link_clients_the_broker_gets_no_tokens_scope() -> None:
    c = Config()
    setup_execplanner(c, hub_config_file="/srv/jupyterhub_config.py")
    (role,) = c.JupyterHub.load_roles
    assert "tokens" not in role["scopes"]


def test_the_asking_hub_passes_the_secret_and_the_key_to_its_service(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_B_LINK_SECRET", "t" * 32)
    monkeypatch.setenv("JUPYTERHUB_CRYPT_KEY", "ab" * 32)
    c = Config()
    setup_execplanner(c, hub_config_file="/srv/jupyterhub_config.py", peers=[PEER])
    environment = c.JupyterHub.services[0]["environment"]
    assert environment["HUB_B_LINK_SECRET"] == "t" * 32
    assert environment["JUPYTERHUB_CRYPT_KEY"] == "ab" * 32


@pytest.mark.parametrize(
    ("settings", "unset", "expected"),
    [
        ({"peers": [PEER]}, "HUB_B_LINK_SECRET", "$HUB_B_LINK_SECRET, which is not set"),
        ({"peers": [PEER]}, "JUPYTERHUB_CRYPT_KEY", "$JUPYTERHUB_CRYPT_KEY, which is not set"),
        ({"link_clients": [CLIENT]}, "HUB_A_LINK_SECRET", "$HUB_A_LINK_SECRET, which is not set"),
        ({"peers": [{**PEER, "link": {"client_id": "hub-a", "secret": "x"}}]}, None,
         "peers[0] (peer 'hub-b')"),
        ({"peers": [{**PEER, "link": {"client_id": "service-a"}}]}, None,
         "give exactly one of 'secret'"),
        ({"peers": [{**PEER, "link": {"client_id": "service-a", "secret": "x", "redirect_uri": "http://x/y"}}]},
         None, "redirect_uri"),
        ({"link_clients": [{**CLIENT, "client_id": "hub-a"}]}, None, "starting with 'service-'"),
        ({"link_clients": [{**CLIENT, "redirect_uri": "https://hub-a.example.org/"}]}, None,
         "'redirect_uri' must be the other broker's callback URL"),
        ({"link_clients": [{k: v for k, v in CLIENT.items() if k != "secret_env"}]}, None,
         "give exactly one of 'secret'"),
        ({"link_clients": [{**CLIENT, "secret": "short"}]}, None, "link_clients[0] (client 'hub-a')"),
        ({"link_clients": [CLIENT, {**CLIENT, "client_id": "service-other"}]}, None,
         "the name 'hub-a' is given twice"),
    ],
)
def test_mistakes_stop_the_hub_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, settings: dict, unset: str | None, expected: str
) -> None:
    for name in ("HUB_A_LINK_SECRET", "HUB_B_LINK_SECRET"):
        monkeypatch.setenv(name, "u" * 32)
    monkeypatch.setenv("JUPYTERHUB_CRYPT_KEY", "cd" * 32)
    if unset:
        monkeypatch.delenv(unset)
    with pytest.raises(SetupError) as raised:
        setup_execplanner(Config(), hub_config_file="/srv/jupyterhub_config.py", **settings)
    assert expected in str(raised.value)
