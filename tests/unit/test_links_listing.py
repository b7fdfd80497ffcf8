"""The one reader of the ``GET links`` answer (links/listing.py), which the lab server and the command
line share: what an entry must be, where the own hub's token may go, and, fuzzed with Hypothesis,
that any answer gives checked entries or a named problem, never another exception."""

from __future__ import annotations

import copy
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jupyterhub_execplanner.clilinkformat import LinksError
from jupyterhub_execplanner.clilinkformat import parse_links as cli_links
from jupyterhub_execplanner.labserver.hubs import Hub
from jupyterhub_execplanner.labserver.links import parse_links as lab_links
from jupyterhub_execplanner.links.listing import (
    MAX_TEXT,
    NAME,
    LinkEntry,
    ListingError,
    read_entry,
    read_links,
    relay_for,
)

OWN = "http://127.0.0.1:8000/services/execplanner/"
GOOD = {
    "hub": "hub-b",
    "url": "http://localhost:8001/services/execplanner/",
    "relay": f"{OWN}peers/hub-b/",
    "authorize": f"{OWN}links/hub-b/authorize",
    "state": "linked",
    "user": "alice-b",
    "linked_at": "2026-12-07T18:00:00Z",
    "expires_at": "2026-12-21T18:00:00Z",
    "message": "Linked as alice-b on hub-b.",
}


def test_a_good_entry_is_read_whole_and_absent_fields_are_none() -> None:
    entry = read_entry(GOOD, "links[0]")
    assert entry == LinkEntry(**GOOD) and entry.linked
    bare = read_entry({"hub": "hub-c", "state": "unlinked"}, "links[1]")
    assert bare == LinkEntry(hub="hub-c", state="unlinked") and not bare.linked
    assert (bare.user, bare.relay, bare.authorize, bare.message) == (None, None, None, "")


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ({"hub": "a" * 64}, "links[0].hub 'aaaa"),  # 63 characters at most, as peerconfig allows
        ({"hub": "-x"}, "is not a hub's name"),
        ({"state": "LINKED"}, "links[0].state 'LINKED' is not one of linked, unlinked, expired"),
        ({"url": "ftp://h/"}, "links[0].url is not an http(s) URL: 'ftp://h/'"),
        ({"url": "http://[::1/"}, "links[0].url is not an http(s) URL"),  # urlsplit raises on this
        ({"relay": "/services/execplanner/peers/hub-b/"}, "links[0].relay is not an http(s) URL"),
        ({"linked_at": "2026-13-01T00:00:00Z"}, "links[0].linked_at is not an ISO 8601 time"),
        ({"owner": "\u202eroot"}, "links[0].owner is not a short line of printable text"),
        ({"user": 3}, "links[0].user is a int, not a text"),
    ],
)
def test_each_bad_field_is_named(change: dict[str, Any], said: str) -> None:
    with pytest.raises(ListingError) as caught:
        read_entry({**GOOD, **change}, "links[0]")
    assert said in str(caught.value)


def test_one_bad_entry_is_left_out_and_the_others_are_kept() -> None:
    entries, problems = read_links({"links": [GOOD, {**GOOD, "hub": "hub-c", "state": 1},
                                              {**GOOD, "hub": "hub-d"}, GOOD]})
    assert [e.hub for e in entries] == ["hub-b", "hub-d"]
    assert problems == ["links[1].state is a int, not a text", "links[3].hub 'hub-b' is listed twice"]
    # an admin's listing has one entry per owner and hub
    entries, problems = read_links({"links": [{**GOOD, "owner": "alice"}, {**GOOD, "owner": "bob"}]})
    assert [e.owner for e in entries] == ["alice", "bob"] and problems == []


