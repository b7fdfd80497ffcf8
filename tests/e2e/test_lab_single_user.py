"""End to end: a real single-user server, spawned by a real hub set up with setup_execplanner, runs the
lab server extension; it finds its own hub and asks it for offers with its own server token."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import httpx
import pytest
from hubprocess import RealHub

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
ENABLE = ROOT / "jupyter-config" / "server-config" / "jupyterhub_execplanner.json"
SETTINGS = {
    "profiles": [{"display_name": "Small", "slug": "small",
                  "kubespawner_override": {"cpu_limit": 1, "mem_limit": "1G"}}],
    "capacity": {"default": {"cores": 4, "memory": 8}},
    "driver_interval": 0,
}
NOTEBOOK = json.dumps({"cells": [], "metadata": {"note": "run me élsewhere"}, "nbformat": 4,
                       "nbformat_minor": 5}, indent=1) + "\n"


def test_single_user_server_lists_its_hub_and_asks_it(tmp_path: Path) -> None:
    # the extension is enabled as the wheel enables it: a file in jupyter_server_config.d
    config_path = tmp_path / "config-path"
    (config_path / "jupyter_server_config.d").mkdir(parents=True)
    shutil.copy(ENABLE, config_path / "jupyter_server_config.d" / ENABLE.name)
    extra = f"\nc.Spawner.environment['JUPYTER_CONFIG_PATH'] = {str(config_path)!r}\n"
    hub = RealHub.start(tmp_path / "hub", settings=SETTINGS, extra_config=extra)
    try:
        home = tmp_path / "hub" / "home" / "alice"
        home.mkdir(parents=True)
        (home / "analysis.ipynb").write_text(NOTEBOOK)
        token = hub.user_token("alice")
        assert hub.api("POST", "users/alice/server").status_code in (201, 202)
        deadline = time.monotonic() + 60
        while not hub.api("GET", "users/alice").json()["servers"].get("", {}).get("ready"):
            assert time.monotonic() < deadline, hub.log_tail()
            time.sleep(0.25)

        lab = httpx.Client(base_url=f"{hub.url}/user/alice/", timeout=60,
                           headers={"Authorization": f"token {token}"})
        hubs = lab.get("execplanner/hubs")
        assert hubs.status_code == 200, hubs.text
        assert hubs.json()["hubs"] == [
            {"name": "this-hub", "url": hub.broker, "own": True, "has_token": True, "kind": "own",
             "link": None}]

        asked = lab.post("execplanner/ask", json={"hubs": ["this-hub"], "path": "analysis.ipynb",
                                                  "cores": {"min": 1}, "memory": {"min": 1}})
        assert asked.status_code == 200, asked.text
        (answer,) = asked.json()["answers"]
        assert answer["status"] == "YES", answer
        assert answer["offers"] and answer["offers"][0]["profile"] == "Small"
        location = asked.json()["request"]["executable"]["location"]
        assert location.startswith(hub.broker + "snapshots/")
        fetched = httpx.get(location, timeout=30)  # no token: a capability URL
        assert fetched.status_code == 200 and fetched.content == NOTEBOOK.encode()
        lab.close()
    finally:
        hub.api("DELETE", "users/alice/server")
        hub.stop()
