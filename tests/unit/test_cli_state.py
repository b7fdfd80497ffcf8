"""The command's memory of the last ask, uuid prefixes, offer names, many hubs' sessions, and a closed
pipe (issue 12, items 3 and 9)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from jupyterhub_execplanner import clistate
from jupyterhub_execplanner.cliformat import format_sessions_table
from jupyterhub_execplanner.model.offer import OfferPlan, offer_names

UUIDS = ["b7f6ca4e-1111-4000-8000-000000000001", "b7f6ca4e-2222-4000-8000-000000000002",
         "0f3c1d2e-0000-4000-8000-000000000003"]


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        ("0f3c1d2e", UUIDS[2]),
        ("0F3C", UUIDS[2]),  # case does not matter
        ("b7f6ca4e-2", UUIDS[1]),
        ("b7f6ca4e", "ambiguous; it starts 2 uuids: " + ", ".join(UUIDS[:2])),
        ("ffff", "no session or open offer of yours starts with 'ffff'"),
        ("0f3", "too short: give at least 4 characters"),
    ],
)
def test_a_unique_prefix_names_one_uuid(prefix: str, expected: str) -> None:
    if expected in UUIDS:
        assert clistate.match_prefix(prefix, UUIDS) == expected
    else:
        with pytest.raises(clistate.PrefixError, match=expected.replace("(", r"\(")):
            clistate.match_prefix(prefix, UUIDS)


@pytest.mark.parametrize(
    ("ref", "prefix"),
    [("b7f6ca4e", True), (UUIDS[0], False), ("https://hub/services/execplanner/sessions/b7f6", False)],
)
def test_what_is_a_prefix(ref: str, prefix: bool) -> None:
    assert clistate.is_prefix(ref) is prefix


A, B = "http://a/services/execplanner/", "http://b/services/execplanner/"
ASKED = (clistate.AskedOffer(A, A + "sessions/1", "1"), clistate.AskedOffer(A, A + "sessions/2", "2"),
         clistate.AskedOffer(B, B + "sessions/3", "3"))


@pytest.mark.parametrize(
    ("accepted", "rejected"),
    [("1", ["3"]), (B + "sessions/3", ["1", "2"]), ("9", [])],  # an offer of another ask: none
)
def test_accept_rejects_the_offers_of_the_same_ask_on_the_other_hubs(accepted: str,
                                                                     rejected: list[str]) -> None:
    assert [o.uuid for o in clistate.siblings(ASKED, accepted)] == rejected


def test_the_last_ask_is_kept_without_tokens_and_a_bad_file_is_no_ask(tmp_path: Path) -> None:
    path = tmp_path / "state" / "last-ask.json"
    assert clistate.load_last_ask(path) == clistate.LastAsk()
    clistate.save_last_ask(path, clistate.LastAsk((A, B), ASKED))
    assert clistate.load_last_ask(path) == clistate.LastAsk((A, B), ASKED)
    assert "token" not in path.read_text()
    path.write_text("[1, 2")
    assert clistate.load_last_ask(path) == clistate.LastAsk()


@pytest.mark.parametrize(
    ("env", "expected"),
    [({"EXECPLANNER_CLI_STATE": "/x/s.json", "HOME": "/h"}, "/x/s.json"),
     ({"XDG_STATE_HOME": "/xdg", "HOME": "/h"}, "/xdg/execplanner/last-ask.json"),
     ({"HOME": "/h"}, "/h/.local/state/execplanner/last-ask.json")],
)
def test_where_the_last_ask_is_kept(env: dict[str, str], expected: str) -> None:
    assert str(clistate.state_path(env)) == expected


def plan(profile: str, cores: int, start: datetime) -> OfferPlan:
    return OfferPlan(profile=profile, profile_name=profile, cores=cores, memory=2, start=start,
                     duration=timedelta(hours=1), preparing=timedelta(0), releasing=timedelta(0))


def test_offers_are_named_by_profile_cores_and_start() -> None:
    t = datetime(2026, 12, 7, 14, 0, tzinfo=timezone.utc)
    plans = [plan("small", 1, t), plan("large", 8, t), plan("small", 1, t + timedelta(hours=2)),
             plan("large", 8, t)]
    assert offer_names("analysis", plans) == [
        "analysis on small, 1 core, at 2026-12-07T14:00Z",
        "analysis on large, 8 cores, at 2026-12-07T14:00Z #1",
        "analysis on small, 1 core, at 2026-12-07T16:00Z",
        "analysis on large, 8 cores, at 2026-12-07T14:00Z #2",
    ]


def test_many_hubs_sessions_have_a_hub_column() -> None:
    sessions = [{"meta": {"uuid": UUIDS[0], "name": "x"}, "phase": "AVAILABLE"},
                {"meta": {"uuid": UUIDS[2], "name": "y"}, "phase": "OFFERED"}]
    lines = format_sessions_table(sessions, hubs=["hub-a", "hub-b"]).splitlines()
    assert lines[0].split()[:3] == ["HUB", "SESSION", "PHASE"]
    assert lines[1].split()[:3] == ["hub-a", "b7f6ca4e", "AVAILABLE"]
    assert lines[2].split()[:3] == ["hub-b", "0f3c1d2e", "OFFERED"]


# ---- a reader that goes away: `execplanner sessions | head` -------------------------------------


@pytest.fixture
def many_sessions() -> Iterator[str]:
    """A loopback HTTP server that answers GET sessions with more than a pipe holds."""
    body = json.dumps({"sessions": [{"meta": {"uuid": f"{i:08x}-0000-4000-8000-000000000000",
                                              "name": f"session {i}"}, "phase": "AVAILABLE"}
                                    for i in range(3000)]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the http.server API)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_closed_pipe_ends_the_command_quietly(many_sessions: str) -> None:
    execplanner = Path(sys.executable).parent / "execplanner"
    command = f"{execplanner} sessions --hub {many_sessions} --token t | head -n 2"
    result = subprocess.run(["bash", "-o", "pipefail", "-c", command], capture_output=True, text=True,
                            timeout=60)
    assert result.stdout.splitlines()[0].split()[:2] == ["SESSION", "PHASE"]
    assert len(result.stdout.splitlines()) == 2
    assert result.stderr == "", result.stderr  # no BrokenPipeError traceback
    assert result.returncode == 141  # as a command that the pipe stopped


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--hub", "http://b", "--token", "ta", "--token", "tb"], "tb"),  # the ask's order
        (["--hub", "http://a", "--token", "t"], None),  # one token: the command's usual rule
        (["--hub", "http://c", "--token", "ta", "--token", "tb"], "was not asked by your last ask"),
        (["--hub", "http://a", "--token", "1", "--token", "2", "--token", "3"],
         "3 --token for the 2 hubs of your last ask"),
    ],
)
def test_accept_takes_the_tokens_of_the_last_ask_in_its_order(
    argv: list[str], expected: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jupyterhub_execplanner import cli

    monkeypatch.setenv(clistate.STATE_ENV, str(tmp_path / "last-ask.json"))
    clistate.save_last_ask(tmp_path / "last-ask.json", clistate.LastAsk((A, B), ASKED))
    args = cli.build_parser().parse_args(["accept", "b7f6ca4e", *argv])
    if expected is None or not expected.count(" "):
        assert cli._token_of_last_ask(args) == expected
    else:
        with pytest.raises(cli.UsageError, match=expected):
            cli._token_of_last_ask(args)
