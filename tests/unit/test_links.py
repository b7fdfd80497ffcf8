"""Linked accounts, the pure parts and the book: the OAuth request, the pending link's checks (bound
to the user and the browser, used once, within its time), sealing, and what a link's state is."""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from jupyterhub_execplanner.federation.peerconfig import check_peers
from jupyterhub_execplanner.federation.peers import Peer
from jupyterhub_execplanner.links import oauth
from jupyterhub_execplanner.links.book import EXPIRED, LINKED, Link, LinkBook
from jupyterhub_execplanner.links.linker import FLOW_TIMEOUT, MAX_PENDING_PER_USER, Linker
from jupyterhub_execplanner.links.oauth import LinkFlowError
from jupyterhub_execplanner.links.sealing import Sealer, SealingUnavailable
from jupyterhub_execplanner.sessions.store import Store

BASE = "https://hub-a.example.org/services/execplanner/"
KEY = "00" * 32


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 7, 12, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def linker(tmp_path: Path, clock: Clock) -> Linker:
    specs = check_peers([
        {"name": "hub-b", "url": "https://hub-b.example.org/jh/",
         "link": {"client_id": "service-hub-a", "secret": "s3cret"}},
        {"name": "hub-c", "url": "https://hub-c.example.org", "token": "t"},
    ])
    peers = [Peer(s, {}) for s in specs]
    store = Store(f"sqlite:///{tmp_path / 'broker.sqlite'}")
    return Linker(peers, LinkBook(store, clock), Sealer({"JUPYTERHUB_CRYPT_KEY": KEY}), clock=clock)


@pytest.mark.parametrize(("broker", "root"), [
    ("https://hub-b.example.org/services/execplanner/", "https://hub-b.example.org/"),
    ("https://hub-b.example.org/jh/services/execplanner/", "https://hub-b.example.org/jh/"),
    ("http://localhost:8001/services/broker-2/", "http://localhost:8001/"),
])
def test_the_peer_hubs_root_is_found_from_its_broker_url(broker: str, root: str) -> None:
    assert oauth.hub_root(broker) == root


def test_the_authorize_request_carries_state_and_an_s256_challenge(linker: Linker) -> None:
    url, nonce = linker.start("alice", "hub-b", BASE)
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == "https://hub-b.example.org/jh/hub/api/oauth2/authorize"
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert query["response_type"] == "code" and query["client_id"] == "service-hub-a"
    assert query["redirect_uri"] == BASE + "links/callback"
    assert query["code_challenge_method"] == "S256"
    pending = linker._pending[query["state"]]
    expected = base64.urlsafe_b64encode(hashlib.sha256(pending.verifier.encode()).digest()).rstrip(b"=")
    assert query["code_challenge"] == expected.decode()
    assert len(query["state"]) >= 43 and nonce not in url and pending.verifier not in url
    assert pending.binding == hashlib.sha256(nonce.encode()).hexdigest()


async def test_a_pending_link_is_bound_to_its_user_its_browser_and_its_time(
    linker: Linker, clock: Clock
) -> None:
    url, nonce = linker.start("alice", "hub-b", BASE)
    state = parse_qs(urlsplit(url).query)["state"][0]
    with pytest.raises(LinkFlowError) as raised:
        await linker.finish("bob", state, "code", nonce, None)
    assert raised.value.status == 403
    with pytest.raises(LinkFlowError) as raised:
        await linker.finish("alice", state, "code", "another-browser", None)
    assert raised.value.status == 403
    with pytest.raises(LinkFlowError) as raised:
        await linker.finish("alice", state, "code", None, None)
    assert raised.value.status == 403
    # the peer said no: the state is used up, and the answer says what the peer said
    with pytest.raises(LinkFlowError) as raised:
        await linker.finish("alice", state, None, nonce, "access_denied")
    assert raised.value.status == 400 and "access_denied" in str(raised.value)
    with pytest.raises(LinkFlowError) as raised:
        await linker.finish("alice", state, "code", nonce, None)
    assert raised.value.status == 400 and "unknown or too old" in str(raised.value)
    # too late
    url, nonce = linker.start("alice", "hub-b", BASE)
    clock.now += FLOW_TIMEOUT + timedelta(seconds=1)
    with pytest.raises(LinkFlowError) as raised:
        await linker.finish("alice", parse_qs(urlsplit(url).query)["state"][0], "code", nonce, None)
    assert raised.value.status == 400


