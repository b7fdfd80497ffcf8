"""A real ``jupyter server`` with this package's lab server extension, in a subprocess on a free loopback
port, enabled the way the wheel enables it (its ``jupyter_server_config.d`` file); for the tests and the
lab benchmark."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from hubprocess import ROOT, free_port

# the file the wheel installs into etc/jupyter/jupyter_server_config.d, which enables the extension
ENABLE = ROOT / "jupyter-config" / "server-config" / "jupyterhub_execplanner.json"


class LabServer:
    """``jupyter server`` with the extension, in a subprocess, on a free port."""

    def __init__(self, folder: Path, env: dict[str, str], args: list[str] | None = None) -> None:
        self.folder, self.port, self.token = folder, free_port(), secrets.token_hex(16)
        self.root = folder / "root"
        self.data = folder / "data"
        self.root.mkdir(parents=True, exist_ok=True)
        config_path = folder / "config-path"
        (config_path / "jupyter_server_config.d").mkdir(parents=True, exist_ok=True)
        shutil.copy(ENABLE, config_path / "jupyter_server_config.d" / ENABLE.name)
        full_env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "JPY_"))}
        full_env.update({"JUPYTER_DATA_DIR": str(self.data), "JUPYTER_CONFIG_DIR": str(folder / "cfg"),
                         "JUPYTER_CONFIG_PATH": str(config_path),
                         "JUPYTER_RUNTIME_DIR": str(folder / "runtime"), **env})
        command = [sys.executable, "-m", "jupyter_server", f"--ServerApp.port={self.port}",
                   "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={self.token}",
                   f"--ServerApp.root_dir={self.root}", "--ServerApp.open_browser=False",
                   "--allow-root", *(args or [])]
        self.log = open(folder / "server.log", "ab")  # noqa: SIM115 (closed in stop)
        self.process = subprocess.Popen(command, env=full_env, stdout=self.log, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        self.url = f"http://127.0.0.1:{self.port}/"
        self.http = httpx.Client(base_url=self.url, timeout=60,
                                 headers={"Authorization": f"token {self.token}"})
        deadline = time.monotonic() + 60
        while True:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((folder / "server.log").read_text())
            try:
                if self.http.get("api/status").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)

    def stop(self) -> None:
        self.http.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.log.close()

    def get(self, path: str) -> httpx.Response:
        return self.http.get(f"execplanner/{path}")

    def post(self, path: str, doc: Any) -> httpx.Response:
        return self.http.post(f"execplanner/{path}", json=doc)
