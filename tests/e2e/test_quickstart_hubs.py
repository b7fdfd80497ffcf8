"""Two quick-start hubs on one machine, started as the README says: each keeps its own state, and
neither's internal ports clash with the other's (issue 12, items 1 and 5).

The README runs ``scripts/hub.sh`` (set up, then ``jupyterhub -f examples/jupyterhub_config.py``);
the set-up is done here already, so the hubs are started with the command it ends in, from the
clone, with only the README's variables (and free public ports instead of 8000 and 8001).
"""

from __future__ import annotations

import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from hubprocess import NODE_BIN, ROOT, RealHub, free_port
from requests_lib import NOTEBOOK_YAML

from jupyterhub_execplanner.cliformat import session_start

pytestmark = pytest.mark.e2e

EXECPLANNER = str(Path(sys.executable).parent / "execplanner")


def port_pair(offset: int) -> int:
    """A free port ``p`` with ``p + offset`` free as well."""
    for _ in range(50):
        port = free_port()
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.bind(("127.0.0.1", port + offset))
            return port
        except OSError:
            continue
    raise RuntimeError(f"no free port p with p + {offset} free")


def start_quickstart(state: Path, host: str, port: int) -> RealHub:
    hub = RealHub(folder=state, port=port, admin_token="")
    hub.log_path = state.parent / f"{state.name}.log"
    environment = {k: v for k, v in os.environ.items() if not k.startswith("EXECPLANNER_")}
    environment.update(  # the README's variables
        EXECPLANNER_HUB_HOST=host, EXECPLANNER_HUB_PORT=str(port), EXECPLANNER_STATE_DIR=str(state),
        PATH=f"{NODE_BIN}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        PYTHONUNBUFFERED="1",
    )
    log = open(hub.log_path, "ab")  # noqa: SIM115 (closed by RealHub.stop)
    hub.process = subprocess.Popen(
        [sys.executable, "-m", "jupyterhub", "-f", str(ROOT / "examples" / "jupyterhub_config.py")],
        cwd=ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    hub._log_file = log  # type: ignore[attr-defined]
    try:
        hub.wait_for(f"{hub.url}/hub/api/", 90)
        hub.wait_for(hub.broker, 90)
    except Exception:
        hub.stop()
        raise
    return hub


def login_token(hub: RealHub, user: str) -> str:
    """Log in as a person does (the dummy login form) and make a token at /hub/token's API."""
    def xsrf() -> str:  # the hub renews it at login
        return [c.value for c in browser.cookies.jar if c.name == "_xsrf"][-1] or ""

    with httpx.Client(timeout=30) as browser:  # redirects not followed: no server is started
        browser.get(f"{hub.url}/hub/login")
        browser.post(f"{hub.url}/hub/login", data={"username": user, "password": "", "_xsrf": xsrf()})
        made = browser.post(f"{hub.url}/hub/api/users/{user}/tokens", json={"note": "quick start"},
                            headers={"X-XSRFToken": xsrf()})
        made.raise_for_status()
        return str(made.json()["token"])


@pytest.fixture(scope="module")
def two_hubs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RealHub, RealHub]]:
    folder = tmp_path_factory.mktemp("quickstart")
    # hub B's public port is hub A's + 81: what hub A's own API took when it followed the public
    # port (8000 and 8081), which made the README's two hubs clash
    port = port_pair(81)
    a = start_quickstart(folder / "hub-a", "127.0.0.1", port)
    try:
        b = start_quickstart(folder / "hub-b", "localhost", port + 81)
        try:
            yield a, b
        finally:
            b.stop()
    finally:
        a.stop()


def offer_ids(database: Path) -> set[str]:
    with sqlite3.connect(database) as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert "execplanner_sessions" in tables, tables
        return {str(row[0]) for row in db.execute("SELECT uuid FROM execplanner_sessions")}


def test_two_quickstart_hubs_keep_their_own_state(two_hubs: tuple[RealHub, RealHub],
                                                  tmp_path: Path) -> None:
    a, b = two_hubs
    request = tmp_path / "notebook.yaml"
    request.write_text(NOTEBOOK_YAML)
    token = login_token(b, "alice")
    asked = subprocess.run(
        [EXECPLANNER, "ask", str(request), "--hub", b.url, "--token", token, "--format", "json"],
        capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin"},
    )
    assert asked.returncode == 0, asked.stderr
    offers = {o["meta"]["uuid"] for o in json.loads(asked.stdout)[0]["offerset"]["offers"]}
    assert offers
    # each hub's broker keeps its database in the hub's own state folder, not in the clone
    assert offers <= offer_ids(b.folder / "execplanner.sqlite")
    assert not offers & offer_ids(a.folder / "execplanner.sqlite"), "hub A's broker saw hub B's offers"
    # two quick-start hubs run at once: their internal API ports did not clash
    assert a.process is not None and a.process.poll() is None
    assert b.process is not None and b.process.poll() is None