def test_one_user_cannot_pile_up_pending_links(linker: Linker) -> None:
    for _ in range(3 * MAX_PENDING_PER_USER):
        linker.start("mallory", "hub-b", BASE)
    assert sum(p.owner == "mallory" for p in linker._pending.values()) == MAX_PENDING_PER_USER
    linker.start("alice", "hub-b", BASE)
    assert sum(p.owner == "alice" for p in linker._pending.values()) == 1


def test_only_peers_with_a_link_can_be_linked(linker: Linker) -> None:
    with pytest.raises(LinkFlowError) as raised:
        linker.start("alice", "hub-c", BASE)
    assert raised.value.status == 404 and "hub-b" in str(raised.value)
    assert [e["hub"] for e in linker.describe("alice", BASE)] == ["hub-b"]


def test_links_are_kept_sealed_and_their_state_follows_expiry_and_refusal(
    linker: Linker, clock: Clock
) -> None:
    sealed = linker.sealer.seal("the-token") if linker.sealer else ""
    assert "the-token" not in sealed
    link = Link(owner="alice", peer="hub-b", remote_user="alice-b", token=sealed, token_id="a1",
                scopes=("custom:execplanner:request",), created=clock.now,
                expires=clock.now + timedelta(days=14))
    linker.book.put(link)
    assert linker.token("alice", "hub-b") == ("the-token", link)
    assert linker.token("bob", "hub-b") is None
    (entry,) = linker.describe("alice", BASE)
    assert (entry["state"], entry["user"], entry["relay"]) == (LINKED, "alice-b", BASE + "peers/hub-b/")
    assert "the-token" not in str(entry) and sealed not in str(entry)
    clock.now += timedelta(days=15)
    assert linker.token("alice", "hub-b") is None
    assert linker.describe("alice", BASE)[0]["state"] == EXPIRED
    clock.now -= timedelta(days=15)
    linker.refused(link, 401)
    (entry,) = linker.describe("alice", BASE)
    assert entry["state"] == EXPIRED and "link again" in entry["message"]
    assert linker.describe(None, BASE)[0]["owner"] == "alice"


def test_a_changed_key_makes_the_link_one_to_make_again(linker: Linker, clock: Clock) -> None:
    other = Sealer({"JUPYTERHUB_CRYPT_KEY": "11" * 32})
    linker.book.put(Link(owner="alice", peer="hub-b", remote_user="alice-b", token=other.seal("t"),
                         token_id=None, scopes=(), created=clock.now, expires=None))
    (entry,) = linker.describe("alice", BASE)  # listed as it is before any use
    assert entry["state"] == EXPIRED and "encryption key changed" in entry["message"]
    assert linker.token("alice", "hub-b") is None
    assert linker.describe("alice", BASE)[0]["state"] == EXPIRED


def test_keys_rotate_the_jupyterhub_way() -> None:
    old = Sealer({"JUPYTERHUB_CRYPT_KEY": KEY})
    sealed = old.seal("t")
    rotated = Sealer({"JUPYTERHUB_CRYPT_KEY": f"{'22' * 32};{KEY}"})
    assert rotated.open(sealed) == "t"
    assert Sealer({"JUPYTERHUB_CRYPT_KEY": "22" * 32}).open(rotated.seal("u")) == "u"


@pytest.mark.parametrize("value", ["", "short", "zz" * 32])
def test_a_missing_or_bad_key_names_the_variable(value: str) -> None:
    with pytest.raises(SealingUnavailable) as raised:
        Sealer({"JUPYTERHUB_CRYPT_KEY": value})
    assert "JUPYTERHUB_CRYPT_KEY" in str(raised.value) and "openssl rand -hex 32" in str(raised.value)


def test_without_a_key_linking_says_why(tmp_path: Path, clock: Clock) -> None:
    specs = check_peers([{"name": "hub-b", "url": "https://hub-b.example.org",
                          "link": {"client_id": "service-a", "secret_env": "UNSET_SECRET"}}])
    store = Store(f"sqlite:///{tmp_path / 'b.sqlite'}")
    linker = Linker([Peer(specs[0], {})], LinkBook(store, clock), None, clock=clock,
                    sealing_problem="no $JUPYTERHUB_CRYPT_KEY")
    with pytest.raises(LinkFlowError) as raised:
        linker.start("alice", "hub-b", BASE)
    assert raised.value.status == 503 and "JUPYTERHUB_CRYPT_KEY" in str(raised.value)
    assert "unavailable now" in linker.describe("alice", BASE)[0]["message"]
