"""The `execplanner` command against two real hubs (and one that is down)."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml
from hubprocess import RealHub, free_port
from requests_lib import NOTEBOOK_YAML, notebook

pytestmark = pytest.mark.e2e

EXECPLANNER = str(Path(sys.executable).parent / "execplanner")


STATE = Path(tempfile.mkdtemp(prefix="execplanner-cli-")) / "last-ask.json"


def run(*args: str, stdin: str | None = None, state: Path = STATE) -> subprocess.CompletedProcess[str]:
    """The command, as a user runs it; what it remembers of the last ask goes to ``state``."""
    return subprocess.run([EXECPLANNER, *args], input=stdin, capture_output=True, text=True,
                          timeout=60, env={"PATH": "/usr/bin:/bin", "EXECPLANNER_CLI_STATE": str(state)})


@pytest.fixture
def request_file(tmp_path: Path) -> Path:
    path = tmp_path / "notebook.yaml"
    path.write_text(NOTEBOOK_YAML)
    return path


def test_ask_two_hubs_and_one_that_is_down(hub: RealHub, hub_b: RealHub, request_file: Path) -> None:
    down = f"http://127.0.0.1:{free_port()}"
    tokens = [hub.user_token("alice"), hub_b.user_token("alice"), "x"]
    result = run("ask", str(request_file), "--hub", hub.url, "--hub", hub_b.url, "--hub", down,
                 *sum((["--token", t] for t in tokens), []), "--timeout", "5")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    header = lines[0].split()
    assert header[:3] == ["HUB", "OFFER", "PROFILE"]
    assert any("small" in line or "large" in line for line in lines), result.stdout
    assert any("bigmem" in line for line in lines), result.stdout
    assert any(f"{down.split('//')[1]}" in line and ("error" in line.lower() or "connect" in line.lower())
               for line in lines), result.stdout


def test_ask_json_then_accept_show_cancel(hub: RealHub, request_file: Path) -> None:
    token = hub.user_token("alice")
    asked = run("ask", str(request_file), "--hub", hub.url, "--token", token, "--format", "json")
    assert asked.returncode == 0, asked.stderr
    answers = json.loads(asked.stdout)
    offerset = answers[0]["offerset"]
    assert offerset["result"] == "YES"
    url = offerset["offers"][0]["meta"]["url"]
    accepted = run("accept", url, "--token", token)
    assert accepted.returncode == 0, accepted.stderr
    assert "ACCEPTED" in accepted.stdout
    shown = run("show", url, "--token", token, "--format", "yaml")
    assert yaml.safe_load(shown.stdout)["phase"] == "ACCEPTED"
    listed = run("sessions", "--hub", hub.url, "--token", token)
    assert offerset["offers"][0]["meta"]["uuid"][:8] in listed.stdout
    cancelled = run("cancel", url, "--token", token)
    assert cancelled.returncode == 0 and "CANCELLED" in cancelled.stdout
    again = run("accept", url, "--token", token)
    assert again.returncode == 1
    assert "CANCELLED" in again.stderr + again.stdout


def test_ask_that_gets_no_exits_1_with_reasons(hub: RealHub, tmp_path: Path) -> None:
    path = tmp_path / "huge.json"
    path.write_text(json.dumps(notebook(cores=(64, None))))
    result = run("ask", str(path), "--hub", hub.url, "--token", hub.user_token("alice"))
    assert result.returncode == 1
    assert "NO" in result.stdout + result.stderr
    assert "cores" in result.stdout + result.stderr


def test_an_ambiguous_or_unknown_prefix_is_a_usage_error(hub: RealHub, request_file: Path,
                                                        tmp_path: Path) -> None:
    token = hub.user_token("cli-erin")
    unknown = run("reject", "ffffffff", "--hub", hub.url, "--token", token, state=tmp_path / "s.json")
    assert unknown.returncode == 2
    assert "no session or open offer of yours starts with 'ffffffff'" in unknown.stderr


def test_an_offer_of_the_last_ask_is_named_by_its_short_uuid_alone(hub: RealHub, request_file: Path,
                                                                   tmp_path: Path) -> None:
    """As the table prints it, without --hub: the last ask remembers which hub (or linked hub's relay)
    made it."""
    token, state = hub.user_token("cli-frank"), tmp_path / "last-ask.json"
    asked = run("ask", str(request_file), "--hub", hub.url, "--token", token, "--format", "json", state=state)
    assert asked.returncode == 0, asked.stderr
    uuid = json.loads(asked.stdout)[0]["offerset"]["offers"][0]["meta"]["uuid"]
    accepted = run("accept", uuid[:8], "--token", token, state=state)
    assert accepted.returncode == 0, accepted.stderr
    assert f"Session     {uuid}" in accepted.stdout and "ACCEPTED" in accepted.stdout
    cancelled = run("cancel", uuid[:8], "--token", token, state=state)
    assert cancelled.returncode == 0 and "CANCELLED" in cancelled.stdout