def cli(state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([EXECPLANNER, *args], capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin", "EXECPLANNER_CLI_STATE": str(state)})


def offers_by_hub(result: subprocess.CompletedProcess[str]) -> list[list[dict]]:
    assert result.returncode == 0, result.stderr
    return [answer["offerset"]["offers"] for answer in json.loads(result.stdout)]


def phase(state: Path, url: str, token: str) -> str:
    shown = cli(state, "show", url, "--token", token, "--format", "json")
    assert shown.returncode == 0, shown.stderr
    return str(json.loads(shown.stdout)["phase"])


def test_the_cli_releases_its_last_offers_and_the_other_hubs_siblings(
    two_hubs: tuple[RealHub, RealHub], tmp_path: Path
) -> None:
    a, b = two_hubs
    state = tmp_path / "last-ask.json"
    request = tmp_path / "notebook.yaml"
    request.write_text(NOTEBOOK_YAML)
    ta, tb = login_token(a, "dora"), login_token(b, "dora")
    ask = ("ask", str(request), "--hub", a.url, "--hub", b.url, "--token", ta, "--token", tb,
           "--format", "json")
    first = offers_by_hub(cli(state, *ask))
    again = cli(state, *ask)
    second = offers_by_hub(again)
    assert f"rejected {len(first[0]) + len(first[1])} open offer(s) of your previous ask" in again.stderr
    for offers, token in zip(first, (ta, tb), strict=True):
        assert {phase(state, o["meta"]["url"], token) for o in offers} == {"REJECTED"}
        assert len({o["meta"]["name"] for o in offers}) == len(offers), "each offer has its own name"
    # the released offers hold no room: asking again does not move this-hub's start later
    for before, after in zip(first, second, strict=True):
        assert min(map(session_start, after)) <= min(map(session_start, before)) + timedelta(minutes=5)
    # accept hub B's first offer by the start of its uuid (as the tables print it)
    chosen = second[1][0]["meta"]["uuid"]
    accepted = cli(state, "accept", chosen[:8], "--hub", b.url, "--token", ta, "--token", tb)
    assert accepted.returncode == 0, accepted.stderr
    assert "ACCEPTED" in accepted.stdout
    assert f"rejected {len(second[0])} offer(s) of the same ask on the other hubs" in accepted.stderr
    assert {phase(state, o["meta"]["url"], ta) for o in second[0]} == {"REJECTED"}
    # every hub's sessions, each asked with its own token
    listed = cli(state, "sessions", "--hub", a.url, "--hub", b.url, "--token", ta, "--token", tb)
    assert listed.returncode == 0, listed.stderr
    rows = [line.split() for line in listed.stdout.splitlines()]
    assert rows[0][:2] == ["HUB", "SESSION"]
    assert [r[1] for r in rows[1:]] == [chosen[:8]], listed.stdout
    # end it (the request's notebook is on example.org: the session may have FAILED already)
    cancelled = cli(state, "cancel", chosen, "--hub", b.url, "--token", tb)
    assert cancelled.returncode == 0 or "FAILED is a terminal phase" in cancelled.stderr, cancelled.stderr


def test_one_browser_stays_logged_in_to_both_hubs(two_hubs: tuple[RealHub, RealHub]) -> None:
    # hub B is opened by another host name (the README's `localhost`): its login cookie is its own
    a, b = two_hubs
    urls = (f"http://127.0.0.1:{a.port}", f"http://localhost:{b.port}")
    with httpx.Client(timeout=30) as browser:  # one cookie jar, as one browser
        for url, user in zip(urls, ("erin", "frank"), strict=True):
            form = browser.get(f"{url}/hub/login").text
            xsrf = re.search(r'name="_xsrf" value="([^"]+)"', form)
            assert xsrf is not None, form[:300]
            logged_in = browser.post(f"{url}/hub/login",
                                     data={"username": user, "password": "", "_xsrf": xsrf.group(1)})
            assert logged_in.status_code == 302, logged_in.text[:300]
        for url, user in zip(urls, ("erin", "frank"), strict=True):
            me = browser.get(f"{url}/hub/api/user")
            assert me.status_code == 200 and me.json()["name"] == user, (url, me.status_code)