@pytest.mark.parametrize(
    ("given", "used"),
    [
        (f"{OWN}peers/hub-b/", f"{OWN}peers/hub-b/"),
        (f"{OWN}peers/hub-b", f"{OWN}peers/hub-b/"),
        (None, f"{OWN}peers/hub-b/"),
        ("http://127.0.0.1:8000/services/execplanner-evil/peers/hub-b/", f"{OWN}peers/hub-b/"),
        ("http://127.0.0.1:8000/hub/api/users/alice/tokens/", f"{OWN}peers/hub-b/"),
        ("http://127.0.0.1:80000/services/execplanner/peers/hub-b/", f"{OWN}peers/hub-b/"),
        (f"{OWN}peers/hub-b/../../../hub/api/", f"{OWN}peers/hub-b/"),
        (f"{OWN}peers/hub-b/%2E%2E/%2e%2e/", f"{OWN}peers/hub-b/"),
        ("http://127.0.0.1:8000@evil.example/services/execplanner/peers/hub-b/", f"{OWN}peers/hub-b/"),
    ],
)
def test_the_own_token_goes_only_under_the_own_broker(given: str | None, used: str) -> None:
    assert relay_for(OWN, "hub-b", given) == used


def test_a_built_relay_quotes_the_name() -> None:
    assert relay_for(OWN, "a/b") == f"{OWN}peers/a%2Fb/"


# -- fuzzed ------------------------------------------------------------------------------------------

FUZZ = settings(max_examples=300, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow])
FIELDS = sorted({*GOOD, "owner"})
texts = st.one_of(
    st.sampled_from(["", " ", "hub-b", "..", "javascript:alert(1)", "//evil.example/", "\x1b[2J",
                     "\ud800", "2026-12-07T18:00:00Z", "soon", f"{OWN}peers/../../hub/api/",
                     "http://evil.example/services/execplanner/peers/hub-b/", "a" * 600]),
    st.text(max_size=20),
)
leaves = st.one_of(texts, st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True))
json_like = st.recursive(leaves, lambda c: st.one_of(st.lists(c, max_size=3),
                                                     st.dictionaries(texts, c, max_size=3)),
                         max_leaves=10)


@st.composite
def answers(draw: st.DrawFn) -> Any:
    """Mostly a good answer with a few fields of its entries replaced or deleted; sometimes junk."""
    if draw(st.integers(0, 4)) == 0:
        return draw(json_like)
    entries: list[Any] = []
    for index in range(draw(st.integers(0, 4))):
        entry: Any = copy.deepcopy({**GOOD, "hub": draw(st.sampled_from(["hub-b", f"hub-{index}"]))})
        for _ in range(draw(st.integers(0, 2))):
            key = draw(st.sampled_from(FIELDS))
            if draw(st.booleans()):
                entry[key] = draw(json_like)
            else:
                entry.pop(key, None)
        entries.append(entry if draw(st.integers(0, 9)) else draw(json_like))
    return {"links": entries}


def _printable(value: str | None) -> bool:
    return value is None or (value.isprintable() and len(value) <= MAX_TEXT)


@FUZZ
@given(body=answers())
def test_any_answer_gives_checked_entries_or_named_problems(body: Any) -> None:
    try:
        entries, problems = read_links(body)
    except ListingError as e:
        assert "'links' list" in str(e)
        return
    count = len(body["links"])
    assert len(entries) + len(problems) == count
    assert all(p.startswith("links[") for p in problems)
    for entry in entries:
        assert NAME.match(entry.hub) and entry.state in ("linked", "unlinked", "expired")
        for url in (entry.url, entry.relay, entry.authorize):
            assert url is None or urlsplit(url).scheme in ("http", "https")
        assert all(_printable(v) for v in (entry.user, entry.owner, entry.linked_at, entry.expires_at))
        assert _printable(entry.message)
        relay = relay_for(OWN, entry.hub, entry.relay)
        assert relay.startswith(OWN) and ".." not in unquote(urlsplit(relay).path).split("/")


@FUZZ
@given(body=answers())
def test_the_lab_and_the_command_line_read_any_answer_alike(body: Any) -> None:
    own = Hub("this-hub", OWN, "own-token", own=True)
    found = lab_links(body, own)  # never raises
    try:
        cli = cli_links(body)
    except LinksError as e:
        assert found.error is not None and str(e) in found.error or "'links' list" in str(e)
        return
    assert [e.hub for e in cli if e.hub != "this-hub"] == [p.name for p in found.peers]
    assert all(p.url.startswith(OWN) and p.token == "own-token" for p in found.peers)
