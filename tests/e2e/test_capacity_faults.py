"""End to end: the capacity invariant under faults, against a real hub with real servers.

What the broker has promised (unexpired offers and sessions that have not ended, over their whole
schedules) plus what servers outside it hold must never exceed the hub's capacity, whatever happens:
a server started by hand, many planners asking and accepting at once, the database turning read-only
in the middle, and a user replaying a finished session's launch. The invariant is checked from the
outside, from what an admin reads from the broker's and the hub's APIs."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import Any

import httpx
import isodate
import pytest
from brokers import Broker
from faults import read_only_database
from hubprocess import RealHub
from requests_lib import KINDS
from test_sessions_run import Sessions, wait_for

from jupyterhub_execplanner import launch

pytestmark = pytest.mark.e2e

CORES, MEMORY = 4, 8
PROFILES = [
    {"display_name": "Two cores", "slug": "two",
     "kubespawner_override": {"cpu_guarantee": 2, "cpu_limit": 2, "mem_guarantee": "2G", "mem_limit": "2G"}},
    {"display_name": "Two cores too", "slug": "twin",
     "kubespawner_override": {"cpu_guarantee": 2, "cpu_limit": 2, "mem_guarantee": "2G", "mem_limit": "2G"}},
]
SETTINGS: dict[str, Any] = {
    "profiles": PROFILES,
    "capacity": {"default": {"cores": CORES, "memory": MEMORY}},
    "offer_expiry": 300,
    "prepare_time": 5,
    "max_offers": 2,
    "hub_poll_interval": 1,
    # capacity is what is tested here, not the per-user limits
    "limit_open_offers": 0,
    "limit_sessions": 0,
    "limit_core_hours": 0,
    "limit_requests_per_minute": 0,
}
HOLDING = {"OFFERED", "ACCEPTED", "WAITING", "PREPARING", "AVAILABLE", "RUNNING", "RELEASING"}


def request(duration: str = "PT10M") -> dict[str, Any]:
    return {
        "executable": {"kind": f"{KINDS}/executable/jupyter-notebook.yaml", "meta": {"name": "cap"}},
        "compute": {"kind": f"{KINDS}/compute/simple-compute-resource.yaml",
                    "cores": {"min": 2}, "memory": {"min": 2}},
        "schedule": {"requested": {"duration": duration}},
    }


@pytest.fixture(scope="module")
def cap_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealHub]:
    hub = RealHub.start(tmp_path_factory.mktemp("cap-hub"), settings=SETTINGS)
    try:
        yield hub
    finally:
        hub.stop()


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def promised(hub: RealHub) -> list[tuple[datetime, datetime, int, int]]:
    """(start, end, cores, memory) of everything the broker holds, as its admin reads it."""
    admin = Broker(hub.broker, hub.user_token("admin", admin=True))
    now = datetime.now(timezone.utc)
    held = []
    for s in admin.get("sessions", params={"offers": "true"}).json()["sessions"]:
        if s["phase"] not in HOLDING or (s["phase"] == "OFFERED" and _time(s["expires"]) <= now):
            continue
        schedule = s["schedule"]
        releasing = schedule["releasing"]
        end = _time(releasing["start"]) + isodate.parse_duration(releasing["duration"])
        held.append((_time(schedule["preparing"]["start"]), end,
                     s["compute"]["cores"]["min"], s["compute"]["memory"]["min"]))
    return held


def outside(hub: RealHub) -> tuple[int, int]:
    """Cores and GiB held now by running servers that are not the broker's sessions' (by profile)."""
    users = hub.api("GET", "users", params={"state": "active"}).json()
    cores = memory = 0
    for user in users:
        for name, server in (user.get("servers") or {}).items():
            if name.startswith("ep-") or not (server.get("ready") or server.get("pending")):
                continue
            cores, memory = cores + 2, memory + 2  # every hand-started server here runs profile "two"
    return cores, memory


def assert_invariant(hub: RealHub) -> None:
    held = promised(hub)
    extra_cores, extra_memory = outside(hub)
    instants = sorted({t for start, end, *_ in held for t in (start, end)})
    for t in instants:
        cores = sum(c for start, end, c, _ in held if start <= t < end) + extra_cores
        memory = sum(m for start, end, _, m in held if start <= t < end) + extra_memory
        assert cores <= CORES and memory <= MEMORY, (
            f"at {t}: {cores} cores and {memory} GiB promised or in use, of {CORES} and {MEMORY}: {held}"
        )


def start_by_hand(hub: RealHub, user: str, name: str, options: dict[str, Any]) -> httpx.Response:
    hub.user_token(user)
    return httpx.post(f"{hub.url}/hub/api/users/{user}/servers/{name}", json={"user_options": options},
                      headers={"Authorization": f"token {hub.admin_token}"}, timeout=60)


def test_the_invariant_holds_under_every_fault(cap_hub: RealHub) -> None:
    # 1. a server started by hand holds two cores: the broker counts it once its poll has seen it
    assert start_by_hand(cap_hub, "zoe", "mine", {"profile": "two"}).status_code in (201, 202)
    wait_for(lambda: cap_hub.api("GET", "users/zoe").json()["servers"]["mine"]["ready"], 60,
             "zoe's own server to be ready")
    users = [Sessions(cap_hub, name) for name in ("alice", "bob", "carol", "dave")]
    time.sleep(3)  # the broker reads the hub's running servers every second (hub_poll_interval)

    # 2. planners ask at once, then accept at once (alice both of her offers: one wins)
    with ThreadPoolExecutor(8) as pool:
        offersets = list(pool.map(lambda u: u.broker.post("requests", json=request()).json(), users))
    assert [o["result"] for o in offersets] == ["YES"] * 4, [
        [m["message"] for m in o["meta"]["messages"]] for o in offersets]
    assert_invariant(cap_hub)
    accepts = [(users[0], o["meta"]["uuid"]) for o in offersets[0]["offers"]]
    accepts += [(u, o["offers"][0]["meta"]["uuid"]) for u, o in zip(users[1:], offersets[1:], strict=True)]
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda pair: pair[0].broker.accept(pair[1]).status_code, accepts))
    assert sorted(answers[:2]) == [200, 409], answers  # alice's two offers: exactly one accepted
    assert answers[2:] == [200, 200, 200], answers
    assert_invariant(cap_hub)

    # 3. the database turns read-only: refused with 503, nothing promised twice once it is back
    spare = users[1].broker.post("requests", json=request()).json()["offers"]
    with read_only_database(cap_hub.folder / "execplanner.sqlite"):
        refused = users[1].broker.accept(spare[0]["meta"]["uuid"])
        assert refused.status_code == 503 and refused.headers["Retry-After"]
        assert users[2].broker.post("requests", json=request()).status_code == 503
        assert users[3].broker.get("sessions").status_code == 200
        assert_invariant(cap_hub)
    if len(spare) > 1:
        assert users[1].broker.accept(spare[1]["meta"]["uuid"]).status_code == 200
    else:
        assert users[1].broker.accept(spare[0]["meta"]["uuid"]).status_code == 200
    assert_invariant(cap_hub)

    # 4. a session runs, is cancelled, and its owner replays its launch: refused, nothing runs
    running = next(uuid for (u, uuid), status in zip(accepts, answers, strict=True)
                   if status == 200 and u is users[0])
    alice = users[0]
    wait_for(lambda: alice.get(running)["phase"] in ("AVAILABLE", "RUNNING", "WAITING"), 90,
             "alice's session to start or wait")
    session = alice.get(running)
    if session["phase"] in ("AVAILABLE", "RUNNING"):
        name = launch.server_name_for(running)
        options = cap_hub.api("GET", "users/alice").json()["servers"][name]["user_options"]
        assert alice.broker.accept(running, "CANCELLED").status_code == 200
        wait_for(lambda: alice.server(running).status_code == 404, 60, "the server to be removed")
        replay = httpx.post(f"{cap_hub.url}/hub/api/users/alice/servers/{name}",
                            json={"user_options": options}, timeout=60,
                            headers={"Authorization": f"token {alice.broker.token}"})
        assert replay.status_code >= 400, replay.text

        def nothing_runs() -> bool:
            server = alice.server(running)
            return server.status_code == 404 or not (server.json()["ready"] or server.json()["pending"])

        wait_for(nothing_runs, 30, "the refused server to be gone")
        time.sleep(2)  # a poll of the hub that saw the refused start still pending is superseded
    assert_invariant(cap_hub)

    # 5. and new requests still fit around everything that is promised
    for user in itertools.islice(itertools.cycle(users), 6):
        answer = user.broker.post("requests", json=request("PT5M")).json()
        assert answer["result"] == "YES", [m["message"] for m in answer["meta"]["messages"]]
    assert_invariant(cap_hub)
