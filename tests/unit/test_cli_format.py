"""The ``execplanner`` command: its formatting (pure functions, canned answers) and arguments."""

from __future__ import annotations

import io
import json
import re
import socket
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from jupyterhub_execplanner import cli
from jupyterhub_execplanner.cli import (
    OFFER_COLUMNS,
    UsageError,
    format_accelerators,
    format_duration,
    format_expires_in,
    format_offers_table,
    format_phase_change,
    format_range,
    format_refusals,
    format_session_summary,
    format_sessions_table,
    hub_tokens,
    main,
    offer_rows,
    read_request,
    watch_session,
)
from jupyterhub_execplanner.client import HubAnswer

NOW = datetime(2026, 11, 24, 15, 0, 30, tzinfo=timezone.utc)
SESSION_KIND = (
    "https://www.purl.org/ivoa.net/Calycopis-openapi/schema/v1.0/kinds/session/"
    "scheduled-execution-session.yaml"
)


def offer(
    uuid: str,
    start: str,
    *,
    cores: tuple[int, int] = (2, 2),
    memory: tuple[int, int] = (4, 4),
    profile: str = "small",
    duration: str = "PT1H",
    accelerators: list[dict[str, Any]] | None = None,
    phase: str = "OFFERED",
) -> dict[str, Any]:
    return {
        "kind": SESSION_KIND,
        "meta": {"uuid": uuid, "name": f"{profile}-offer", "url": f"http://h/sessions/{uuid}"},
        "phase": phase,
        "expires": "2026-11-24T15:05:00Z",
        "schedule": {
            "preparing": {"start": start, "duration": "PT30S"},
            "available": {"start": f"{start}/PT0S", "duration": duration},
        },
        "executable": {"kind": "k", "location": "https://example.org/analysis.ipynb"},
        "compute": {
            "kind": "k",
            "cores": {"min": cores[0], "max": cores[1]},
            "memory": {"min": memory[0], "max": memory[1]},
            "accelerators": accelerators or [],
        },
        "profile": {"slug": profile, "display_name": profile.title() + " server"},
    }


def yes(*offers: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "k", "meta": {"messages": []}, "result": "YES", "offers": list(offers)}


def no(*messages: str) -> dict[str, Any]:
    return {
        "kind": "k",
        "meta": {"messages": [{"level": "WARN", "message": m} for m in messages]},
        "result": "NO",
        "offers": [],
    }


GPU = [{"name": "a100", "resource": "nvidia.com/gpu", "count": {"min": 2, "max": 2}}]


def canned() -> list[HubAnswer]:
    return [
        HubAnswer(
            "hub-a",
            True,
            yes(
                offer("aaaaaaaa-0000-0000-0000-000000000001", "2026-11-24T16:00:00Z"),
                offer(
                    "aaaaaaaa-0000-0000-0000-000000000002",
                    "2026-11-24T15:01:00Z",
                    cores=(2, 4),
                    memory=(8, 8),
                    profile="large",
                    duration="PT2H30M",
                ),
            ),
            None,
            0.1,
        ),
        HubAnswer(
            "hub-b",
            True,
            yes(
                offer(
                    "bbbbbbbb-0000-0000-0000-000000000001",
                    "2026-11-24T15:30:00Z",
                    cores=(16, 16),
                    memory=(2, 2),
                    profile="gpu",
                    accelerators=GPU,
                )
            ),
            None,
            0.2,
        ),
        HubAnswer(
            "hub-c",
            True,
            no("compute.cores.min 64 is more than 16", "data[0].location is not reachable"),
            None,
            0.1,
        ),
        HubAnswer("hub-d", False, None, "timed out after 5s", 5.0),
        HubAnswer("hub-e", False, None, "HTTP 401: Token needed.", 0.05),
    ]


def table_rows(text: str) -> list[list[str]]:
    """The table's rows split on runs of two or more spaces."""
    block = text.split("\n\n")[0].splitlines()
    return [re.split(r"\s{2,}", line.strip()) for line in block]


def test_table_columns_and_values() -> None:
    text = format_offers_table(canned(), now=NOW)
    rows = table_rows(text)
    assert rows[0] == list(OFFER_COLUMNS)
    assert rows[1] == [
        "hub-a", "aaaaaaaa", "large", "2-4", "8", "-", "2026-11-24 15:01Z", "2h30m", "4m30s", "-", "-",
    ]  # fmt: skip
    assert rows[2] == [
        "hub-b", "bbbbbbbb", "gpu", "16", "2", "a100:2", "2026-11-24 15:30Z", "1h", "4m30s", "-", "-",
    ]  # fmt: skip
    assert rows[3][:3] == ["hub-a", "aaaaaaaa", "small"]
    assert rows[3][6] == "2026-11-24 16:00Z"
    assert len(rows) == 4
    assert all(line == line.rstrip() for line in text.splitlines())


