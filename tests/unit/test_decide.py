"""The phase driver's rules: what happens to a session, given its phase, its server and the time."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from jupyterhub_execplanner import launch
from jupyterhub_execplanner.model.messages import Message
from jupyterhub_execplanner.model.offer import OfferPlan, SessionRecord
from jupyterhub_execplanner.model.phases import Phase
from jupyterhub_execplanner.model.render import render_session
from jupyterhub_execplanner.model.request import DataSpec, ExecutableSpec, ExecutionRequest
from jupyterhub_execplanner.worker import decide as D
from jupyterhub_execplanner.worker.decide import Act, ServerState, ServerView, Task

T0 = datetime(2026, 11, 24, 15, 0, 0, tzinfo=timezone.utc)
TIMEOUT = timedelta(seconds=300)
PREPARE_START = T0 + timedelta(seconds=10)
END = T0 + timedelta(hours=1)


def s(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def view(state: ServerState, activity: float | None = None) -> ServerView:
    return ServerView(state, None if activity is None else s(activity), "/user/alice/ep-1/")


READY, PENDING, ABSENT = view(ServerState.READY), view(ServerState.PENDING), D.ABSENT
STOPPED, STOPPING, UNKNOWN = view(ServerState.STOPPED), view(ServerState.STOPPING), D.UNKNOWN


def facts(phase: Phase, **changes: Any) -> D.Facts:
    base = D.Facts(
        phase=phase,
        user_owner=True,
        can_start=True,
        prepare_start=PREPARE_START,
        end=END,
        has_server=phase in (Phase.PREPARING, Phase.AVAILABLE, Phase.RUNNING, Phase.RELEASING),
        closed=False,
        preparing_since=PREPARE_START if phase is Phase.PREPARING else None,
        ready_at=s(60) if phase in (Phase.AVAILABLE, Phase.RUNNING) else None,
    )
    return replace(base, **changes)


ROWS: list[tuple[str, D.Facts, float, Act]] = [
    # accepted: wait for the preparing start, or prepare now
    ("accepted, start ahead", facts(Phase.ACCEPTED), 0, Act.WAIT),
    ("accepted, start now", facts(Phase.ACCEPTED), 10, Act.PREPARE),
    ("accepted, start passed", facts(Phase.ACCEPTED), 100, Act.PREPARE),
    ("accepted by a service", facts(Phase.ACCEPTED, user_owner=False), 0, Act.FAIL_SERVICE),
    ("accepted, broker cannot start", facts(Phase.ACCEPTED, can_start=False), 0, Act.FAIL_SETUP),
    ("waiting, before", facts(Phase.WAITING), 8.9, Act.NOTHING),
    ("waiting, within the second before", facts(Phase.WAITING), 9.1, Act.PREPARE),
    ("accepted, within the second before", facts(Phase.ACCEPTED), 9.5, Act.PREPARE),
    ("waiting, at the preparing start", facts(Phase.WAITING), 10, Act.PREPARE),
    ("waiting, broker lost its secret", facts(Phase.WAITING, can_start=False), 0, Act.FAIL_SETUP),
    # preparing
    ("preparing, never started", facts(Phase.PREPARING, has_server=False), 10, Act.START),
    ("preparing, no server (restart)", facts(Phase.PREPARING, server=ABSENT), 20, Act.START),
    ("preparing, failed start left", facts(Phase.PREPARING, server=STOPPED), 20, Act.START),
    ("preparing, server pending", facts(Phase.PREPARING, server=PENDING), 20, Act.FOLLOW),
    ("preparing, server ready", facts(Phase.PREPARING, server=READY), 20, Act.AVAILABLE),
    ("preparing, ready even if late", facts(Phase.PREPARING, server=READY), 400, Act.AVAILABLE),
    ("preparing, hub silent", facts(Phase.PREPARING, server=UNKNOWN), 20, Act.NOTHING),
    ("preparing, old server stopping", facts(Phase.PREPARING, server=STOPPING), 20, Act.NOTHING),
    ("preparing, start under way", facts(Phase.PREPARING, task=Task.PREPARE), 20, Act.NOTHING),
    ("preparing, start too slow", facts(Phase.PREPARING, task=Task.PREPARE), 310, Act.TIMEOUT),
    ("preparing, pending too long", facts(Phase.PREPARING, server=PENDING), 310, Act.TIMEOUT),
    ("preparing, hub busy, retry later",
     facts(Phase.PREPARING, server=ABSENT, retry_at=s(25)), 20, Act.NOTHING),
    ("preparing, retry time came", facts(Phase.PREPARING, server=ABSENT, retry_at=s(25)), 25, Act.START),
    ("preparing, a service's", facts(Phase.PREPARING, server=ABSENT, user_owner=False), 20,
     Act.FAIL_SERVICE),
    ("preparing, cannot start", facts(Phase.PREPARING, server=ABSENT, can_start=False), 20,
     Act.FAIL_SETUP),
    ("preparing, stop under way", facts(Phase.PREPARING, task=Task.STOP), 20, Act.NOTHING),
    ("preparing, the preload failed", facts(Phase.PREPARING, task=Task.PREPARE, failure_reported=True),
     20, Act.FAIL_REPORTED),
    ("preparing, the preload failed, hub still pending",
     facts(Phase.PREPARING, server=PENDING, failure_reported=True), 20, Act.FAIL_REPORTED),
    # available and running
    ("available, idle", facts(Phase.AVAILABLE, server=view(ServerState.READY, 59)), 100, Act.NOTHING),
    ("available, activity at the ready time",
     facts(Phase.AVAILABLE, server=view(ServerState.READY, 60)), 100, Act.NOTHING),
    ("available, used", facts(Phase.AVAILABLE, server=view(ServerState.READY, 60.1)), 100, Act.RUNNING),
    ("available, no ready time", facts(Phase.AVAILABLE, ready_at=None,
                                       server=view(ServerState.READY, 62)), 100, Act.NOTHING),
    ("available, ended", facts(Phase.AVAILABLE, server=READY), 3600, Act.RELEASE),
    ("available, ended, hub silent", facts(Phase.AVAILABLE, server=UNKNOWN), 3600, Act.RELEASE),
    ("available, server gone", facts(Phase.AVAILABLE, server=ABSENT), 100, Act.VANISHED),
    ("available, server stopped", facts(Phase.AVAILABLE, server=STOPPED), 100, Act.VANISHED),
    ("available, being stopped outside", facts(Phase.AVAILABLE, server=STOPPING), 100, Act.NOTHING),
    ("available, hub silent", facts(Phase.AVAILABLE, server=UNKNOWN), 100, Act.NOTHING),
    ("running, in use", facts(Phase.RUNNING, server=view(ServerState.READY, 200)), 300, Act.NOTHING),
    ("running, ended", facts(Phase.RUNNING, server=READY), 3601, Act.RELEASE),
    ("running, server gone", facts(Phase.RUNNING, server=ABSENT), 300, Act.VANISHED),
    # after a hub restart: a server that stopped with the hub is started again, not the session ended
    ("available, hub restarted, server stopped",
     facts(Phase.AVAILABLE, server=STOPPED, hub_restarted=True), 100, Act.RESTART),
    ("running, hub restarted, server gone", facts(Phase.RUNNING, server=ABSENT, hub_restarted=True),
     300, Act.RESTART),
    ("available, hub restarted, server kept running",
     facts(Phase.AVAILABLE, server=READY, hub_restarted=True), 100, Act.KEEP),
    ("available, hub restarted, hub silent",
     facts(Phase.AVAILABLE, server=UNKNOWN, hub_restarted=True), 100, Act.NOTHING),
    ("available, hub restarted, server stopping",
     facts(Phase.AVAILABLE, server=STOPPING, hub_restarted=True), 100, Act.NOTHING),
    ("available, hub restarted, time over",
     facts(Phase.AVAILABLE, server=ABSENT, hub_restarted=True), 3600, Act.RELEASE),
    ("available, hub restarted, broker cannot start",
     facts(Phase.AVAILABLE, server=ABSENT, hub_restarted=True, can_start=False), 100, Act.VANISHED),
    ("preparing, hub restarted, server gone",
     facts(Phase.PREPARING, server=STOPPED, hub_restarted=True), 20, Act.START),
    # releasing
    ("releasing, stop under way", facts(Phase.RELEASING, task=Task.STOP, server=READY), 3601,
     Act.NOTHING),
    ("releasing, server still up (restart)", facts(Phase.RELEASING, server=READY), 3601, Act.STOP),
    ("releasing, stopped, not removed", facts(Phase.RELEASING, server=STOPPED), 3601, Act.STOP),
    ("releasing, stopping", facts(Phase.RELEASING, server=STOPPING), 3601, Act.NOTHING),
    ("releasing, gone", facts(Phase.RELEASING, server=ABSENT), 3601, Act.COMPLETE),
    ("releasing, hub silent", facts(Phase.RELEASING, server=UNKNOWN), 3601, Act.NOTHING),
    ("releasing, stop failed, retry later",
     facts(Phase.RELEASING, server=READY, retry_at=s(3610)), 3601, Act.NOTHING),
    # ended sessions that may still have a server
    ("cancelled before any server", facts(Phase.CANCELLED, has_server=False), 20, Act.NOTHING),
    ("cancelled during the start", facts(Phase.CANCELLED, has_server=True, task=Task.PREPARE), 20,
     Act.CLEAN_UP),
    ("cancelled, server up", facts(Phase.CANCELLED, has_server=True, server=READY), 20, Act.CLEAN_UP),
    ("cancelled, server pending", facts(Phase.CANCELLED, has_server=True, server=PENDING), 20,
     Act.CLEAN_UP),
    ("cancelled, failed start left", facts(Phase.CANCELLED, has_server=True, server=STOPPED), 20,
     Act.CLEAN_UP),
    ("cancelled, being stopped", facts(Phase.CANCELLED, has_server=True, task=Task.STOP), 20,
     Act.NOTHING),
    ("cancelled, stopping", facts(Phase.CANCELLED, has_server=True, server=STOPPING), 20, Act.NOTHING),
    ("cancelled, server gone", facts(Phase.CANCELLED, has_server=True, server=ABSENT), 20, Act.CLOSE),
    ("cancelled, hub silent", facts(Phase.CANCELLED, has_server=True, server=UNKNOWN), 20, Act.NOTHING),
    ("cancelled, already cleaned", facts(Phase.CANCELLED, has_server=True, closed=True, server=READY),
     20, Act.NOTHING),
    ("failed (timeout), server pending", facts(Phase.FAILED, has_server=True, server=PENDING), 400,
     Act.CLEAN_UP),
    ("completed", facts(Phase.COMPLETED, has_server=True, closed=True, server=ABSENT), 4000,
     Act.NOTHING),
    # not the driver's
    ("offered", facts(Phase.OFFERED), 0, Act.NOTHING),
    ("rejected", facts(Phase.REJECTED), 0, Act.NOTHING),
    ("expired", facts(Phase.EXPIRED), 0, Act.NOTHING),
]


@pytest.mark.parametrize(("facts_", "at", "expected"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_decide(facts_: D.Facts, at: float, expected: Act) -> None:
    assert D.decide(facts_, s(at), TIMEOUT) is expected


def test_preparing_timeout_counts_from_when_preparing_started() -> None:
    late_start = facts(Phase.PREPARING, server=PENDING, preparing_since=s(100))
    assert D.decide(late_start, s(399), TIMEOUT) is Act.FOLLOW
    assert D.decide(late_start, s(400), TIMEOUT) is Act.TIMEOUT
    no_note = facts(Phase.PREPARING, server=PENDING, preparing_since=None)
    assert D.decide(no_note, s(310), TIMEOUT) is Act.TIMEOUT  # counted from the preparing start


@pytest.mark.parametrize(
    ("f", "expected"),
    [
        (facts(Phase.ACCEPTED), False),
        (facts(Phase.WAITING), False),
        (facts(Phase.PREPARING, has_server=False), False),
        (facts(Phase.PREPARING), True),
        (facts(Phase.PREPARING, task=Task.PREPARE), False),
        (facts(Phase.AVAILABLE), True),
        (facts(Phase.RUNNING), True),
        (facts(Phase.RELEASING), True),
        (facts(Phase.RELEASING, task=Task.STOP), False),
        (facts(Phase.CANCELLED, has_server=True), True),
        (facts(Phase.CANCELLED, has_server=True, closed=True), False),
        (facts(Phase.CANCELLED), False),
    ],
)
def test_needs_server(f: D.Facts, expected: bool) -> None:
    assert D.needs_server(f) is expected


@pytest.mark.parametrize(
    ("model", "state"),
    [
        (None, ServerState.ABSENT),
        ({"ready": True, "pending": None}, ServerState.READY),
        ({"ready": False, "pending": "spawn"}, ServerState.PENDING),
        ({"ready": True, "pending": "stop"}, ServerState.STOPPING),
        ({"ready": True, "pending": "check"}, ServerState.READY),
        ({"ready": False, "pending": None, "stopped": True}, ServerState.STOPPED),
    ],
)
def test_server_view(model: dict | None, state: ServerState) -> None:
    assert D.server_view(model).state is state


def test_server_view_reads_last_activity_and_url() -> None:
    got = D.server_view({"ready": True, "last_activity": "2026-11-24T15:01:02.345678Z",
                         "url": "/user/alice/ep-1/"})
    assert got.last_activity == datetime(2026, 11, 24, 15, 1, 2, 345678, tzinfo=timezone.utc)
    assert got.url == "/user/alice/ep-1/"
    assert D.server_view({"ready": True, "last_activity": None}).last_activity is None


# ---- sessions, launch specs, connectors --------------------------------------------------------------

UUID = "0f3c2a9e-6f1b-4c55-9d0e-2b7c1d4e5f60"


def record(phase: Phase = Phase.PREPARING, *, notebook: str | None = "https://ex.org/nb/analysis.ipynb",
           requirements: str | None = "requirements.txt", owner: str = "alice",
           messages: list[Message] | None = None) -> SessionRecord:
    request = ExecutionRequest(
        executable=ExecutableSpec(kind="jupyter-notebook", name="analysis", location=notebook,
                                  requirements=requirements),
        data=(
            DataSpec(kind="simple-data-resource", name="table", location="https://ex.org/t.csv"),
            DataSpec(kind="simple-data-resource", location="https://ex.org/u.fits"),
            DataSpec(kind="ivoa-data-resource", name="ivoa"),
        ),
    )
    offer = OfferPlan(profile="small", profile_name="Small", cores=2, memory=4, start=s(40),
                      duration=timedelta(hours=1), preparing=timedelta(seconds=30),
                      releasing=timedelta(seconds=10), accelerators={"nvidia.com/gpu": 1},
                      image="quay.io/x:1")
    return SessionRecord(uuid=UUID, offerset="os", owner=owner, name="analysis-offer-0", phase=phase,
                         created=T0, modified=T0, expires=s(300), request=request, offer=offer,
                         messages=messages or [])


def test_launch_spec_from_the_request_and_the_offer() -> None:
    spec = D.launch_spec(record(), launch.server_name_for(UUID))
    assert spec.session == UUID and spec.owner == "alice" and spec.server_name == "ep-0f3c2a9e6f1b"
    assert (spec.profile, spec.cores, spec.memory, spec.image) == ("small", 2, 4, "quay.io/x:1")
    assert spec.accelerators == {"nvidia.com/gpu": 1}
    assert spec.end == "2026-11-24T16:00:40Z"
    assert spec.notebook == "https://ex.org/nb/analysis.ipynb"
    assert spec.requirements == "https://ex.org/nb/requirements.txt", "relative to the notebook"
    assert [(d.name, d.location) for d in spec.data] == [
        ("table", "https://ex.org/t.csv"), ("data-1", "https://ex.org/u.fits")]
    # and it survives the signed round trip the spawner hook makes, with a nonce and a time limit
    issued = launch.issue(spec, T0)
    assert issued.nonce and issued.not_after == "2026-11-24T15:05:00Z"
    options = launch.to_user_options(issued, "secret")
    assert launch.from_user_options(options, "secret", user="alice", server_name=spec.server_name,
                                    now=s(60)) == issued


def test_a_user_whose_name_has_a_colon_gets_the_launch_in_the_hubs_name() -> None:
    r = record(owner="user:service:planner")
    assert D.launch_spec(r, "ep-1").owner == "service:planner"
    assert D.facts(r, can_start=True).user_owner
    assert not D.facts(record(owner="service:planner"), can_start=True).user_owner


def test_plain_session_has_no_notebook_and_opens_lab() -> None:
    spec = D.launch_spec(record(notebook=None, requirements=None), "ep-1")
    assert spec.notebook is None and spec.requirements is None
    assert D.notebook_location("/user/alice/ep-1/", spec) == "/user/alice/ep-1/lab"


def test_notebook_location_is_the_servers_default_url() -> None:
    spec = D.launch_spec(record(), "ep-1")
    assert D.notebook_location("/user/alice/ep-1/", spec) == (
        f"/user/alice/ep-1/lab/tree/{launch.notebook_path(spec)}")
    with_subdomain = D.notebook_location("https://alice.hub.org/user/alice/ep-1/", spec)
    assert with_subdomain.startswith("https://alice.hub.org/user/alice/ep-1/lab/tree/")


def test_connector_locations_become_absolute_when_rendered() -> None:
    session = record(Phase.AVAILABLE)
    session.connectors = [D.connector("/user/alice/ep-1/lab")]
    doc = render_session(session, "https://hub.example.org/services/execplanner/")
    assert doc["connectors"] == [{
        "kind": D.CONNECTOR_KIND, "status": "AVAILABLE", "protocol": "HTTPS",
        "location": "https://hub.example.org/user/alice/ep-1/lab"}]
    session.connectors = [D.connector("http://alice.hub.org/user/alice/ep-1/lab")]
    doc = render_session(session, "https://hub.example.org/services/execplanner/")
    assert doc["connectors"][0]["location"] == "http://alice.hub.org/user/alice/ep-1/lab"
    assert doc["connectors"][0]["protocol"] == "HTTP"
    assert D.finished(session.connectors)[0]["status"] == "FINISHED"
    assert D.preparing(session.connectors)[0]["status"] == "PREPARING"


def test_facts_from_a_record() -> None:
    preparing = D.note(D.PREPARING, "INFO", "Preparing", s(10))
    ready = D.note(D.READY, "INFO", "ready", s(50))
    r = record(Phase.AVAILABLE, messages=[preparing, ready])
    r.server_name = "ep-1"
    f = D.facts(r, can_start=True)
    assert (f.preparing_since, f.ready_at, f.has_server, f.closed, f.user_owner) == (
        s(10), s(51), True, False, True), "a stored ready time is the end of its second"
    assert D.facts(r, can_start=True, ready_at=s(50.5)).ready_at == s(50.5), "memory wins"
    r.messages.append(D.note(D.STOPPED, "INFO", "stopped", s(60)))
    assert D.facts(r, can_start=True).closed
    assert not D.facts(record(owner="service:robot"), can_start=True).user_owner


def test_a_hub_restart_mark_holds_until_the_server_is_started_seen_or_kept() -> None:
    ready = D.note(D.READY, "INFO", "ready", s(50))
    mark = D.note(D.HUB_RESTARTED, "WARN", "The hub restarted", s(100))
    r = record(Phase.AVAILABLE, messages=[ready, mark])
    assert D.facts(r, can_start=True).hub_restarted
    for kind in (D.RESTARTING, D.STARTING, D.READY, D.KEPT):
        later = record(Phase.AVAILABLE, messages=[ready, mark, D.note(kind, "INFO", "x", s(110))])
        assert not D.facts(later, can_start=True).hub_restarted, kind
    assert not D.facts(record(Phase.AVAILABLE, messages=[ready]), can_start=True).hub_restarted
    # the spawn timeout of a restarted server counts from the restart
    again = record(Phase.PREPARING, messages=[ready, mark,
                                              D.note(D.RESTARTING, "WARN", "again", s(120))])
    assert D.facts(again, can_start=True).preparing_since == s(120)


def test_failure_reason_is_the_preloads_failure_during_the_latest_start() -> None:
    started = D.note(D.STARTING, "INFO", "Starting", s(10))
    old = D.note(D.REPORT_FAILED, "ERROR", "${message}", s(5), message="an older start failed")
    new = D.note(D.REPORT_FAILED, "ERROR", "${message}", s(15), message="requirement nope: no match")
    fetching = D.note(D.REPORT, "INFO", "${message}", s(12), message="fetching")
    r = record(messages=[old, started, fetching, new])
    assert D.failure_reason(r, "Spawn failed: exit 1") == "requirement nope: no match"
    assert D.facts(r, can_start=True).failure_reported
    before = record(messages=[old, started, fetching])
    assert D.failure_reason(before, "Spawn failed: exit 1") == "Spawn failed: exit 1"
    assert not D.facts(before, can_start=True).failure_reported
    assert D.failure_reason(record()) == "the hub gave no reason"


# ---- the preload's reports ---------------------------------------------------------------------------


def test_reports() -> None:
    info = D.parse_report({"level": "info", "message": " installing 3 requirements ", "failed": False}, T0)
    assert (info.kind, info.level, info.message, info.time) == (
        D.REPORT, "INFO", "installing 3 requirements", T0)
    failed = D.parse_report({"level": "INFO", "message": "404 for https://x/nb.ipynb", "failed": True}, T0)
    assert (failed.kind, failed.level) == (D.REPORT_FAILED, "ERROR")
    assert D.parse_report({"message": "x", "level": "warning"}, T0).level == "WARN"
    long = D.parse_report({"message": "x" * 10_000}, T0)
    assert len(long.message) == D.MAX_REPORT_LENGTH
    templated = D.parse_report({"message": "${path} stays as written"}, T0)
    assert templated.message == "${path} stays as written"


@pytest.mark.parametrize(
    "body",
    [[], "text", {}, {"message": ""}, {"message": 3}, {"message": "x", "failed": "yes"},
     {"message": "x", "level": "LOUD"}],
)
def test_bad_reports(body: Any) -> None:
    with pytest.raises(D.ReportError):
        D.parse_report(body, T0)
