"""The lab server's view of the user's linked accounts (labserver/links.py): the own broker's
``GET links`` answer turned into hubs of kind ``linked`` (hostile or malformed answers give fewer
hubs and a message, never an exception), the relay's "not linked" answer, and what the browser sees."""

from __future__ import annotations

import json
from typing import Any

import pytest

from jupyterhub_execplanner.client import BrokerError, HubAnswer
from jupyterhub_execplanner.labserver import shapes
from jupyterhub_execplanner.labserver.hubs import FieldError, Hub, parse_hub
from jupyterhub_execplanner.labserver.lab import LabError, _broker_failure, _hub_error
from jupyterhub_execplanner.labserver.links import link_state, parse_links
from jupyterhub_execplanner.links.listing import relay_for

OWN_URL = "http://127.0.0.1:8000/services/execplanner/"
OWN = Hub("this-hub", OWN_URL, "own-token", own=True)
RELAY = f"{OWN_URL}peers/hub-b/"


def entry(**change: Any) -> dict[str, Any]:
    return {
        "hub": "hub-b",
        "url": "http://localhost:8001/services/execplanner/",
        "relay": RELAY,
        "authorize": f"{OWN_URL}links/hub-b/authorize",
        "state": "linked",
        "user": "alice-b",
        "linked_at": "2026-12-07T18:00:00Z",
        "expires_at": "2026-12-21T18:00:00Z",
        "message": "Linked as alice-b on hub-b.",
        **change,
    }


def test_a_linked_peer_is_a_hub_reached_through_the_relay_with_the_own_token() -> None:
    found = parse_links({"links": [entry(), entry(hub="hub-c", relay=None, state="unlinked")]}, OWN)
    assert found.error is None
    b, c = found.peers
    assert (b.name, b.url, b.token, b.kind, b.own) == ("hub-b", RELAY, "own-token", "linked", False)
    assert c.url == relay_for(OWN_URL, "hub-c") == f"{OWN_URL}peers/hub-c/"
    public = b.public()
    assert public == {
        "name": "hub-b", "url": RELAY, "own": False, "has_token": True, "kind": "linked",
        "link": {"state": "linked", "user": "alice-b", "authorize": f"{OWN_URL}links/hub-b/authorize",
                 "expires_at": "2026-12-21T18:00:00Z", "message": "Linked as alice-b on hub-b.",
                 "url": "http://localhost:8001/services/execplanner/"},
    }
    assert "own-token" not in json.dumps(public)  # the token never reaches the browser
    assert c.public()["link"]["user"] is None  # not linked: no name there


def test_own_and_added_hubs_say_their_kind_and_have_no_link() -> None:
    assert OWN.public()["kind"] == "own" and OWN.public()["link"] is None
    added = Hub("astro", "https://astro.example.org/services/execplanner/", "t")
    assert added.public()["kind"] == "added" and added.public()["link"] is None


def test_the_own_token_goes_only_to_the_own_broker() -> None:
    """A relay elsewhere (another host, another path, a path climbing out, plainly or encoded) is not
    used: the own hub's token would go there. The relay built from the own broker's URL is used
    instead; a relay that is no http(s) URL leaves the entry out, named."""
    for relay in ("http://evil.example.org/services/execplanner/peers/hub-b/",
                  "http://127.0.0.1:8001/services/execplanner/peers/hub-b/",
                  "http://127.0.0.1:8000/services/other/peers/hub-b/",
                  f"{OWN_URL}peers/../../../hub/api/", f"{OWN_URL}peers/%2e%2e/%2E%2E/hub/api/"):
        (peer,) = parse_links({"links": [entry(relay=relay)]}, OWN).peers
        assert peer.url == RELAY, relay
    for relay in ("javascript:alert(1)", 42, ""):
        found = parse_links({"links": [entry(relay=relay)]}, OWN)
        assert found.peers == [] and found.error is not None and "links[0].relay is " in found.error


@pytest.mark.parametrize("authorize", ["javascript:alert(document.cookie)", "data:text/html,x",
                                       "//evil.example.org/", "not a url", 7, "x" * 3000])
def test_only_an_http_authorize_url_reaches_the_browser(authorize: Any) -> None:
    found = parse_links({"links": [entry(authorize=authorize, state="expired"), entry(hub="hub-c")]}, OWN)
    (peer,) = found.peers  # the entry with the hostile URL is left out, the other is shown
    assert peer.name == "hub-c" and found.error is not None and "links[0].authorize is " in found.error
    assert "javascript" not in json.dumps([p.public() for p in found.peers])


def test_a_peer_without_an_authorize_url_is_shown_without_one() -> None:
    (peer,) = parse_links({"links": [entry(authorize=None, state="expired")]}, OWN).peers
    assert peer.link is not None and peer.link.authorize is None and peer.link.state == "expired"


