"""What the hub's running servers hold: every running or pending server counts, except the ones the
calendar already holds, by its profile, its launch (never less than the profile or the footprint) or
the footprint."""

from __future__ import annotations

from typing import Any

import pytest

from jupyterhub_execplanner import launch
from jupyterhub_execplanner.platform.profiles import Profile
from jupyterhub_execplanner.platform.usage import RunningServer, external_usage, running_servers

PROFILES = [
    Profile(slug="small", display_name="Small", cores_min=2, memory_min=4),
    Profile(slug="bare", display_name="No guarantees"),
    Profile(slug="gpu", display_name="GPU", cores_min=4, memory_min=16, pool="gpu",
            accelerators={"nvidia.com/gpu": 1}),
    # a KubeSpawner entry with profile_options: one profile per choice, same slug
    Profile(slug="py", display_name="Python", cores_min=1, memory_min=1, options={"image": "a"}),
    Profile(slug="py", display_name="Python", cores_min=3, memory_min=6, options={"image": "b"},
            pool="big"),
]
FOOTPRINT = {"cores": 1.0, "memory": 2.0}
SESSION = "0e0e0e0e-0000-4000-8000-000000000001"


def launched(cores: Any, memory: Any, accelerators: Any = None, profile: str = "small") -> dict[str, Any]:
    """The user_options of a broker launch (the signature is not checked here)."""
    payload: dict[str, Any] = {"session": SESSION, "owner": "alice", "server_name": "ep-1",
                               "profile": profile, "cores": cores, "memory": memory,
                               "end": "2030-01-01T00:00:00Z"}
    if accelerators is not None:
        payload["accelerators"] = accelerators
    return {"profile": profile, launch.SESSION_OPTION: SESSION, launch.LAUNCH_OPTION: payload,
            launch.SIGNATURE_OPTION: "0" * 64}


def server(options: dict[str, Any] | None = None, user: str = "alice", name: str = "") -> RunningServer:
    return RunningServer(user, name, options or {})


USAGE_ROWS: list[tuple[str, list[RunningServer], set[tuple[str, str]], dict[str, dict[str, float]]]] = [
    ("no servers", [], set(), {}),
    ("no options: the footprint in the first profile's pool", [server()], set(),
     {"default": {"cores": 1, "memory": 2}}),
    ("an unknown profile: the footprint", [server({"profile": "huge"})], set(),
     {"default": {"cores": 1, "memory": 2}}),
    ("a known profile: its guarantees", [server({"profile": "small"})], set(),
     {"default": {"cores": 2, "memory": 4}}),
    ("a profile without guarantees: the footprint", [server({"profile": "bare"})], set(),
     {"default": {"cores": 1, "memory": 2}}),
    ("a profile's pool and accelerators", [server({"profile": "gpu"})], set(),
     {"gpu": {"cores": 4, "memory": 16, "nvidia.com/gpu": 1}}),
    ("the alternative whose option choices the options make", [server({"profile": "py", "image": "b"})],
     set(), {"big": {"cores": 3, "memory": 6}}),
    ("an unknown choice: the slug's first alternative", [server({"profile": "py", "image": "zzz"})],
     set(), {"default": {"cores": 1, "memory": 1}}),
    ("servers add up", [server(), server({"profile": "small"}, name="a"), server(user="bob")], set(),
     {"default": {"cores": 4, "memory": 8}}),
    # the calendar holds the broker's own sessions' servers: exactly those are skipped
    ("a held server is skipped", [server(launched(4, 8), name="ep-1")], {("alice", "ep-1")}, {}),
    ("only the held one: same name, other user", [server(launched(4, 8), user="bob", name="ep-1")],
     {("alice", "ep-1")}, {"default": {"cores": 4, "memory": 8}}),
    ("only the held one: same user, other server", [server(launched(4, 8), name="ep-2")],
     {("alice", "ep-1")}, {"default": {"cores": 4, "memory": 8}}),
    ("a held pair skips a plain server too", [server(name="ep-1")], {("alice", "ep-1")}, {}),
    # options copied from a session (replayed, or typed by hand) no longer hide a server
    ("a session option alone: the footprint", [server({launch.SESSION_OPTION: SESSION})], set(),
     {"default": {"cores": 1, "memory": 2}}),
    ("a launch bigger than its profile: the launch", [server(launched(6, 12))], set(),
     {"default": {"cores": 6, "memory": 12}}),
    ("a launch smaller than its profile: the profile", [server(launched(1, 1))], set(),
     {"default": {"cores": 2, "memory": 4}}),
    ("a launch of an unknown profile, smaller than the footprint: the footprint",
     [server(launched(0, 1, profile="gone"))], set(), {"default": {"cores": 1, "memory": 2}}),
    ("a launch of an unknown profile, bigger: the launch", [server(launched(3, 1, profile="gone"))],
     set(), {"default": {"cores": 3, "memory": 2}}),
    ("a launch's accelerators", [server(launched(4, 16, {"nvidia.com/gpu": 2}, profile="gpu"))], set(),
     {"gpu": {"cores": 4, "memory": 16, "nvidia.com/gpu": 2}}),
    ("malformed launch amounts are left out", [server(launched("many", -3, {"x": float("nan"), "y": True}))],
     set(), {"default": {"cores": 2, "memory": 4}}),
    ("a launch as the only option", [server({launch.LAUNCH_OPTION: {"cores": 6, "memory": 1}})], set(),
     {"default": {"cores": 6, "memory": 2}}),
    ("two different launches as the only option", [
        server({launch.LAUNCH_OPTION: {"cores": 6, "memory": 1}}),
        server({launch.LAUNCH_OPTION: {"cores": 3, "memory": 5}}, user="bob")], set(),
     {"default": {"cores": 9, "memory": 7}}),
    ("a profile option that is not a string: unknown", [server({"profile": ["small"]})], set(),
     {"default": {"cores": 1, "memory": 2}}),
    ("the same options many times add up", [server(user=u) for u in "abc"]
     + [server({"profile": "small"}, user=u) for u in "de"] + [server(launched(6, 12), user="f")], set(),
     {"default": {"cores": 3 + 4 + 6, "memory": 6 + 8 + 12}}),
    ("a launch that is not a mapping", [server({launch.LAUNCH_OPTION: "6 cores", "profile": "small"})],
     set(), {"default": {"cores": 2, "memory": 4}}),
]


