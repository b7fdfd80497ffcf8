"""Linked accounts on the command line (issue 13): reading ``GET links`` (and hostile answers), its
table, reaching a linked hub by name through the own hub's relay, and ``hubs``/``link``/``unlink``/
``ask --via``/``accept`` against a loopback HTTP server that answers as the contract says."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from jupyterhub_execplanner import clilinkformat, clilinks, clistate
from jupyterhub_execplanner.cli import main
from jupyterhub_execplanner.client import BrokerClient, HubAnswer
from jupyterhub_execplanner.cliformat import UsageError, format_refusals
from jupyterhub_execplanner.clilinkformat import Link, LinksError, parse_links
from jupyterhub_execplanner.clilinks import LinkError
from jupyterhub_execplanner.links import listing

OWN = "http://127.0.0.1:8000/services/execplanner/"


def entry(hub: str = "hub-b", state: str = "linked", **extra: Any) -> dict[str, Any]:
    """An entry of ``GET links`` as the contract shows it."""
    linked = state == "linked"
    doc = {
        "hub": hub,
        "url": "http://localhost:8001/services/execplanner/",
        "relay": f"{OWN}peers/{hub}/",
        "authorize": f"{OWN}links/{hub}/authorize",
        "state": state,
        "user": "alice-b" if linked else None,
        "linked_at": "2026-12-07T18:00:00Z" if linked else None,
        "expires_at": "2026-12-21T18:00:00Z" if linked else None,
        "message": f"Linked as alice-b on {hub}." if linked else f"Not linked: link {hub}.",
    }
    doc.update(extra)
    return doc


def test_the_contracts_answer_is_read() -> None:
    (b, c) = parse_links({"links": [entry(), entry("hub-c", "expired")]})
    assert b == Link(hub="hub-b", state="linked", user="alice-b", url="http://localhost:8001/services/execplanner/",
                     relay=f"{OWN}peers/hub-b/", authorize=f"{OWN}links/hub-b/authorize",
                     linked_at="2026-12-07T18:00:00Z", expires_at="2026-12-21T18:00:00Z",
                     message="Linked as alice-b on hub-b.")
    assert b.linked and not c.linked and c.user is None
    assert parse_links({"links": []}) == []


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (None, "the answer is missing without a 'links' list"),
        ("<html>login</html>", "the answer is a str without a 'links' list"),
        ({"sessions": []}, "the answer is an object without a 'links' list"),
        ({"links": {"hub-b": {}}}, "without a 'links' list"),
        ({"links": ["hub-b"]}, r"links\[0\] is a str, not an object"),
        ({"links": [entry(hub="../admin")]}, r"links\[0\].hub '../admin' is not a hub's name"),
        ({"links": [entry(hub="")]}, r"links\[0\].hub is a str, not a text"),
        ({"links": [entry(hub=7)]}, r"links\[0\].hub is a int, not a text"),
        ({"links": [entry(), entry(state="maybe")]}, r"links\[1\].state 'maybe' is not one of"),
        ({"links": [entry(user="\x1b[2J\x1b[31mroot")]}, r"links\[0\].user is not a short line of printable"),
        ({"links": [entry(user="x" * 5000)]}, r"links\[0\].user is not a short line"),
        ({"links": [entry(relay="javascript:alert(1)")]}, r"links\[0\].relay is not an http\(s\) URL"),
        ({"links": [entry(authorize="file:///etc/passwd")]}, r"links\[0\].authorize is not an http\(s\) URL"),
        ({"links": [entry(expires_at="soon")]}, r"links\[0\].expires_at is not an ISO 8601 time: 'soon'"),
        ({"links": [entry(message=["a"])]}, r"links\[0\].message is a list, not a text"),
        ({"links": [entry(), entry()]}, r"links\[1\].hub 'hub-b' is listed twice"),
    ],
)
def test_a_hostile_or_foreign_answer_names_the_entry_and_field(body: Any, expected: str) -> None:
    with pytest.raises(LinksError, match=expected):
        parse_links(body)


def test_a_long_message_is_cut_and_control_characters_are_blanked() -> None:
    (link,) = parse_links({"links": [entry(message="a\x1b[31mb\n" + "m" * 2000)]})
    assert link.message.startswith("a [31mb m")
    assert len(link.message) == listing.MAX_TEXT and link.message.endswith("…")


def test_the_table_says_who_you_are_and_how_to_link_the_others() -> None:
    links = parse_links({"links": [entry(), entry("hub-c", "unlinked"), entry("hub-d", "expired")]})
    text = clilinkformat.format_links_table(links, "https://hub-a.example.org")
    table, todo = text.split("\n\n")
    assert [line.split() for line in table.splitlines()] == [
        ["NAME", "STATE", "USER", "EXPIRES"],
        ["hub-b", "linked", "alice-b", "2026-12-21", "18:00Z"],
        ["hub-c", "not", "linked", "-", "-"],
        ["hub-d", "expired:", "link", "again", "-", "-"],
    ]
    assert todo.splitlines() == [
        f"hub-c: open {OWN}links/hub-c/authorize in a browser to link",
        f"hub-d: open {OWN}links/hub-d/authorize in a browser to link again",
    ]
    assert "has no peers declared for linked accounts" in clilinkformat.format_links_table([], "https://a")


def test_an_admins_listing_has_the_owners() -> None:
    links = parse_links({"links": [entry(owner="alice"), entry(owner="bob", state="expired")]})
    lines = clilinkformat.format_links_table(links, "https://a").splitlines()
    assert lines[0].split() == ["OWNER", "NAME", "STATE", "USER", "EXPIRES"]
    assert lines[2].split()[:3] == ["bob", "hub-b", "expired:"]
    assert len(lines) == 3  # no "open ... to link" lines for other people's links


def test_the_own_token_goes_only_to_the_own_hubs_host() -> None:
    (link,) = parse_links({"links": [entry()]})
    assert clilinkformat.relay_url(OWN, link) == f"{OWN}peers/hub-b/"
    (elsewhere,) = parse_links({"links": [entry(relay="https://evil.example/services/execplanner/peers/hub-b/")]})
    assert clilinkformat.relay_url(OWN, elsewhere) == f"{OWN}peers/hub-b/"  # the contract's, on the own host
    for relay in (f"{OWN}peers/../../../hub/api/", OWN.replace("execplanner", "other") + "peers/hub-b/"):
        (outside,) = parse_links({"links": [entry(relay=relay)]})
        assert clilinkformat.relay_url(OWN, outside) == f"{OWN}peers/hub-b/", relay
    assert clilinkformat.relay_name(f"{OWN}peers/hub-b/") == "hub-b"
    assert clilinkformat.relay_name(OWN) is None
    assert clilinkformat.relay_name("http://h/services/execplanner/sessions/peers/x") is None


async def test_a_name_needs_the_own_hub() -> None:
    with pytest.raises(UsageError, match=r"--hub 'hub-b' is not a URL: .* --via URL"):
        await clilinks.targets(["http://a", "hub-b"], [None, None], None, 5)
    assert await clilinks.targets(["http://a"], [None], None, 5) == [clilinks.Target("http://a", "http://a")]


async def test_the_own_hub_is_asked_alone_when_its_peers_are_asked_through_it() -> None:
    targets = [clilinks.Target("https://a", "https://a"),
               clilinks.Target("hub-b", "https://a/services/execplanner/peers/hub-b/", "hub-b", "https://a"),
               clilinks.Target("https://c", "https://c")]
    made = clilinks.clients(targets, ["t", "t", "t"], 5, ask=True)
    try:
        assert [c.name for c in made] == ["a", "hub-b", "c"]
        assert isinstance(made[1], clilinks.PeerClient)
        assert [c._http.headers.get(clilinks.PEERS_HEADER) for c in made] == ["none", None, None]
        again = clilinks.clients(targets, ["t", "t", "t"], 5)  # sessions: no such header
        assert again[0]._http.headers.get(clilinks.PEERS_HEADER) is None
        await _close(again)
    finally:
        await _close(made)


async def _close(clients: list[BrokerClient]) -> None:
    for client in clients:
        await client.aclose()


def test_a_link_error_says_what_to_run_once() -> None:
    error = LinkError("hub-b", "https://hub-a.example.org", "unlinked")
    assert str(error) == ("hub-b: your account is not linked: run "
                          "`execplanner link hub-b --hub https://hub-a.example.org`")
    assert "your link expired (or was revoked)" in str(LinkError("hub-b", "x", "expired"))
    (line,) = format_refusals([HubAnswer("hub-b", False, None, str(error), 0.1)])
    assert line == str(error)  # not "hub-b: hub-b: ..."


# -- the commands against a loopback server that answers as the contract says ---------------------

UUID_A, UUID_B = "aaaaaaaa-0000-4000-8000-000000000001", "bbbbbbbb-0000-4000-8000-000000000002"


@dataclass
class OwnHub:
    """What the loopback "own hub" answers, and what it was sent."""

    url: str = ""
    links: Any = field(default_factory=lambda: {"links": [entry()]})
    linked: bool = True  # whether the relay to hub-b has a link
    revoked: bool = True
    calls: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)

    def offer(self, uuid: str, base: str) -> dict[str, Any]:
        return {"meta": {"uuid": uuid, "url": f"{base}sessions/{uuid}"}, "phase": "OFFERED",
                "profile": {"slug": "small"}, "compute": {"cores": {"min": 1, "max": 1}}}


@pytest.fixture
def own_hub() -> Iterator[OwnHub]:
    state = OwnHub()
    hub_b = "http://localhost:8001/services/execplanner/"  # never called: the relay answers for it

    class Handler(BaseHTTPRequestHandler):
        def answer(self, status: int, doc: Any) -> None:
            body = json.dumps(doc).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def route(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            state.calls.append((self.command, self.path, dict(self.headers)))
            path = self.path.removeprefix("/services/execplanner/")
            relay = path.startswith("peers/hub-b/")
            if relay and not state.linked:
                self.answer(409, {"status": 409, "message": "hub-b: not linked", "link": "unlinked"})
            elif path == "links":
                self.answer(200, state.links)
            elif path == "links/hub-b" and self.command == "DELETE":
                self.answer(200, {"hub": "hub-b", "state": "unlinked", "revoked": state.revoked,
                                  "message": "Unlinked." if state.revoked else
                                  "Unlinked here, but hub-b could not revoke the token: revoke it on "
                                  "http://localhost:8001/hub/token as alice-b."})
            elif path.endswith("requests"):
                uuid, base = (UUID_B, hub_b) if relay else (UUID_A, state.url + "services/execplanner/")
                self.answer(200, {"result": "YES", "offers": [state.offer(uuid, base)]})
            elif path.split("?")[0].endswith("sessions") and self.command == "GET":
                uuid, base = (UUID_B, hub_b) if relay else (UUID_A, state.url + "services/execplanner/")
                self.answer(200, {"sessions": [{**state.offer(uuid, base), "phase": "AVAILABLE"}]})
            elif relay and path.startswith("peers/hub-b/sessions/") and self.command == "POST":
                self.answer(200, {**state.offer(UUID_B, hub_b), "phase": "ACCEPTED"})
            else:
                self.answer(404, {"status": 404, "message": f"no {path}"})

        do_GET = do_POST = do_DELETE = route  # noqa: N815 (the http.server API)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/"
    state.links = {"links": [entry(relay=f"{state.url}services/execplanner/peers/hub-b/",
                                   authorize=f"{state.url}services/execplanner/links/hub-b/authorize")]}
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(autouse=True)
def _own_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(clistate.STATE_ENV, str(tmp_path / "last-ask.json"))
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "own-token")


def test_hubs_lists_the_links_as_a_table_or_json(own_hub: OwnHub, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["hubs", "--hub", own_hub.url]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split()[:3] == ["hub-b", "linked", "alice-b"]
    assert main(["hubs", "--hub", own_hub.url, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["links"][0]["user"] == "alice-b"
    method, path, headers = own_hub.calls[-1]
    assert (method, path) == ("GET", "/services/execplanner/links")
    assert headers["Authorization"] == "token own-token"


def test_a_hostile_links_answer_is_one_clear_line(own_hub: OwnHub,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    own_hub.links = {"links": [entry(user="\x1b]0;owned\x07")]}
    assert main(["hubs", "--hub", own_hub.url]) == 1
    err = capsys.readouterr().err
    assert err.startswith("execplanner: http://127.0.0.1:") and "links[0].user is not a short line" in err
    assert "Traceback" not in err and err.count("\n") == 1


def test_link_prints_the_url_to_open(own_hub: OwnHub, capsys: pytest.CaptureFixture[str]) -> None:
    own_hub.links = {"links": [entry(state="unlinked", authorize=f"{own_hub.url}services/execplanner/"
                                                                 "links/hub-b/authorize")]}
    assert main(["link", "hub-b", "--hub", own_hub.url]) == 0
    out, err = capsys.readouterr()
    assert out == f"{own_hub.url}services/execplanner/links/hub-b/authorize\n"
    assert "open this URL in a browser" in err
    assert main(["link", "hub-x", "--hub", own_hub.url]) == 2
    assert "has no hub named 'hub-x' to link (its hubs: hub-b)" in capsys.readouterr().err


@pytest.mark.parametrize(("revoked", "code"), [(True, 0), (False, 1)])
def test_unlink_says_what_the_hub_did(revoked: bool, code: int, own_hub: OwnHub,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    own_hub.revoked = revoked
    assert main(["unlink", "hub-b", "--hub", own_hub.url]) == code
    out = capsys.readouterr().out
    assert out.startswith("Unlinked.") if revoked else "revoke it on http://localhost:8001/hub/token" in out
    assert own_hub.calls[-1][:2] == ("DELETE", "/services/execplanner/links/hub-b")


def test_ask_through_the_own_hub_then_accept_on_the_linked_hub(
    own_hub: OwnHub, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    request = tmp_path / "r.json"
    request.write_text(json.dumps({"executable": {"kind": "k"}}))
    assert main(["ask", str(request), "--via", own_hub.url, "--hub", own_hub.url, "--hub", "hub-b"]) == 0
    rows = [line.split()[:2] for line in capsys.readouterr().out.splitlines()[1:]]
    assert sorted(rows) == [["127.0.0.1:" + own_hub.url.rsplit(":", 1)[1].rstrip("/"), "aaaaaaaa"],
                            ["hub-b", "bbbbbbbb"]]
    asked = {path: headers for method, path, headers in own_hub.calls if method == "POST"}
    assert asked["/services/execplanner/requests"].get("X-Execplanner-Peers") == "none"
    assert "X-Execplanner-Peers" not in asked["/services/execplanner/peers/hub-b/requests"]
    assert all(h["Authorization"] == "token own-token" for h in asked.values())

    # the table's short uuid names the offer: accepted through the relay it was asked through
    assert main(["accept", "bbbbbbbb", "--keep-others"]) == 0
    assert "ACCEPTED" in capsys.readouterr().out
    assert own_hub.calls[-1][:2] == ("POST", f"/services/execplanner/peers/hub-b/sessions/{UUID_B}")


def test_an_unlinked_hub_says_how_to_link_it(own_hub: OwnHub, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    own_hub.linked = False
    advice = f"hub-b: your account is not linked: run `execplanner link hub-b --hub {own_hub.url}`"
    assert main(["accept", UUID_B, "--hub", "hub-b", "--via", own_hub.url]) == 1
    assert capsys.readouterr().err == f"execplanner: {advice}\n"
    request = tmp_path / "r.json"
    request.write_text(json.dumps({"executable": {"kind": "k"}}))
    assert main(["ask", str(request), "--via", own_hub.url, "--hub", "hub-b"]) == 1
    assert capsys.readouterr().out.splitlines()[-1] == advice


def test_sessions_on_the_own_hub_and_a_linked_one(own_hub: OwnHub,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sessions", "--via", own_hub.url, "--hub", own_hub.url, "--hub", "hub-b"]) == 0
    rows = [line.split()[:3] for line in capsys.readouterr().out.splitlines()]
    assert rows[0] == ["HUB", "SESSION", "PHASE"]
    assert rows[2] == ["hub-b", "bbbbbbbb", "AVAILABLE"]
    listed = sorted((m, p) for m, p, _ in own_hub.calls if "sessions" in p)  # asked at once
    assert listed == [("GET", "/services/execplanner/peers/hub-b/sessions"),
                      ("GET", "/services/execplanner/sessions")]