def test_refusal_lines() -> None:
    text = format_offers_table(canned(), now=NOW)
    tail = text.split("\n\n")[1].splitlines()
    assert tail == [
        "hub-c: NO",
        "    compute.cores.min 64 is more than 16",
        "    data[0].location is not reachable",
        "hub-d: timed out after 5s",
        "hub-e: HTTP 401: Token needed.",
    ]


def test_refusals_without_reasons_and_empty_yes() -> None:
    answers = [
        HubAnswer("x", True, no(), None, 0.1),
        HubAnswer("y", True, yes(), None, 0.1),
        HubAnswer("z", True, {"kind": "k"}, None, 0.1),
    ]
    assert format_refusals(answers) == [
        "x: NO - no reason given",
        "y: YES but no offers - no reason given",
        "z: unexpected answer (result None)",
    ]
    assert format_offers_table(answers, now=NOW).startswith("No offers.\n\nx: NO")


def test_sorting() -> None:
    def profiles(sort: str) -> list[str]:
        return [row[2] for row in offer_rows(canned(), sort=sort, now=NOW)]

    assert profiles("start") == ["large", "gpu", "small"]  # earliest first
    assert profiles("cores") == ["gpu", "large", "small"]  # 16, then 2-4 (max 4), then 2
    assert profiles("memory") == ["large", "small", "gpu"]  # 8, 4, 2
    assert format_offers_table(canned(), sort="cores", now=NOW).splitlines()[1].startswith("hub-b")
    with pytest.raises(ValueError):
        offer_rows(canned(), sort="price")


def test_offers_from_the_compute_schedule_when_the_session_has_none() -> None:
    doc = offer("cccccccc-0000", "2026-11-24T15:10:00Z")
    doc["compute"]["schedule"] = doc.pop("schedule")
    (row,) = offer_rows([HubAnswer("h", True, yes(doc), None, 0)], now=NOW)
    assert row[6:8] == ["2026-11-24 15:10Z", "1h"]


@pytest.mark.parametrize(
    "text,expected",
    [
        ("PT1H", "1h"), ("PT2H30M", "2h30m"), ("PT30S", "30s"), ("P1DT2H", "1d2h"),
        ("PT0S", "0s"), ("PT0.5S", "0.5s"), ("P2W", "2w"), ("later", "later"), (None, "-"),
    ],
)  # fmt: skip
def test_format_duration(text: Any, expected: str) -> None:
    assert format_duration(text) == expected


def test_small_formatters() -> None:
    assert format_range({"min": 2, "max": 2}) == "2"
    assert format_range({"min": 2, "max": 4}) == "2-4"
    assert format_range({"min": 2}) == "2"
    assert format_range(None) == "-"
    assert format_accelerators([]) == "-"
    assert format_accelerators([{"type": "xilinx"}, {"resource": "r", "count": {"min": 1}}]) == (
        "xilinx:1,r:1"
    )
    assert format_expires_in("2026-11-24T15:00:00Z", NOW) == "expired"
    assert format_expires_in("2026-11-24T15:00:40.123456789Z", NOW) == "10s"
    assert format_expires_in("2026-11-24T17:00:30Z", NOW) == "2h00m"
    assert format_expires_in(None, NOW) == "-"


def test_session_summary() -> None:
    doc = offer("aaaaaaaa-0000-0000-0000-000000000001", "2026-11-24T16:00:00Z", accelerators=GPU)
    doc["meta"]["messages"] = [
        {"time": "2026-11-24T15:00:00Z", "level": "INFO", "message": "Offered on small."}
    ]
    text = format_session_summary(doc, now=NOW)
    assert "Phase       OFFERED (expires in 4m30s)" in text
    assert "Profile     small (Small server)" in text
    assert "Compute     2 cores, 4 GiB, a100:2" in text
    assert "Start       2026-11-24 16:00Z for 1h" in text
    assert "  2026-11-24 15:00Z INFO  Offered on small." in text

    doc.update(phase="AVAILABLE")
    doc["connectors"] = [{"status": "AVAILABLE", "location": "https://h/user/a/s/lab"}]
    text = format_session_summary(doc, now=NOW)
    assert "Phase       AVAILABLE\n" in text
    assert "Open        https://h/user/a/s/lab (AVAILABLE)" in text


def test_sessions_table() -> None:
    docs = [offer("dddddddd-1", "2026-11-24T16:00:00Z", phase="RUNNING")]
    rows = table_rows(format_sessions_table(docs))
    assert rows == [
        ["SESSION", "PHASE", "PROFILE", "CORES", "MEM GiB", "START", "NAME"],
        ["dddddddd", "RUNNING", "small", "2", "4", "2026-11-24 16:00Z", "small-offer"],
    ]
    assert format_sessions_table([]) == "No sessions."


def test_phase_change_shows_the_newest_message() -> None:
    doc = offer("e", "2026-11-24T16:00:00Z", phase="PREPARING")
    doc["meta"]["messages"] = [
        {"time": "2026-11-24T15:00:05Z", "message": "Installing requirements."},
        {"time": "2026-11-24T15:00:01Z", "message": "Fetching the notebook."},
    ]
    assert format_phase_change(doc, now=NOW) == "15:00:30Z PREPARING: Installing requirements."
    doc["meta"]["messages"] = []
    assert format_phase_change(doc, now=NOW) == "15:00:30Z PREPARING"