@pytest.mark.parametrize(("servers", "held", "expected"), [r[1:] for r in USAGE_ROWS],
                         ids=[r[0] for r in USAGE_ROWS])
def test_external_usage(servers: list[RunningServer], held: set[tuple[str, str]],
                        expected: dict[str, dict[str, float]]) -> None:
    assert external_usage(servers, PROFILES, FOOTPRINT, held=held) == expected


def test_no_profiles_count_in_the_default_pool() -> None:
    assert external_usage([server({"profile": "small"})], [], FOOTPRINT) == {
        "default": {"cores": 1, "memory": 2}}


def test_the_inputs_are_not_changed() -> None:
    options = launched(6, 12)
    footprint = dict(FOOTPRINT)
    external_usage([server(options)], PROFILES, footprint)
    assert options == launched(6, 12) and footprint == FOOTPRINT


def model(name: str, servers: dict[str, Any] | None) -> dict[str, Any]:
    return {"kind": "user", "name": name, "servers": servers}


def srv(name: str, *, ready: bool = True, pending: str | None = None,
        options: Any = None) -> dict[str, Any]:
    return {"name": name, "ready": ready, "pending": pending, "stopped": not (ready or pending),
            "user_options": options if options is not None else {}}


SERVER_ROWS: list[tuple[str, list[Any], list[RunningServer]]] = [
    ("nothing", [], []),
    ("a ready default server", [model("alice", {"": srv("")})], [server()]),
    ("ready, starting and stopped", [model("alice", {
        "a": srv("a"), "b": srv("b", ready=False, pending="spawn"), "c": srv("c", ready=False)})],
     [server(name="a"), server(name="b")]),
    ("stopping still holds its room", [model("alice", {"a": srv("a", ready=False, pending="stop")})],
     [server(name="a")]),
    ("user_options kept", [model("alice", {"a": srv("a", options={"profile": "small"})})],
     [server({"profile": "small"}, name="a")]),
    ("user_options that are not a mapping: none", [model("alice", {"a": srv("a", options=["x"])})],
     [server(name="a")]),
    ("a user on two pages counts once", [model("alice", {"a": srv("a")}), model("alice", {"a": srv("a")})],
     [server(name="a")]),
    ("the same server name of two users", [model("alice", {"a": srv("a")}), model("bob", {"a": srv("a")})],
     [server(name="a"), server(user="bob", name="a")]),
    ("the server model's name, else its key", [model("alice", {"k": {"ready": True}})],
     [server(name="k")]),
    ("no servers to read, or not models", [model("alice", None), {"name": "bob"}, "carol", None,
                                           model("dave", {"x": "running"})], []),
]


@pytest.mark.parametrize(("users", "expected"), [r[1:] for r in SERVER_ROWS],
                         ids=[r[0] for r in SERVER_ROWS])
def test_running_servers(users: list[Any], expected: list[RunningServer]) -> None:
    assert running_servers(users) == expected
