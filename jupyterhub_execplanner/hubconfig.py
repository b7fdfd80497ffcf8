"""``setup_execplanner(c)``: everything a hub needs to run the broker, from two lines of config.

It registers the hub-managed service, its custom scopes and roles, grants ordinary users what they
need (a token made with no explicit scopes can ask for offers and accept one), and tells the service
where the hub's config file is. For sessions it enables named servers, shares a launch secret with
the service (``$EXECPLANNER_LAUNCH_SECRET`` if set, so a restarted hub keeps accepting the launches
the service signed; else a new one) and installs the pre-spawn hook (:mod:`.spawnhook`) after the
admin's own ``c.Spawner.pre_spawn_hook``, which must be set before calling this.

The hub starts services with an almost empty environment. The service gets a new hub boot id at each
hub start (so it can tell a hub restart from its own), and what the spawner sees of the cluster and
the network when the hub's environment has it: ``KUBECONFIG``, ``KUBERNETES_SERVICE_HOST``/``PORT``,
the other Kubernetes service addresses (``*_SERVICE_HOST``/``*_SERVICE_PORT``), ``POD_NAMESPACE`` and
``HELM_RELEASE_NAME`` (which a z2jh config file reads), ``SLURM_CONF``, the project's own
``EXECPLANNER_*`` variables (the service loads the hub's config file again: a config file that reads
them, as the quick start's reads ``EXECPLANNER_STATE_DIR``, must find there what the hub found), and
the proxies
(``HTTP(S)_PROXY``, ``NO_PROXY``, in either case; the service's own and the hub's loopback addresses
are added to ``NO_PROXY``). Keyword arguments
are broker settings (``c.ExecPlanner.<name>``), validated here so that a wrong one stops the hub at
start with a message naming it and the fix; so does a broker setting written under a section that is
not ``ExecPlanner`` (``c.RunSettings.driver_interval``, a section of earlier versions).
"""

from __future__ import annotations

import difflib
import os
import socket
import sys
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from traitlets import TraitError
from traitlets.config import Config
from traitlets.config.loader import LazyConfigValue

from . import launch
from .service import scopes
from .service.settings import ExecPlanner, guard_sections
from .spawnhook import make_pre_spawn_hook


class SetupError(ValueError):
    """A wrong argument to setup_execplanner; the message names it and the fix."""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _configured(section: Any, key: str, empty: Any) -> Any:
    """A hub setting's current value; resolves ``c.X.y.append(...)``-style lazy values."""
    value = section.get(key, empty)
    if isinstance(value, LazyConfigValue):
        return value.get_value(empty)
    return value


def _jupyterhub_major() -> int:
    import jupyterhub

    return int(jupyterhub.version_info[0])


def _caller_file(depth: int = 2) -> str:
    """The file that called setup_execplanner: the hub's config file when run by the hub."""
    frame = sys._getframe(depth)
    filename = frame.f_code.co_filename
    return os.path.abspath(filename) if os.path.isfile(filename) else ""


