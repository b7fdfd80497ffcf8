"""The broker client: which URL, headers and body it sends, and how it reads error bodies and 303s.

httpx.MockTransport stands in for the network only to see what the client sends and to feed it
answers; the real service is exercised by the end-to-end tests.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import httpx
import pytest

from jupyterhub_execplanner.client import (
    BrokerClient,
    BrokerError,
    ask_many,
    broker_url,
    parse_document,
    split_session_url,
)

UUID = "0f3c2a9e-6f1b-4c55-9d0e-2b7c1d4e5f60"
BROKER = "http://hub.example.org:8000/services/execplanner/"


@pytest.mark.parametrize(
    "url,expected",
    [
        ("http://hub.example.org:8000", BROKER),
        ("http://hub.example.org:8000/", BROKER),
        ("http://hub.example.org:8000/hub", BROKER),
        ("http://hub.example.org:8000/hub/", BROKER),
        ("  http://hub.example.org:8000/hub/  ", BROKER),
        ("https://x.org/jhub/hub/", "https://x.org/jhub/services/execplanner/"),
        ("https://x.org/jhub", "https://x.org/jhub/services/execplanner/"),
        ("http://hub.example.org:8000/services/execplanner", BROKER),
        ("http://hub.example.org:8000/services/execplanner/", BROKER),
        ("http://h/services/planner-b/", "http://h/services/planner-b/"),
        ("http://h/base/services/execplanner", "http://h/base/services/execplanner/"),
    ],
)
def test_broker_url(url: str, expected: str) -> None:
    assert broker_url(url) == expected
    assert BrokerClient(url).url == expected


@pytest.mark.parametrize("url", ["hub.example.org", "ftp://h/", "/services/execplanner/", ""])
def test_broker_url_refuses_non_http(url: str) -> None:
    with pytest.raises(ValueError):
        broker_url(url)


def test_default_names() -> None:
    assert BrokerClient("http://hub.example.org:8000/hub/").name == "hub.example.org:8000"
    assert BrokerClient("https://x.org/jhub/hub/").name == "x.org/jhub"
    assert BrokerClient("https://x.org/", name="hub-a").name == "hub-a"


def test_session_urls() -> None:
    client = BrokerClient("http://hub.example.org:8000")
    assert client.session_url(UUID) == f"{BROKER}sessions/{UUID}"
    assert client.offerset_url(UUID) == f"{BROKER}offersets/{UUID}"
    # a meta.url from the same hub is used as it is
    same = f"{BROKER}sessions/{UUID}"
    assert client.session_url(same) == same
    # one from another host is read from this broker: the token never goes elsewhere
    other = f"https://elsewhere.example.net/services/execplanner/sessions/{UUID}/"
    assert client.session_url(other) == f"{BROKER}sessions/{UUID}"
    with pytest.raises(ValueError):
        client.session_url("")
    with pytest.raises(ValueError):
        client.session_url("sessions/x")


def test_split_session_url() -> None:
    assert split_session_url(f"{BROKER}sessions/{UUID}") == (BROKER, UUID)
    assert split_session_url(f"{BROKER}sessions/{UUID}/") == (BROKER, UUID)
    for bad in (UUID, f"{BROKER}offersets/{UUID}", "http://h/"):
        with pytest.raises(ValueError):
            split_session_url(bad)


def test_parse_document_keeps_strings() -> None:
    doc = parse_document("result: NO\nmeta:\n  created: 2026-11-24T15:00:00Z\nok: true\n")
    assert doc == {"result": "NO", "meta": {"created": "2026-11-24T15:00:00Z"}, "ok": True}
    assert parse_document(b'{"a": 1}') == {"a": 1}
    with pytest.raises(ValueError):
        parse_document("a: [unclosed")


# -- what goes over the wire ----------------------------------------------------------------------

Handler = Callable[[httpx.Request], Any]


def client_with(handler: Handler, url: str = "http://hub.example.org:8000/hub/", **kw: Any):
    seen: list[httpx.Request] = []

    async def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        result = handler(request)
        if asyncio.iscoroutine(result):
            result = await result
        return result

    return BrokerClient(url, "secret", transport=httpx.MockTransport(record), **kw), seen


def ok(doc: Any, status: int = 200, **headers: str) -> httpx.Response:
    return httpx.Response(status, json=doc, headers=headers)


async def test_request_posts_json_with_token() -> None:
    client, seen = client_with(lambda r: ok({"kind": "k", "result": "YES", "offers": []}))
    when = datetime(2026, 11, 24, 15, 0, tzinfo=timezone.utc)
    async with client:
        answer = await client.request({"schedule": {"requested": {"start": when}}})
    assert answer["result"] == "YES"
    (request,) = seen
    assert (request.method, str(request.url)) == ("POST", f"{BROKER}requests")
    assert request.headers["Authorization"] == "token secret"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Accept"] == "application/json"
    sent = json.loads(request.content)
    assert sent == {"schedule": {"requested": {"start": "2026-11-24T15:00:00Z"}}}


async def test_no_token_no_header() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return ok({"name": "execplanner"})

    async with BrokerClient("http://h", transport=httpx.MockTransport(handler)) as client:
        assert (await client.info())["name"] == "execplanner"
    assert "Authorization" not in seen[0].headers
    assert str(seen[0].url) == "http://h/services/execplanner/"


async def test_update_and_wrappers() -> None:
    client, seen = client_with(lambda r: ok({"kind": "k", "phase": "ACCEPTED"}))
    async with client:
        await client.accept(UUID)
        await client.reject(f"{BROKER}sessions/{UUID}")
        await client.cancel(UUID)
        await client.update(UUID, "ACCEPTED")
    bodies = [json.loads(r.content) for r in seen]
    assert [b["value"] for b in bodies] == ["ACCEPTED", "REJECTED", "CANCELLED", "ACCEPTED"]
    assert all(b["kind"] == "uri:enum-value-update" and b["path"] == "phase" for b in bodies)
    assert {(r.method, str(r.url)) for r in seen} == {("POST", f"{BROKER}sessions/{UUID}")}


async def test_get_endpoints() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/sessions"):
            return ok({"sessions": [{"kind": "k", "phase": "AVAILABLE"}]})
        if "/sessions/" in request.url.path:
            return ok({"kind": "k", "phase": "AVAILABLE"})
        return ok({"kind": "k", "result": "YES"})

    client, seen = client_with(handler)
    async with client:
        await client.session(UUID)
        await client.offerset(UUID)
        assert await client.sessions(owner="alice", offers=True) == [
            {"kind": "k", "phase": "AVAILABLE"}
        ]
        await client.request_2023({"request": {}})
    assert [(r.method, str(r.url)) for r in seen] == [
        ("GET", f"{BROKER}sessions/{UUID}"),
        ("GET", f"{BROKER}offersets/{UUID}"),
        ("GET", f"{BROKER}sessions?owner=alice&offers=true"),
        ("POST", f"{BROKER}request"),
    ]


# -- answers that are not 200 ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "response,status,message",
    [
        (ok({"status": 409, "message": "Is COMPLETED."}, 409), 409, "Is COMPLETED."),
        (
            httpx.Response(
                404,
                content=b"status: 404\nmessage: Session x not found.\n",
                headers={"Content-Type": "application/yaml"},
            ),
            404,
            "Session x not found.",
        ),
        (httpx.Response(502, content=b"<html>Bad gateway</html>"), 502, "Bad Gateway"),
        (httpx.Response(500, content=b"boom"), 500, "boom"),
        (httpx.Response(403), 403, "Forbidden"),
    ],
)
async def test_errors_carry_the_servers_message(
    response: httpx.Response, status: int, message: str
) -> None:
    client, _ = client_with(lambda r: response)
    async with client:
        with pytest.raises(BrokerError) as caught:
            await client.accept(UUID)
    assert (caught.value.status, caught.value.message) == (status, message)
    assert str(caught.value) == f"HTTP {status}: {message}"


async def test_303_with_a_body_is_the_answer() -> None:
    offerset = {"kind": "k", "result": "NO", "meta": {"messages": []}}
    client, seen = client_with(lambda r: ok(offerset, 303, Location=f"{BROKER}offersets/1"))
    async with client:
        assert await client.request({}) == offerset
    assert len(seen) == 1


async def test_303_without_a_body_is_followed_once() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(303, headers={"Location": "/services/execplanner/offersets/1"})
        return ok({"kind": "k", "result": "YES"})

    client, seen = client_with(handler)
    async with client:
        assert (await client.request({}))["result"] == "YES"
    assert [(r.method, str(r.url)) for r in seen] == [
        ("POST", f"{BROKER}requests"),
        ("GET", "http://hub.example.org:8000/services/execplanner/offersets/1"),
    ]
    assert seen[1].headers["Authorization"] == "token secret"


async def test_303_to_another_host_is_not_followed() -> None:
    client, seen = client_with(
        lambda r: httpx.Response(303, headers={"Location": "https://evil.example/x"})
    )
    async with client:
        with pytest.raises(BrokerError, match="another host"):
            await client.request({})
    assert len(seen) == 1


async def test_other_redirects_are_errors() -> None:
    client, _ = client_with(lambda r: httpx.Response(302, headers={"Location": "/hub/login"}))
    async with client:
        with pytest.raises(BrokerError, match="/hub/login") as caught:
            await client.session(UUID)
    assert caught.value.status == 302


async def test_direct_400_returns_the_failed_session() -> None:
    failed = {"kind": "k", "phase": "FAILED", "meta": {"messages": [{"message": "no"}]}}
    client, seen = client_with(lambda r: ok(failed, 400))
    async with client:
        assert await client.direct({}) == failed
    assert str(seen[0].url) == f"{BROKER}direct"


async def test_direct_400_error_document_raises() -> None:
    client, _ = client_with(lambda r: ok({"status": 400, "message": "Not YAML."}, 400))
    async with client:
        with pytest.raises(BrokerError, match="Not YAML"):
            await client.direct({})


async def test_request_400_session_like_body_still_raises() -> None:
    client, _ = client_with(lambda r: ok({"kind": "k", "phase": "FAILED"}, 400))
    async with client:
        with pytest.raises(BrokerError):
            await client.request({})


# -- many hubs ------------------------------------------------------------------------------------


async def test_ask_many_does_not_wait_for_a_slow_hub() -> None:
    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(30)
        return ok({"result": "YES"})

    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("Connection refused", request=request)

    fast, _ = client_with(lambda r: ok({"kind": "k", "result": "YES", "offers": []}), name="a")
    said_no, _ = client_with(lambda r: ok({"kind": "k", "result": "NO"}), name="b")
    stuck, _ = client_with(slow, name="c")
    down, _ = client_with(refused, name="d")
    unauthorized = ok({"status": 401, "message": "Token needed."}, 401)
    denied, _ = client_with(lambda r: unauthorized, name="e")
    clients = [fast, said_no, stuck, down, denied]
    started = time.monotonic()
    answers = await ask_many(clients, {"executable": {}}, timeout=0.3)
    assert time.monotonic() - started < 3
    for client in clients:
        await client.aclose()

    assert [a.hub for a in answers] == ["a", "b", "c", "d", "e"]
    assert [a.ok for a in answers] == [True, True, False, False, False]
    assert answers[1].offerset == {"kind": "k", "result": "NO"}
    assert answers[2].error == "timed out after 0.3s" and answers[2].offerset is None
    assert answers[3].error is not None and "Connection refused" in answers[3].error
    assert answers[4].error == "HTTP 401: Token needed."
    assert 0.25 < answers[2].elapsed < 3
    assert answers[0].elapsed < answers[2].elapsed


def test_parse_document_refuses_what_would_blow_up() -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n" for i in range(8))
    with pytest.raises(ValueError, match="alias"):
        parse_document(bomb)
    with pytest.raises(ValueError, match="nested"):
        parse_document("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ValueError):
        parse_document("!!python/object/apply:os.system ['true']")


async def test_an_answer_over_the_cap_is_not_read_and_large_yaml_is_not_parsed() -> None:
    from jupyterhub_execplanner import client as C

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/huge"):
            return httpx.Response(200, content=b'{"pad": "' + b"x" * (C.MAX_ANSWER + 10) + b'"}')
        return httpx.Response(200, content=b"result: NO\npad: " + b"y" * (C.MAX_YAML_ANSWER + 10) + b"\n",
                              headers={"Content-Type": "application/yaml"})

    async with BrokerClient("http://h", transport=httpx.MockTransport(handler)) as broker:
        with pytest.raises(BrokerError, match="more than 4 MiB"):
            await broker.session("http://h/services/execplanner/sessions/huge")
        with pytest.raises(BrokerError, match="neither JSON nor YAML"):
            await broker.session("http://h/services/execplanner/sessions/yaml")


async def test_passthrough_sends_as_given_and_returns_the_answer_as_it_came() -> None:
    """The relay's call: the body and headers go as they are, the answer comes back unparsed with
    its status (a 404 is not an error here), and a larger answer than the cap is not read."""
    from jupyterhub_execplanner import client as C

    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path.endswith("/huge"):
            return httpx.Response(200, content=b"x" * (C.MAX_ANSWER + 1))
        return httpx.Response(404, content=b"not: [json", headers={"Content-Type": "text/plain"})

    async with BrokerClient("http://h", "tok", transport=httpx.MockTransport(handler), name="hub-b",
                            headers={"Via": "1.1 a"}) as broker:
        answer = await broker.passthrough("POST", "sessions/x?y=1", b"phase: ACCEPTED",
                                          {"Content-Type": "application/yaml"})
        assert (answer.status_code, answer.content) == (404, b"not: [json")
        with pytest.raises(BrokerError, match="hub-b answered more than 4 MiB"):
            await broker.passthrough("GET", "offersets/huge")
    sent = seen[0]
    assert str(sent.url) == "http://h/services/execplanner/sessions/x?y=1"
    assert sent.content == b"phase: ACCEPTED" and sent.headers["Content-Type"] == "application/yaml"
    assert sent.headers["Authorization"] == "token tok" and sent.headers["Via"] == "1.1 a"


@pytest.mark.parametrize("answer", [{"sessions": []}, {"phase": None}, ["AVAILABLE"], {"status": 200}])
async def test_an_answer_that_is_not_a_session_is_an_error_not_a_blank_session(answer: Any) -> None:
    """A foreign broker (or a relay to one) that answers a session call with something else: the
    command line and the lab server say so, and the federation keeps its last known document."""
    client, _ = client_with(lambda request: ok(answer))
    async with client:
        for call in (client.session(UUID), client.accept(UUID)):
            with pytest.raises(BrokerError, match=r"(GET|POST) sessions/\{uuid\} with something else"):
                await call