# -- watching -------------------------------------------------------------------------------------


class Phases:
    """Answers ``session()`` with the given phases, one per call (the last one repeats)."""

    def __init__(self, *phases: str) -> None:
        self.phases = list(phases)
        self.calls = 0

    async def session(self, ref: str) -> dict[str, Any]:
        phase = self.phases[min(self.calls, len(self.phases) - 1)]
        self.calls += 1
        doc = offer("f", "2026-11-24T16:00:00Z", phase=phase)
        doc["connectors"] = [{"location": "https://h/user/a/s/"}] if phase == "AVAILABLE" else []
        return doc


async def _no_sleep(seconds: float) -> None:
    return None


@pytest.mark.parametrize(
    "phases,code,seen",
    [
        (("ACCEPTED", "WAITING", "WAITING", "PREPARING", "AVAILABLE"), 0,
         ["ACCEPTED", "WAITING", "PREPARING", "AVAILABLE"]),
        (("ACCEPTED", "PREPARING", "FAILED"), 1, ["ACCEPTED", "PREPARING", "FAILED"]),
        (("RUNNING",), 0, ["RUNNING"]),
        (("COMPLETED",), 0, ["COMPLETED"]),
        (("OFFERED", "EXPIRED"), 1, ["OFFERED", "EXPIRED"]),
    ],
)  # fmt: skip
async def test_watch(phases: tuple[str, ...], code: int, seen: list[str]) -> None:
    lines: list[str] = []
    client: Any = Phases(*phases)
    result = await watch_session(client, "f", interval=1, emit=lines.append, sleep=_no_sleep)
    assert result == code
    assert [line.split()[1].rstrip(":") for line in lines if not line.startswith("Open")] == seen
    if seen[-1] == "AVAILABLE":
        assert lines[-1] == "Open https://h/user/a/s/"


# -- arguments ------------------------------------------------------------------------------------


def test_hub_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "from-env")
    assert hub_tokens(["a", "b"], None) == ["from-env", "from-env"]
    assert hub_tokens(["a", "b"], ["t"]) == ["t", "t"]
    assert hub_tokens(["a", "b"], ["t1", "t2"]) == ["t1", "t2"]
    with pytest.raises(UsageError):
        hub_tokens(["a", "b", "c"], ["t1", "t2"])
    monkeypatch.delenv("JUPYTERHUB_API_TOKEN")
    assert hub_tokens(["a"], []) == [None]


def test_read_request(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "request.yaml"
    path.write_text(
        "executable:\n  kind: k\nschedule:\n  requested:\n    start: 2026-11-24T15:00:00Z\n"
    )
    doc = read_request(str(path))
    assert doc["schedule"]["requested"]["start"] == "2026-11-24T15:00:00Z"
    monkeypatch.setattr("sys.stdin", io.StringIO('{"executable": {"kind": "k"}}'))
    assert read_request("-") == {"executable": {"kind": "k"}}
    path.write_text("- a list\n")
    with pytest.raises(UsageError, match="mapping"):
        read_request(str(path))
    with pytest.raises(UsageError, match="cannot read"):
        read_request(str(tmp_path / "missing.yaml"))


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["ask", "request.yaml"],  # no --hub
        ["accept", "0f3c"],  # a uuid needs --hub
        ["watch", "0f3c", "--hub", "http://h", "--interval", "0"],
        ["frobnicate"],
        ["ask", "missing-file.yaml", "--hub", "http://h"],
        ["ask", "-", "--hub", "http://a", "--hub", "http://b", "--hub", "http://c",
         "--token", "1", "--token", "2"],
    ],
)  # fmt: skip
def test_usage_errors_exit_2(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("executable: {kind: k}\n"))
    assert main(argv) == 2


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    assert "ask" in capsys.readouterr().out


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_ask_unreachable_hub_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("JUPYTERHUB_API_TOKEN", raising=False)
    path = tmp_path / "request.json"
    path.write_text(json.dumps({"executable": {"kind": "k"}}))
    hub = f"http://127.0.0.1:{_closed_port()}"
    assert main(["ask", str(path), "--hub", hub, "--timeout", "5"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("No offers.")
    assert f"127.0.0.1:{hub.rsplit(':', 1)[1]}: cannot connect" in out

    assert main(["ask", str(path), "--hub", hub, "--format", "json"]) == 1
    (answer,) = json.loads(capsys.readouterr().out)
    assert answer["ok"] is False and answer["offerset"] is None


def test_show_needs_a_reachable_broker(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/services/execplanner/sessions/0f3c"
    assert main(["show", url, "--timeout", "5"]) == 1
    assert "cannot connect" in capsys.readouterr().err


def test_terminal_phases_match_the_model() -> None:
    from jupyterhub_execplanner.model.phases import TERMINAL

    assert cli.TERMINAL_PHASES == {p.value for p in TERMINAL}
