"""A hub with more active users than one page of its API is counted right: every running server holds
capacity the broker does not offer, including servers whose user_options carry a copied session or
launch, while the servers of the broker's own sessions are counted once (by their reservations).

The hub answers at most 5 users a page (``api_page_max_limit``) and runs its servers with the light
spawner (``tests/lightspawner.py``): 12 users with a running server, 3 pages. Servers whose name starts
with ``replay`` skip the broker's pre-spawn hook (the config wraps it), so they run with whatever
options the test gives them, as on a hub where a server got such options past the hook; the broker's
own session servers go through the hook with signed options."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
from brokers import Broker
from hubprocess import RealHub
from lightspawner import light_config
from requests_lib import notebook

from jupyterhub_execplanner import launch

pytestmark = pytest.mark.e2e

TOTAL_CORES = 40
FOOTPRINT_CORES = 1  # the default server_footprint: 1 core, 1 GiB
PROFILE_CORES = 2
PAGE_MAX = 5
ACTIVE = [f"user{i:02d}" for i in range(12)]
SETTINGS: dict[str, Any] = {
    "profiles": [{"display_name": "Small", "slug": "small",
                  "kubespawner_override": {"cpu_guarantee": PROFILE_CORES, "cpu_limit": TOTAL_CORES,
                                           "mem_guarantee": "2G", "mem_limit": "100G"}}],
    "capacity": {"default": {"cores": TOTAL_CORES, "memory": 1000}},
    "max_offers": 1,
    "prepare_time": 1,
    "driver_interval": 0.5,
    "hub_poll_interval": 1,
}
REPLAY_HOOK = """
_broker_hook = c.Spawner.pre_spawn_hook


def _hook(spawner):
    if spawner.name.startswith("replay"):  # these run with the options the test gives them
        return None
    return _broker_hook(spawner)


c.Spawner.pre_spawn_hook = _hook
"""
COPIED_SESSION = "5e55e55e-0000-4000-8000-000000000001"


@pytest.fixture(scope="module")
def large_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealHub]:
    extra = light_config() + f"c.JupyterHub.api_page_max_limit = {PAGE_MAX}\n" + REPLAY_HOOK
    hub = RealHub.start(tmp_path_factory.mktemp("large-hub"), settings=SETTINGS, extra_config=extra,
                        env={launch.SECRET_ENV: os.urandom(16).hex()})
    try:
        hub.api("POST", "users", json={"usernames": ACTIVE}).raise_for_status()
        for name in ACTIVE:
            started = hub.api("POST", f"users/{name}/server", json={})
            assert started.status_code == 201, started.text
        yield hub
    finally:
        hub.stop()


def offered_cores(broker: Broker) -> int:
    """The cores of the one offer for "1 to all cores, now", rejected again at once (an offer holds
    its cores until then)."""
    answer = broker.post("requests", json=notebook(cores=(1, TOTAL_CORES), memory=(2, 2))).json()
    assert answer["result"] == "YES", answer
    offer = answer["offers"][0]
    assert broker.accept(offer["meta"]["uuid"], "REJECTED").status_code == 200
    return int(offer["compute"]["cores"]["min"])


def settles_at(broker: Broker, expected: int, timeout: float = 20) -> None:
    """The broker's offer comes to ``expected`` cores within a few polls of the hub, and stays."""
    deadline = time.monotonic() + timeout
    seen: list[int] = []
    while time.monotonic() < deadline:
        seen.append(offered_cores(broker))
        if seen[-1] == expected:
            break
        time.sleep(1)  # one poll of the hub (and under the broker's per-user request rate)
    assert seen and seen[-1] == expected, f"offered {seen}, never {expected} cores"
    time.sleep(2.5)  # two more polls of the hub: the count is stable, not a passing value
    assert offered_cores(broker) == expected


def test_every_page_of_active_users_is_subtracted(large_hub: RealHub) -> None:
    plain = large_hub.api("GET", "users", params={"state": "active"}).json()
    assert len(plain) == PAGE_MAX < len(ACTIVE), "the hub answers one page to an unpaged read"
    alice = Broker(large_hub.broker, large_hub.user_token("alice"))
    settles_at(alice, TOTAL_CORES - len(ACTIVE) * FOOTPRINT_CORES)


def test_copied_session_options_do_not_hide_a_server(large_hub: RealHub) -> None:
    carol = Broker(large_hub.broker, large_hub.user_token("carol"))
    base = TOTAL_CORES - len(ACTIVE) * FOOTPRINT_CORES
    settles_at(carol, base)
    # a session's options copied onto another server: the launch says 5 cores, more than the profile
    copied_launch = {"session": COPIED_SESSION, "owner": ACTIVE[0], "server_name": "ep-copied",
                     "profile": "small", "cores": 5, "memory": 1, "end": "2030-01-01T00:00:00Z"}
    options = {"profile": "small", launch.SESSION_OPTION: COPIED_SESSION,
               launch.LAUNCH_OPTION: copied_launch, launch.SIGNATURE_OPTION: "copied"}
    bare = {launch.SESSION_OPTION: COPIED_SESSION}  # the session option alone: the footprint
    try:
        for name, opts in (("replay-launch", options), ("replay-session", bare)):
            started = large_hub.api("POST", f"users/{ACTIVE[0]}/servers/{name}",
                                    json={"user_options": opts})
            assert started.status_code == 201, started.text
            server = large_hub.api("GET", f"users/{ACTIVE[0]}").json()["servers"][name]
            assert server["ready"] and server["user_options"] == opts
        settles_at(carol, base - 5 - FOOTPRINT_CORES)
    finally:
        for name in ("replay-launch", "replay-session"):
            large_hub.api("DELETE", f"users/{ACTIVE[0]}/servers/{name}", json={"remove": True})
    settles_at(carol, base)


def test_a_session_server_is_counted_once(large_hub: RealHub) -> None:
    """The broker's own session, its server running with signed options: its reservation holds its
    cores, and the poll does not count the server again."""
    bob = Broker(large_hub.broker, large_hub.user_token("bob"))
    base = TOTAL_CORES - len(ACTIVE) * FOOTPRINT_CORES
    settles_at(bob, base)
    answer = bob.post("requests", json=notebook(cores=(4, 4), memory=(2, 2))).json()
    uuid = answer["offers"][0]["meta"]["uuid"]
    assert bob.accept(uuid).status_code == 200
    try:
        deadline = time.monotonic() + 30
        while (session := bob.get(f"sessions/{uuid}").json())["phase"] != "AVAILABLE":
            assert session["phase"] in ("ACCEPTED", "WAITING", "PREPARING"), session
            assert time.monotonic() < deadline, session
            time.sleep(0.3)
        servers = large_hub.api("GET", "users/bob").json()["servers"]
        (name,) = [n for n, s in servers.items() if s["ready"]]
        assert servers[name]["user_options"][launch.SESSION_OPTION] == uuid
        settles_at(bob, base - 4)
    finally:
        bob.accept(uuid, "CANCELLED")