def validate_settings(settings: dict[str, Any]) -> None:
    """Raise SetupError for an unknown or invalid broker setting."""
    known = set(ExecPlanner.class_trait_names(config=True))
    for key in settings:
        if key not in known:
            close = difflib.get_close_matches(key, sorted(known), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise SetupError(
                f"setup_execplanner(c, {key}=...): no such setting.{hint} "
                f"The settings are: {', '.join(sorted(known))}."
            )
    try:
        ExecPlanner(config=Config({"ExecPlanner": dict(settings)}))
    except TraitError as e:
        raise SetupError(f"setup_execplanner(c, ...): {e}") from e


# the hub's environment the service gets as it is (when set): the cluster, and what a config file made
# for Kubernetes reads (z2jh's reads the chart's service addresses, POD_NAMESPACE, HELM_RELEASE_NAME),
# and the Slurm cluster's configuration file
PASSED_ENV = ("KUBECONFIG", "KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT", "POD_NAMESPACE",
              "HELM_RELEASE_NAME", "SLURM_CONF")
PASSED_SUFFIXES = ("_SERVICE_HOST", "_SERVICE_PORT")
PASSED_PREFIX = "EXECPLANNER_"  # the project's own: a config file may read them (the quick start does)
PROXY_ENV = ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy")
NO_PROXY_ENV = ("NO_PROXY", "no_proxy")
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def service_environment(hub_env: Mapping[str, str], service_url: str) -> dict[str, str]:
    """What the service needs of the hub's environment ``hub_env`` (see the module's docstring).
    With a proxy, ``NO_PROXY`` also names the loopback addresses and ``service_url``'s host: the
    service's calls to the hub and to itself must not go through it."""
    passed = {k: v for k, v in hub_env.items()
              if v and (k in PASSED_ENV or k in PROXY_ENV or k in NO_PROXY_ENV
                        or k.startswith(PASSED_PREFIX)
                        or (k.endswith(PASSED_SUFFIXES) and k.replace("_", "").isalnum()))}
    if any(k in passed for k in PROXY_ENV):
        host = urlsplit(service_url).hostname
        internal = [*LOOPBACK, *([host] if host else [])]
        for key in NO_PROXY_ENV:
            present = [h.strip() for h in passed.get(key, "").split(",") if h.strip()]
            passed[key] = ",".join([*present, *(h for h in internal if h not in present)])
    return passed


# JupyterHub's default for the server's own token (the "server" role) when the admin sets none
DEFAULT_SERVER_TOKEN_SCOPES = ("users:activity!user", "access:servers!server")


def server_token_scopes(configured: Any, name: str) -> Any:
    """The single-user server's token scopes (``c.Spawner.server_token_scopes``) with what the lab
    panel's server extension needs to call the broker: access to the service, and the custom
    request and sessions scopes. These are not filtered to the user: the broker checks them without
    filters (``HubAuth.check_scopes``) and only ever lets a user see and change their own sessions.
    A callable the admin set is wrapped; the hub grants only the subset the user holds."""
    extra = [f"access:services!service={name}", *scopes.USER_SCOPES]

    def add(current: Any) -> list[str]:
        base = list(current) if current else list(DEFAULT_SERVER_TOKEN_SCOPES)
        return [*base, *(s for s in extra if s not in base)]

    if callable(configured):
        previous = configured
        if getattr(previous, "_execplanner_wrapped", False):
            return previous

        async def scopes_for(spawner: Any) -> list[str]:
            value = previous(spawner)
            if hasattr(value, "__await__"):
                value = await value
            return add(value)

        scopes_for._execplanner_wrapped = True  # type: ignore[attr-defined]
        return scopes_for
    return add(configured)


def _peer_variables(peers: list[Any]) -> list[str]:
    """The hub's environment variables the service needs for its peers (tokens, link secrets, and
    the encryption key of linked accounts' tokens); SetupError for one a peer's link needs and the
    hub's environment lacks."""
    found: list[str] = []
    for peer in peers:
        if not isinstance(peer, dict):
            continue
        variable = peer.get("token_env")
        if isinstance(variable, str) and variable in os.environ:
            found.append(variable)
        link = peer.get("link")
        if not isinstance(link, dict):
            continue
        where = f"setup_execplanner(c, peers=...): peer {peer.get('name')!r}'s link"
        secret_env = link.get("secret_env")
        if isinstance(secret_env, str):
            if not os.environ.get(secret_env):
                raise SetupError(f"{where} takes its client secret from ${secret_env}, which is not set "
                                 "in the hub's environment: set it to the secret the peer's admin gave.")
            found.append(secret_env)
        if not os.environ.get("JUPYTERHUB_CRYPT_KEY"):
            raise SetupError(f"{where}: linked accounts' tokens are kept encrypted with "
                             "$JUPYTERHUB_CRYPT_KEY, which is not set in the hub's environment: set it "
                             "(make one with `openssl rand -hex 32`) and keep it.")
        found.append("JUPYTERHUB_CRYPT_KEY")
    return found


def _link_services(name: str, clients: list[Any]) -> list[dict[str, Any]]:
    """The OAuth clients of ``link_clients``, as hub services: no URL, no command; the token they get
    for a user holds only the broker's user scopes (and what JupyterHub adds to identify the user)."""
    services = []
    for client in clients:
        if not isinstance(client, dict):
            continue  # the setting's validator names it when the service reads the config
        secret = client.get("secret")
        if isinstance(client.get("secret_env"), str):
            secret = os.environ.get(client["secret_env"])
            if not secret:
                raise SetupError(
                    f"setup_execplanner(c, link_clients=...): client {client.get('name')!r} takes its "
                    f"secret from ${client['secret_env']}, which is not set in the hub's environment."
                )
        services.append({
            "name": scopes.link_service(name, str(client.get("name"))),
            "oauth_client_id": client.get("client_id"),
            "api_token": secret,
            "oauth_redirect_uri": client.get("redirect_uri"),
            "oauth_client_allowed_scopes": [f"access:services!service={name}", *scopes.USER_SCOPES],
            "display": False,
        })
    return services


def setup_execplanner(
    c: Config,
    *,
    name: str = "execplanner",
    url: str | None = None,
    hub_config_file: str | None = None,
    **settings: Any,
) -> Config:
    """Run the execution broker as a service of this hub.

    ``c`` is the hub's config object. ``name`` is the service name (its URL is
    ``/services/<name>/``); ``url`` where the service listens (default: a free loopback port);
    ``hub_config_file`` the hub's config file (default: the file calling this function). Every other
    keyword is a broker setting (see ``docs/configuration.md``), e.g. ``offer_expiry=60``.
    """
    if not name or not name.replace("-", "").replace("_", "").isalnum():
        raise SetupError(f"setup_execplanner(c, name={name!r}): use letters, digits, '-' or '_'.")
    validate_settings(settings)
    try:  # a broker setting under a retired section name (c.RunSettings.x) stops the hub, naming the fix
        guard_sections(c)
    except ValueError as e:
        raise SetupError(f"setup_execplanner(c): {e}") from None
    if url is None:
        url = f"http://127.0.0.1:{_free_port()}"
    elif not url.startswith(("http://", "https://")):
        raise SetupError(
            f"setup_execplanner(c, url={url!r}): give a URL like http://127.0.0.1:10101"
        )
    config_file = hub_config_file if hub_config_file is not None else _caller_file()

    for key, value in settings.items():
        setattr(c.ExecPlanner, key, value)
    c.ExecPlanner.service_name = name

    command = [sys.executable, "-m", "jupyterhub_execplanner.service"]
    if config_file:
        command.append(f"--ExecPlanner.hub_config_file={config_file}")
    previous: dict[str, Any] = next(
        (s for s in _configured(c.JupyterHub, "services", []) if s.get("name") == name), {}
    )
    environment = dict(previous.get("environment") or {})
    secret = environment.get(launch.SECRET_ENV) or launch.secret_from_env() or launch.new_secret()
    environment[launch.SECRET_ENV] = secret
    # a new id at each hub start: the service tells the hub's restarts from its own by it
    environment[launch.HUB_BOOT_ENV] = uuid.uuid4().hex
    for key, value in service_environment(os.environ, url).items():
        environment.setdefault(key, value)  # what the admin set for the service wins
    # federation: a peer's token_env names a variable of the hub's environment; the service needs it
    for variable in _peer_variables(_configured(c.ExecPlanner, "peers", []) or []):
        environment.setdefault(variable, os.environ[variable])
    service = {
        "name": name,
        "url": url,
        "command": command,
        "environment": environment,
        "display": False,
        "oauth_no_confirm": True,
        "oauth_client_allowed_scopes": [
            f"access:services!service={name}",
            *scopes.USER_SCOPES,
            scopes.ADMIN,
        ],
    }
    if config_file:
        service["cwd"] = os.path.dirname(config_file)
    link_services = _link_services(name, _configured(c.ExecPlanner, "link_clients", []) or [])
    services = [s for s in _configured(c.JupyterHub, "services", []) if s.get("name") != name
                and not str(s.get("name", "")).startswith(f"{name}-link-")]
    c.JupyterHub.services = [*services, service, *link_services]

    custom = dict(_configured(c.JupyterHub, "custom_scopes", {}))
    for scope, description in scopes.DESCRIPTIONS.items():
        custom.setdefault(scope, {"description": description})
    c.JupyterHub.custom_scopes = custom

    roles = [
        r for r in _configured(c.JupyterHub, "load_roles", []) if r.get("name") != f"{name}-service"
    ]
    roles.append(
        {
            "name": f"{name}-service",
            "description": "What the execution broker service needs from the hub.",
            # with link clients it also revokes linked tokens (links/revoke), which needs "tokens"
            "scopes": [*scopes.service_scopes(_jupyterhub_major()), *(["tokens"] if link_services else [])],
            "services": [name],
        }
    )
    user_scopes = [f"access:services!service={name}",
                   *(f"access:services!service={s['name']}" for s in link_services), *scopes.USER_SCOPES]
    user_role = next((r for r in roles if r.get("name") == "user"), None)
    if user_role is not None:
        # the admin redefined the user role: add ours to it rather than override theirs
        user_role["scopes"] = [
            *user_role.get("scopes", []),
            *(s for s in user_scopes if s not in user_role.get("scopes", [])),
        ]
    elif _jupyterhub_major() >= 6:
        extra = set(_configured(c.JupyterHub, "extra_user_scopes", set()))
        c.JupyterHub.extra_user_scopes = extra | set(user_scopes)
    else:
        # JupyterHub 5 has no extra_user_scopes: the user role is its default ("self") plus ours
        roles.append({"name": "user", "scopes": ["self", *user_scopes]})
    c.JupyterHub.load_roles = roles

    # the lab panel's server extension calls this broker with the server's own token. Setting
    # server_token_scopes overrides the "server" role, so an admin's own "server" role is the base
    configured = _configured(c.Spawner, "server_token_scopes", None)
    if not configured:
        server_role = next((r for r in roles if isinstance(r, dict) and r.get("name") == "server"), None)
        if server_role and server_role.get("scopes"):
            configured = list(server_role["scopes"])
    c.Spawner.server_token_scopes = server_token_scopes(configured, name)
    spawner_environment = dict(_configured(c.Spawner, "environment", {}) or {})
    spawner_environment.setdefault("EXECPLANNER_SERVICE_NAME", name)
    c.Spawner.environment = spawner_environment

    # sessions run as named servers, started with a signed launch that the pre-spawn hook applies
    c.JupyterHub.allow_named_servers = True
    # the admin's hook may be set on the Spawner or on a spawner class (c.KubeSpawner...): chain each
    sections = ["Spawner", *(k for k in c if k.endswith("Spawner") and k != "Spawner")]
    for section in sections:
        if section == "Spawner" or "pre_spawn_hook" in c[section]:
            c[section].pre_spawn_hook = make_pre_spawn_hook(
                secret,
                service_url=url,
                service_name=name,
                previous=_configured(c[section], "pre_spawn_hook", None),
            )
    return c
