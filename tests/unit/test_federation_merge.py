"""Federation's pure rules: Via headers and loop cutting, merging peers' answers, messages about
peers, and the messages of wrong ``peers`` settings."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from traitlets.config import Config

from jupyterhub_execplanner import setup_execplanner
from jupyterhub_execplanner.client import HubAnswer
from jupyterhub_execplanner.federation import merge as M
from jupyterhub_execplanner.federation.merge import RelayedSession
from jupyterhub_execplanner.federation.peerconfig import PeerConfigError, check_peers
from jupyterhub_execplanner.hubconfig import SetupError
from jupyterhub_execplanner.service.settings import ExecPlanner

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=timezone.utc)


def offer(uuid: str, start: datetime | None, url: str | None = "auto") -> dict[str, Any]:
    meta: dict[str, Any] = {"uuid": uuid}
    if url == "auto":
        meta["url"] = f"http://peer.example/services/execplanner/sessions/{uuid}"
    elif url is not None:
        meta["url"] = url
    doc: dict[str, Any] = {"meta": meta, "phase": "OFFERED"}
    if start is not None:
        doc["schedule"] = {"available": {"start": f"{start:%Y-%m-%dT%H:%M:%SZ}/PT0S", "duration": "PT1H"}}
    return doc


def uid(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


def yes(peer: str, *offers: dict[str, Any], messages: list[dict] | None = None) -> HubAnswer:
    doc = {"result": "YES", "meta": {"messages": messages or []}, "offers": list(offers)}
    return HubAnswer(peer, True, doc, None, 0.1)


def no(peer: str, *reasons: str) -> HubAnswer:
    messages = [{"kind": "urn:no-capacity", "level": "ERROR", "template": r, "message": r} for r in reasons]
    return HubAnswer(peer, True, {"result": "NO", "meta": {"messages": messages}, "offers": []}, None, 0.1)


# -- Via and hops ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, ()),
        ("", ()),
        ("a", ("a",)),
        ("a, b ,,c", ("a", "b", "c")),
        ("a,b c,<x>,d", ("a", "d")),  # malformed ids are dropped
        (",".join(f"id{i}" for i in range(50)), tuple(f"id{i}" for i in range(32))),
    ],
)
def test_parse_via(header: str | None, expected: tuple[str, ...]) -> None:
    assert M.parse_via(header) == expected


def test_format_via_appends_own_id() -> None:
    assert M.format_via((), "me") == "me"
    assert M.format_via(("a", "b"), "me") == "a,b,me"
    assert M.parse_via(M.format_via(("a",), "me")) == ("a", "me")


@pytest.mark.parametrize(
    ("header", "expected"),
    [(None, None), ("", None), ("3", 3.0), ("2.5", 2.5), ("0", None), ("-1", None), ("inf", None),
     ("nan", None), ("soon", None)],
)
def test_parse_timeout(header: str | None, expected: float | None) -> None:
    assert M.parse_timeout(header) == expected


@pytest.mark.parametrize(
    ("peer_timeout", "caller", "expected"),
    [(5.0, None, 5.0), (5.0, 10.0, 5.0), (5.0, 3.0, 2.2), (2.0, 2.0, 1.4)],
)
def test_budget_leaves_a_margin_for_the_caller(peer_timeout: float, caller: float | None,
                                                expected: float) -> None:
    assert M.budget(peer_timeout, caller) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("via", "has_peers", "max_hops", "caller", "forward", "loop", "kind"),
    [
        ((), True, 2, None, True, False, None),  # from a user: ask the peers
        (("a",), True, 2, None, True, False, None),  # one hop in: still below max_hops
        (("a", "b"), True, 2, None, False, False, M.HOP_LIMIT),  # max_hops reached
        (("a", "b"), True, 3, None, True, False, None),
        (("a", "me"), True, 5, None, False, True, M.LOOP),  # back here: a loop
        (("me",), False, 5, None, False, True, M.LOOP),  # a loop even without peers
        ((), False, 2, None, False, False, None),  # no peers, nothing to say
        (("a",), True, 2, 0.4, False, False, M.HOP_LIMIT),  # the caller waits too little
    ],
)
def test_decide_route(via: tuple[str, ...], has_peers: bool, max_hops: int, caller: float | None,
                      forward: bool, loop: bool, kind: str | None) -> None:
    route = M.decide_route("me", via, has_peers=has_peers, max_hops=max_hops, peer_timeout=5.0,
                           caller_timeout=caller)
    assert (route.forward, route.loop) == (forward, loop)
    assert (route.message.kind if route.message else None) == kind
    if forward:
        assert route.via == ",".join([*via, "me"])
        assert 0 < route.timeout <= 5.0


def test_loop_message_is_a_reason_for_no() -> None:
    route = M.decide_route("me", ("a", "me"), has_peers=True, max_hops=2, peer_timeout=5)
    assert route.message is not None and route.message.is_error  # WARN: the request is answered NO
    assert "me" in route.message.message and "a, me" in route.message.message


# -- what peers said ------------------------------------------------------------------------------


def test_messages_for_a_peer_that_timed_out_or_failed() -> None:
    (timeout,) = M.peer_messages(HubAnswer("b", False, None, "timed out after 5s", 5.0))
    assert (timeout.kind, timeout.level) == (M.PEER_TIMEOUT, "WARN")
    assert timeout.message == "Peer b gave no answer: timed out after 5s."
    (error,) = M.peer_messages(HubAnswer("c", False, None, "HTTP 403: lacks the scope", 0.1))
    assert (error.kind, error.level, error.values["peer"]) == (M.PEER_ERROR, "WARN", "c")
    assert "HTTP 403" in error.message
    (odd,) = M.peer_messages(HubAnswer("d", True, {"offers": []}, None, 0.1))
    assert (odd.kind, odd.level) == (M.PEER_ERROR, "WARN")


def test_a_peers_no_reasons_are_info_naming_the_peer() -> None:
    found = M.peer_messages(no("b", "no capacity", "too long"))
    assert [(m.kind, m.level, m.message) for m in found] == [
        (M.PEER_NO, "INFO", "Peer b: no capacity"),
        (M.PEER_NO, "INFO", "Peer b: too long"),
    ]
    assert found[0].values["peer_kind"] == "urn:no-capacity"
    (bare,) = M.peer_messages(no("c"))
    assert bare.message == "Peer c said NO (it gave no reason)."


def test_a_yes_peers_messages_keep_their_level_but_never_error() -> None:
    said = [{"kind": "k1", "level": "INFO", "message": "note"},
            {"kind": "k2", "level": "ERROR", "message": "bad"}]
    found = M.peer_messages(yes("b", offer(uid(1), T0), messages=said))
    assert [(m.level, m.message) for m in found] == [("INFO", "Peer b: note"), ("WARN", "Peer b: bad")]


# -- merging --------------------------------------------------------------------------------------


def test_merge_orders_by_start_then_source_then_position() -> None:
    local = [offer(uid(1), T0 + timedelta(minutes=60)), offer(uid(2), T0)]
    b = yes("b", offer(uid(3), T0), offer(uid(4), T0 + timedelta(minutes=30)))
    c = yes("c", offer(uid(5), None), offer(uid(6), T0))
    result = M.merge(local, [b, HubAnswer("slow", False, None, "timed out after 5s", 5), c])
    order = [(m.peer, m.uuid[-1]) for m in result.offers]
    assert order == [(None, "2"), ("b", "3"), ("c", "6"), ("b", "4"), (None, "1"), ("c", "5")]
    assert result.result == "YES"
    assert [m.kind for m in result.messages] == [M.PEER_TIMEOUT]


def test_merge_is_yes_with_only_peer_offers_and_no_with_none() -> None:
    assert M.merge([], [no("b", "full"), yes("c", offer(uid(1), T0))]).result == "YES"
    result = M.merge([], [no("b", "full"), HubAnswer("c", False, None, "cannot connect", 0.0)])
    assert result.result == "NO" and result.offers == []
    assert [(m.kind, m.level) for m in result.messages] == [(M.PEER_NO, "INFO"), (M.PEER_ERROR, "WARN")]


def test_merge_leaves_out_offers_without_uuid_or_url_and_duplicates() -> None:
    local = [offer(uid(1), T0)]
    b = yes("b", offer(uid(1), T0), offer(uid(2), T0, url=None), offer("not-a-uuid", T0),
            offer(uid(3), T0, url="ftp://x/sessions/3"), offer(uid(4), T0))
    result = M.merge(local, [b])
    assert [m.uuid for m in result.offers] == [uid(1), uid(4)]
    (skipped,) = result.messages
    assert skipped.kind == M.PEER_OFFER_SKIPPED and skipped.values == {"peer": "b", "count": "4"}


def test_peer_offers_keep_their_own_document() -> None:
    theirs = offer(uid(7), T0)
    theirs["connectors"] = [{"location": "http://peer.example/user/x/lab"}]
    (merged,) = M.merge([], [yes("b", theirs)]).offers
    assert merged.doc is theirs


def test_in_order() -> None:
    docs = [offer(uid(i), T0) for i in (1, 2, 3)]
    assert [d["meta"]["uuid"] for d in M.in_order([uid(3), uid(1)], docs)] == [uid(3), uid(1), uid(2)]


def relayed(phase: str, expires: datetime) -> RelayedSession:
    doc = {**offer(uid(1), T0), "phase": phase, "expires": f"{expires:%Y-%m-%dT%H:%M:%SZ}"}
    return RelayedSession(uid(1), uid(9), "alice", "b", doc["meta"]["url"], phase, doc, T0, T0)


@pytest.mark.parametrize(
    ("phase", "expires_in", "expected"),
    [("OFFERED", 60, True), ("OFFERED", -60, False), ("ACCEPTED", -60, True), ("RUNNING", -60, True),
     ("COMPLETED", 60, False), ("REJECTED", 60, False), ("CANCELLED", 60, False)],
)
def test_worth_refreshing(phase: str, expires_in: int, expected: bool) -> None:
    assert M.worth_refreshing(relayed(phase, T0 + timedelta(seconds=expires_in)), T0) is expected


def test_with_messages_copies() -> None:
    doc = offer(uid(1), T0)
    note = M.stale_note("b", "timed out after 5s", T0)
    added = M.with_messages(doc, [note])
    assert "messages" not in doc["meta"]
    assert added["meta"]["messages"][0]["message"] == (
        "Peer b did not answer (timed out after 5s): this is what it said at 2026-05-01T12:00:00Z."
    )


# -- settings -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("peers", "words"),
    [
        ("hub-b", ["must be a list of peers"]),
        (["hub-b"], ["[0] must be a dict"]),
        ([{"url": "https://b"}], ["[0]", "'name'"]),
        ([{"name": "b c", "url": "https://b", "token": "t"}], ["'name'", "'b c'"]),
        ([{"name": "b", "url": "b.example.org", "token": "t"}], ["peer 'b'", "'url'", "b.example.org"]),
        ([{"name": "b", "url": "https://b"}], ["peer 'b'", "exactly one of", "none of them"]),
        ([{"name": "b", "url": "https://b", "token": "t", "forward_token": True}],
         ["peer 'b'", "both 'token' and 'forward_token'"]),
        ([{"name": "b", "url": "https://b", "token_env": "1BAD"}], ["peer 'b'", "'token_env'", "'1BAD'"]),
        ([{"name": "b", "url": "https://b", "forward_token": "yes"}], ["peer 'b'", "'forward_token'"]),
        ([{"name": "b", "url": "https://b", "token": ""}], ["peer 'b'", "'token'"]),
        ([{"name": "b", "url": "https://b", "token": "t", "timeout": 3}],
         ["peer 'b'", "unknown field 'timeout'"]),
        ([{"name": "b", "url": "https://b", "token": "t"}, {"name": "b", "url": "https://c", "token": "u"}],
         ["[1] (peer 'b')", "used by another peer"]),
    ],
)
def test_wrong_peers_name_the_peer_and_the_field(peers: Any, words: list[str]) -> None:
    with pytest.raises(PeerConfigError) as info:
        check_peers(peers)
    for word in words:
        assert word in str(info.value)
    assert "secret" not in str(info.value)


def test_good_peers() -> None:
    peers = check_peers([
        {"name": "b", "url": "https://b.example.org", "token": "secret"},
        {"name": "c", "url": "https://c.example.org/services/execplanner/", "token_env": "C_TOKEN"},
        {"name": "d", "url": "http://127.0.0.1:8000", "forward_token": True},
    ])
    assert [p.auth for p in peers] == [
        "a configured token", "the token in $C_TOKEN", "the caller's own token"]


def test_settings_reject_wrong_peers_and_limits() -> None:
    with pytest.raises(SetupError, match=r"ExecPlanner.peers\[0\] \(peer 'b'\): 'url'"):
        setup_execplanner(Config(), peers=[{"name": "b", "url": "nowhere", "token": "t"}])
    with pytest.raises(SetupError, match="peer_timeout must be seconds between 0 and 300"):
        setup_execplanner(Config(), peer_timeout=0)
    with pytest.raises(SetupError, match="max_hops must be between 1 and 10"):
        setup_execplanner(Config(), max_hops=0)
    planner = ExecPlanner(config=Config({"ExecPlanner": {"peer_timeout": 2, "max_hops": 3}}))
    assert (planner.peer_timeout, planner.max_hops, planner.peers) == (2.0, 3, [])


def test_token_env_passes_from_the_hubs_environment_to_the_service(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_B_TOKEN", "b-secret")
    c = Config()
    setup_execplanner(c, hub_config_file="/srv/jupyterhub_config.py", peers=[
        {"name": "b", "url": "https://b.example.org", "token_env": "HUB_B_TOKEN"},
        {"name": "c", "url": "https://c.example.org", "token_env": "HUB_C_TOKEN"},  # not set
    ])
    (service,) = c.JupyterHub.services
    assert service["environment"]["HUB_B_TOKEN"] == "b-secret"
    assert "HUB_C_TOKEN" not in service["environment"]


def test_a_peer_offer_whose_uuid_this_broker_already_holds_is_left_out() -> None:
    held = {uid(7)}
    result = M.merge([offer(uid(1), T0)], [yes("b", offer(uid(7), T0), offer(uid(8), T0))],
                     known=held.__contains__)
    assert [m.uuid for m in result.offers] == [uid(1), uid(8)]
    (skipped,) = [m for m in result.messages if m.kind == M.PEER_OFFER_SKIPPED]
    assert skipped.values["peer"] == "b" and str(skipped.values["count"]) == "1"
