"""A real JupyterHub in a subprocess, with configurable-http-proxy from npm, for the tests.

``RealHub.start(tmp, broker=...)`` writes a ``jupyterhub_config.py`` that enables the broker with
``setup_execplanner(c, **settings)`` exactly as an administrator would, starts ``jupyterhub`` on free
loopback ports with a SQLite file, and waits until the hub and the broker answer. A test service
``test-admin`` with the admin role gives the tests a token to create users and user tokens.
"""

from __future__ import annotations

import json
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
NODE_BIN = ROOT / "tools" / "node_modules" / ".bin"


def free_port() -> int:
    """A port free now on 127.0.0.1, below the kernel's ephemeral range (32768 and up here): a port a
    test holds for later (a service URL registered with a hub before the service listens) is then
    never taken meanwhile by the local end of some outgoing connection, which the kernel picks from
    that range."""
    for _ in range(50):
        port = random.randint(20000, 32000)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def proxy_command() -> str:
    """The npm configurable-http-proxy (the PyPI package of that name does not work as the proxy)."""
    local = NODE_BIN / "configurable-http-proxy"
    if local.exists():
        return str(local)
    found = shutil.which("configurable-http-proxy")
    if found is None:
        raise RuntimeError("configurable-http-proxy is missing: run `npm install --prefix tools`")
    return found