@pytest.mark.parametrize(
    "doc,error",
    [
        (None, "the answer is missing without a 'links' list"),
        ("<html>login</html>", "text, not JSON (a login page?)"),
        ([], "the answer is a list without a 'links' list"),
        ({"links": {"hub-b": {}}}, "the answer is an object without a 'links' list"),
        ({"links": [None]}, "links[0] is missing, not an object"),
        ({"links": [["hub-b"]]}, "links[0] is a list, not an object"),
        ({"links": [entry(hub=None)]}, "links[0].hub is missing, not a text"),
        ({"links": [entry(hub="../hub")]}, "links[0].hub '../hub' is not a hub's name"),
        ({"links": [entry(hub="a" * 100)]}, "is not a hub's name"),
        ({"links": [entry(state="maybe")]}, "links[0].state 'maybe' is not one of linked, unlinked, expired"),
        ({"links": [entry(state=None)]}, "links[0].state is missing"),
        ({"links": [entry(), entry(user="other")]}, "links[1].hub 'hub-b' is listed twice"),
        ({"links": [entry(hub="this-hub")]}, "a peer of your hub has your own hub's name"),
        ({"links": [entry(user="\x1b[2Jroot")]}, "links[0].user is not a short line of printable text"),
        ({"links": [entry(expires_at="soon")]}, "links[0].expires_at is not an ISO 8601 time"),
    ],
)
def test_a_malformed_answer_gives_fewer_hubs_and_says_why(doc: Any, error: str) -> None:
    found = parse_links(doc, OWN)
    assert found.error is not None and found.error.startswith("this-hub: ") and error in found.error
    assert all(p.link is not None and p.url.startswith(OWN_URL) for p in found.peers)


def test_hostile_values_are_cut_and_typed() -> None:
    found = parse_links({"links": [entry(message="m" * 10_000), entry(hub="hub-c", user=["x"]),
                                   *[entry(hub=f"h{i}", state="nope") for i in range(20)]]}, OWN)
    (peer,) = found.peers
    assert peer.link is not None and peer.name == "hub-b" and len(peer.link.message or "") == 500
    assert found.error is not None and "links[1].user is a list, not a text" in found.error
    assert found.error.count("state 'nope'") == 4  # at most five reasons
    assert parse_links({"links": []}, OWN).peers == [] and parse_links({"links": []}, OWN).error is None


def test_an_added_hub_keeps_its_name_and_the_peer_says_how_to_link() -> None:
    found = parse_links({"links": [entry()]}, OWN, taken=["hub-b"])
    assert found.peers == [] and found.error is not None and "remove or rename it" in found.error


def test_an_added_hub_may_not_take_a_peers_name() -> None:
    body = {"name": "hub-b", "url": "https://b.example.org/", "token": "t"}
    with pytest.raises(FieldError) as caught:
        parse_hub(body, "execplanner", "this-hub", peers=["hub-b"])
    assert caught.value.field == "name" and "Link account" in str(caught.value)
    assert parse_hub(body, "execplanner", "this-hub", peers=["hub-c"]).kind == "added"


@pytest.mark.parametrize(
    "error,state",
    [
        (BrokerError(409, "not linked", {"status": 409, "message": "x", "link": "unlinked"}), "unlinked"),
        (BrokerError(409, "expired", {"link": "expired"}), "expired"),
        (BrokerError(409, "conflict", {"message": "x"}), None),
        (BrokerError(409, "odd", {"link": "linked"}), None),
        (BrokerError(409, "odd", {"link": ["expired"]}), None),
        (BrokerError(409, "text", "<html>"), None),
        (BrokerError(403, "forbidden", {"link": "expired"}), None),
        (ValueError("x"), None),
    ],
)
def test_the_relays_not_linked_answer(error: BaseException, state: str | None) -> None:
    assert link_state(error) == state
    if isinstance(error, BrokerError) and error.status == 409:
        failure = _broker_failure("hub-b", error)
        assert failure.status == 409 and failure.link == state
        line = _hub_error("hub-b", error, 5)
        assert line.get("link") == state and line["hub"] == "hub-b"
    assert _hub_error("hub-b", LabError(409, "m", link="expired"), 5) == {
        "hub": "hub-b", "message": "m", "link": "expired"}


def test_an_ask_answer_from_a_hub_to_link_again_is_not_an_error_text() -> None:
    failed = HubAnswer("hub-b", False, None, "HTTP 409: hub-b: your account there is not linked", 0.1)
    shape = shapes.answer_shape(failed, None, "expired")
    assert shape["link"] == "expired" and shape["offers"] == [] and shape["status"] == "error"
    assert shape["messages"] == ["Your link to hub-b has expired or was revoked there: "
                                 "link your account again."]
    assert "link" not in shapes.answer_shape(failed)
    ok = HubAnswer("hub-b", True, {"result": "NO", "offers": []}, None, 0.1)
    assert "link" not in shapes.answer_shape(ok, None, "expired")  # an answer came: no link problem