@dataclass
class RealHub:
    folder: Path
    port: int
    admin_token: str
    service_name: str = "execplanner"
    process: subprocess.Popen | None = None
    log_path: Path | None = None
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def broker(self) -> str:
        return f"{self.url}/services/{self.service_name}/"

    # -- life cycle -----------------------------------------------------------------------------

    @classmethod
    def start(
        cls,
        folder: Path,
        *,
        settings: dict[str, Any] | None = None,
        extra_config: str = "",
        external_service_url: str | None = None,
        service_token: str | None = None,
        env: dict[str, str] | None = None,
        timeout: float = 60,
    ) -> RealHub:
        """Start a hub. With ``external_service_url`` the broker is registered as an external
        service at that URL (the test runs it in-process) instead of a hub-managed one."""
        folder.mkdir(parents=True, exist_ok=True)
        hub = cls(folder=folder, port=free_port(), admin_token=secrets.token_hex(16))
        settings = dict(settings or {})
        settings.setdefault("db_url", f"sqlite:///{folder / 'execplanner.sqlite'}")
        settings.setdefault("hub_poll_interval", 1)
        # the tests serve notebooks and data on loopback: they allow it as an admin would
        settings.setdefault("fetch_allowed_hosts", ["127.0.0.0/8", "::1", "localhost"])
        config = textwrap.dedent(
            f"""
            import os
            from jupyterhub_execplanner import setup_execplanner

            c = get_config()  # noqa
            c.JupyterHub.ip = "127.0.0.1"
            c.JupyterHub.port = {hub.port}
            c.JupyterHub.hub_port = {free_port()}
            c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{free_port()}"
            c.ConfigurableHTTPProxy.command = [{proxy_command()!r}]
            c.ConfigurableHTTPProxy.pid_file = {str(folder / "proxy.pid")!r}
            c.JupyterHub.db_url = "sqlite:///{folder / 'jupyterhub.sqlite'}"
            c.JupyterHub.cookie_secret_file = {str(folder / "cookie_secret")!r}
            c.JupyterHub.authenticator_class = "dummy"
            c.Authenticator.allow_all = True
            c.Authenticator.admin_users = {{"admin"}}
            c.JupyterHub.spawner_class = "simple"
            c.SimpleLocalProcessSpawner.home_dir_template = {str(folder / "home" / "{username}")!r}
            c.Spawner.args = ["--allow-root"] if os.geteuid() == 0 else []
            c.JupyterHub.allow_named_servers = True
            c.JupyterHub.services = [
                {{"name": "test-admin", "api_token": {hub.admin_token!r}}},
            ]
            c.JupyterHub.load_roles = [
                {{"name": "test-admin", "scopes": ["admin:users", "admin:servers", "tokens",
                  "list:users", "read:users", "read:metrics", "admin:auth_state", "read:roles"],
                  "services": ["test-admin"]}},
            ]
            setup_execplanner(c, **{settings!r})
            """
        )
        if external_service_url is not None:
            config += textwrap.dedent(
                f"""
                for _s in c.JupyterHub.services:
                    if _s["name"] == "execplanner":
                        _s.pop("command", None)
                        _s.pop("cwd", None)
                        _s["url"] = {external_service_url!r}
                        _s["api_token"] = {service_token!r}
                        _s["timeout"] = 1  # the test starts it later: do not wait at hub start
                """
            )
        config += textwrap.dedent(extra_config)
        config_file = folder / "jupyterhub_config.py"
        config_file.write_text(config)
        hub.log_path = folder / "hub.log"
        hub._launch(env, timeout, broker=external_service_url is None)
        return hub

    def _launch(self, env: dict[str, str] | None, timeout: float, *, broker: bool = True) -> None:
        """Run ``jupyterhub`` on this folder's config, logging to ``hub.log``, and wait until the hub
        (and, with ``broker``, the broker) answers; stopped again if it does not."""
        environment = {**os.environ, **(env or {})}
        environment["PYTHONUNBUFFERED"] = "1"  # the log file is complete whenever a test reads it
        environment["PATH"] = (f"{NODE_BIN}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}"
                               f"{environment['PATH']}")
        log = open(self.log_path or self.folder / "hub.log", "ab")  # noqa: SIM115 (closed by stop)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "jupyterhub", "-f", str(self.folder / "jupyterhub_config.py")],
            cwd=self.folder,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._log_file = log  # type: ignore[attr-defined]
        try:
            self.wait_for(f"{self.url}/hub/api/", timeout)
            if broker:
                self.wait_for(self.broker, timeout)
        except Exception:
            self.stop()
            raise

    def wait_for(self, url: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"the hub exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                response = httpx.get(url, timeout=2)
                if response.status_code < 500 and "application/json" in response.headers.get(
                    "content-type", ""
                ):
                    return
                last = response.status_code
            except httpx.HTTPError as e:
                last = e
            time.sleep(0.2)
        raise TimeoutError(f"{url} did not answer in {timeout}s ({last}):\n{self.log_tail()}")

    def log_tail(self, lines: int = 60) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
        self._log_file.close()  # type: ignore[attr-defined]
        self.process = None

    def restart(self, *, env: dict[str, str] | None = None, timeout: float = 60) -> None:
        """Stop the hub (SIGTERM, as :meth:`stop`: it stops its services and, with the default
        ``cleanup_servers``, every server) and start it again on the same folder, config file and
        ports; ``env`` as given to :meth:`start`. Tokens stay valid (the hub's database is kept)."""
        self.stop()
        self._launch(env, timeout)

    # -- the hub's REST API ---------------------------------------------------------------------

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"token {self.admin_token}"}
        return httpx.request(method, f"{self.url}/hub/api/{path.lstrip('/')}", headers=headers,
                             timeout=30, **kwargs)

    def user_token(self, name: str, scopes: list[str] | None = None, admin: bool = False) -> str:
        """Create the user if needed and a token for them (with no explicit scopes by default)."""
        key = f"{name}:{json.dumps(scopes)}"
        if key in self.tokens:
            return self.tokens[key]
        if self.api("GET", f"users/{name}").status_code == 404:
            response = self.api("POST", f"users/{name}", json={"admin": admin})
            response.raise_for_status()
        body: dict[str, Any] = {"note": "test"}
        if scopes is not None:
            body["scopes"] = scopes
        response = self.api("POST", f"users/{name}/tokens", json=body)
        response.raise_for_status()
        self.tokens[key] = response.json()["token"]
        return self.tokens[key]
