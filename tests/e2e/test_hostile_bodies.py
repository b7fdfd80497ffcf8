"""Every malformed or hostile input gets a 4xx (or a NO with a message), never a 5xx, and the broker
keeps answering everyone afterwards. Sent through the real proxy to the real hub-managed service.

Over two thousand inputs on every endpoint: each string of the shipped examples (values and keys)
given a lone surrogate in turn, each value replaced by each wrong type, invalid UTF-8, alias bombs,
deep nesting, huge strings and keys, odd Content-Types, a 70 MiB body, hostile paths and query
strings, and methods no endpoint has. While alice sends them, bob's ``GET sessions`` must keep
answering 200; afterwards alice's must too, and the service's log must show no unhandled error.

These tests run on a hub of their own (``fuzz_hub``): the shared e2e hub's settings without the
per-user limit of requests per minute (which would answer 429 after alice's first 60 and test
nothing else), and so that what the fuzzing leaves behind -- offers, sessions, snapshots, the log --
troubles no other test.
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_to_bytes

import httpx
import pytest
import yaml
from brokers import Broker
from hostile import (
    HOSTILE,
    MIB,
    OFFER_UPDATE_2023,
    REPORT,
    REQUEST_2023,
    SNAPSHOT,
    Body,
    example,
    example_requests,
    hostile_table,
    invalid_utf8_bodies,
    log_problems,
    oversized,
    service_url,
    start_fuzz_hub,
    structure_bodies,
    surrogate_bodies,
    wrong_type_bodies,
)
from hubprocess import RealHub
from requests_lib import notebook

from jupyterhub_execplanner.service.openapi import validate

pytestmark = pytest.mark.e2e

IN_FLIGHT = ("ACCEPTED", "WAITING", "PREPARING", "AVAILABLE", "RUNNING")


@pytest.fixture(scope="module")
def fuzz_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealHub]:
    hub = start_fuzz_hub(tmp_path_factory.mktemp("fuzz-hub"))
    try:
        yield hub
    finally:
        hub.stop()


@pytest.fixture
def alice(fuzz_hub: RealHub) -> Broker:
    return Broker(fuzz_hub.broker, fuzz_hub.user_token("alice"))


@pytest.fixture
def bob(fuzz_hub: RealHub) -> Broker:
    return Broker(fuzz_hub.broker, fuzz_hub.user_token("bob"))


# -- the first hostile bodies, and wrong types ----------------------------------------------------------


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_body_gets_4xx_or_no(alice: Broker, name: str) -> None:
    content_type, body = HOSTILE[name]
    offer = alice.post("requests", json=notebook()).json()["offers"][0]["meta"]["uuid"]
    for path in ("requests", "direct", "request", f"sessions/{offer}", f"offers/{offer}", "snapshots"):
        response = alice.post(path, content=body,
                              headers={"Content-Type": content_type, "Accept": "application/json"})
        assert response.status_code < 500, (path, response.status_code, response.text[:300])
        if response.status_code == 200:
            answer = response.json()
            assert answer.get("result", answer.get("response", {}).get("result")) == "NO"
        elif response.status_code not in (400, 413, 415):
            pytest.fail(f"{path}: unexpected {response.status_code}")
        elif path.startswith(("sessions/", "offers/", "snapshots")):
            assert response.json()["message"], "every 4xx says what is wrong"
        elif path == "direct" and "phase" in response.json():
            failed = response.json()  # direct's own answer for a request with no offer
            assert failed["phase"] == "FAILED" and failed["meta"]["messages"]
        else:
            assert response.json()["message"], "every 4xx says what is wrong"
    assert alice.get(f"sessions/{offer}").json()["phase"] == "OFFERED", "no state was lost or changed"
    assert alice.post("requests", json=notebook()).json()["result"] == "YES"


WRONG_TYPES = [
    {"executable": "jupyter"},
    {"executable": {"kind": 42}},
    {"executable": {"kind": None}},
    {"executable": ["a"]},
    {"executable": {"kind": "https://www.purl.org/ivoa.net/Calycopis-openapi/schema/v1.0/kinds/"
                            "executable/jupyter-notebook.yaml", "location": {"a": 1}}},
    {**notebook(), "compute": "big"},
    {**notebook(), "compute": {"kind": "https://www.purl.org/ivoa.net/Calycopis-openapi/schema/"
                                        "v1.0/kinds/compute/simple-compute-resource.yaml",
                               "cores": {"min": "lots"}}},
    {**notebook(), "compute": {"cores": {"min": True}}},
    {**notebook(), "compute": {"cores": {"min": 10**100}}},
    {**notebook(), "compute": {"cores": {"min": -3}}},
    {**notebook(), "compute": {"memory": {"min": 1.5}}},
    {**notebook(), "schedule": "tomorrow"},
    {**notebook(), "schedule": {"requested": {"start": "next tuesday", "duration": "1H"}}},
    {**notebook(), "schedule": {"requested": {"duration": "P1H"}}},
    {**notebook(), "data": {"not": "a list"}},
    {**notebook(), "data": [None, 3, "x"]},
    {**notebook(), "storage": [{"kind": "x"}]},
    {**notebook(), "costs": [{"kind": "y", "max": "cheap"}]},
]


@pytest.mark.parametrize("doc", WRONG_TYPES, ids=[f"wrong-{i}" for i in range(len(WRONG_TYPES))])
def test_wrong_types_get_no_with_a_message(alice: Broker, doc: dict) -> None:
    response = alice.post("requests", json=doc)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["result"] == "NO"
    assert answer["meta"]["messages"], "a NO always says why"
    assert all(m["values"].get("path") for m in answer["meta"]["messages"] if m["level"] == "ERROR")


def test_random_documents_never_give_5xx(alice: Broker) -> None:
    rng = random.Random(20261124)
    leaves = [None, True, 0, -1, 2**70, 1.5, "", "x" * 300, "PT1H", "2026-01-01T00:00:00Z/PT1H"]
    keys = ["executable", "compute", "kind", "cores", "memory", "min", "max", "schedule",
            "requested", "start", "duration", "data", "storage", "location", "meta", "volumes"]

    def junk(depth: int) -> object:
        if depth == 0 or rng.random() < 0.3:
            return rng.choice(leaves)
        if rng.random() < 0.5:
            return [junk(depth - 1) for _ in range(rng.randint(0, 3))]
        return {rng.choice(keys): junk(depth - 1) for _ in range(rng.randint(0, 4))}

    for _ in range(150):
        doc = junk(5)
        response = alice.post("requests", json=doc)
        assert response.status_code < 500, (doc, response.text[:300])


# -- the fuzzing: every endpoint ---------------------------------------------------------------------

SOME_WRONG = ("null", "true", "googol", "nan", "huge-string", "empty-mapping", "surrogate")


def common(name: str, doc: Any) -> list[Body]:
    """What every endpoint that reads a body gets: invalid UTF-8 around ``doc``, deep nesting, huge
    strings, odd Content-Types, the first hostile bodies, and 70 MiB."""
    return [*invalid_utf8_bodies(name, doc), *structure_bodies(name, doc), *hostile_table(), oversized()]


def requests_corpus() -> list[Body]:
    bodies = []
    for name, doc in example_requests().items():
        bodies += surrogate_bodies(name, doc)
        bodies += wrong_type_bodies(name, doc, None if name == "notebook.yaml" else SOME_WRONG)
        bodies += invalid_utf8_bodies(name, doc)
    notebook_yaml = example("notebook.yaml")
    return bodies + structure_bodies("notebook.yaml", notebook_yaml) + hostile_table() + [oversized()]


def direct_corpus() -> list[Body]:
    bodies = []
    for name, doc in example_requests().items():
        bodies += surrogate_bodies(name, doc)
    notebook_yaml = example("notebook.yaml")
    return bodies + wrong_type_bodies("notebook.yaml", notebook_yaml, SOME_WRONG) + common(
        "notebook.yaml", notebook_yaml)


def request_2023_corpus() -> list[Body]:
    return [*surrogate_bodies("2023", REQUEST_2023), *wrong_type_bodies("2023", REQUEST_2023, SOME_WRONG),
            *common("2023", REQUEST_2023)]


def update_corpus() -> list[Body]:
    update = example("accept.yaml")
    return [*surrogate_bodies("accept.yaml", update), *wrong_type_bodies("accept.yaml", update),
            *common("accept.yaml", update)]


def offer_update_corpus(uuid: str) -> list[Body]:
    update = {"offer": {**OFFER_UPDATE_2023["offer"], "ident": uuid}}
    return [*surrogate_bodies("offer", update), *wrong_type_bodies("offer", update),
            *common("offer", update)]


def snapshot_corpus() -> list[Body]:
    return [*surrogate_bodies("snapshot", SNAPSHOT), *wrong_type_bodies("snapshot", SNAPSHOT),
            *common("snapshot", SNAPSHOT)]


def report_corpus() -> list[Body]:
    return [*surrogate_bodies("report", REPORT), *wrong_type_bodies("report", REPORT, SOME_WRONG),
            *hostile_table(), oversized()]


# URL path segments and query values: NUL, RTL override, a header injection, traversal, SQL, markup,
# the nil uuid, 3000 characters, an emoji
SEGMENTS = ["x", "%00", "%F0%9F%99%82", "%E2%80%AE", "a" * 3000, "00000000-0000-0000-0000-000000000000",
            "'%20OR%201=1--", "%2e%2e%2f%2e%2e%2fetc%2fpasswd", "..%2F..", "%252e", "null", "-1", "1e999",
            "%22%3E%3Cscript%3E", "%20", "~", "%0d%0aSet-Cookie:%20x=1"]
# ... and segments that are not percent-encoded UTF-8 (a lone surrogate, bytes that are not UTF-8, bad
# escapes). configurable-http-proxy answers these 500 itself (decodeURIComponent throws in its
# targetForReq) before any service sees them, so they go to the broker directly, past the proxy.
RAW_SEGMENTS = ["%ED%A0%80", "%FF", "%C0%AF", "%u0000", "%", "%E0%A4%A"]
QUERY_VALUES = ["bogus", "", "TRUE", "No", "2", "%ED%A0%80", "%FF", "%00", "a" * 6000, "true%00",
                "%F0%9F%99%82", "[]", "%", "%zz", "1&offers=0", "1;owner=bob"]
ACCEPTS = ["application/json;q=nan", "*/*;q=-1", "application/yaml;q=2", "text/*", ";;", "a" * 3000,
           "application/json, application/yaml;q=1.0000000001", "text/html"]
TIMEOUT = 10.0  # seconds for any answer (the 70 MiB body: six times as long)


def readable(raw: str) -> bool:
    """Whether a raw query value is percent-encoded UTF-8 (else the service answers 400)."""
    try:
        unquote_to_bytes(raw.partition("&")[0]).decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def flag_status(raw: str) -> set[int]:
    """What ``GET sessions?offers=<raw>`` may answer: 200 for true/false, 1/0, yes/no in any case
    (the last ``offers`` given counts), 400 for anything else; either for a flag with control
    characters or spaces around it (tornado reads those as spaces, and strips them)."""
    value = f"offers={raw}".split("&")[-1].partition("=")[2]
    if not readable(value):
        return {400}
    text = unquote_to_bytes(value).decode()
    flags = ("true", "false", "1", "0", "yes", "no")
    if text.lower() in flags:
        return {200}
    return {200, 400} if "".join(c for c in text if c.isprintable()).strip().lower() in flags else {400}


@dataclass
class Fuzzer:
    """Sends inputs as alice, checks each answer, and keeps every failure (it does not stop at the
    first: the report lists them all). Every 50 inputs bob must still read his sessions."""

    alice: Broker
    bob: Broker
    failures: list[str] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    sent: int = 0
    previous: str = "none"  # the last input sent, and its answer
    before: str = "none"  # the one before the input being checked

    def __post_init__(self) -> None:
        self.client = httpx.Client(headers={"Authorization": f"token {self.alice.token}"})

    def send(self, method: str, url: str, body: Body | None = None, headers: dict[str, str] | None = None,
             base: str | None = None) -> httpx.Response | None:
        """One input, to the broker through the proxy (or at ``base``). No answer in :data:`TIMEOUT`
        is a failure; the fuzzing then waits until the service answers again, and says how long."""
        headers = dict(headers or {})
        if body is not None and body.content_type is not None:
            headers["Content-Type"] = body.content_type
        if base is not None:  # past the proxy: one connection per input, each answer its own
            headers["Connection"] = "close"
        self.sent += 1
        if self.sent % 50 == 0:
            self.others_still_served()
        timeout = TIMEOUT * (6 if body is not None and len(body.data) > 16 * MIB else 1)
        self.before = self.previous
        try:
            response = self.client.request(method, (base or self.alice.base) + url, headers=headers,
                                           content=body.data if body else None, timeout=timeout)
            self.previous = (f"{method} {url[:80]} [{body.label if body else 'no body'}] -> "
                             f"{response.status_code}")
            return response
        except httpx.TimeoutException:
            self.fail(method, url, body, None, f"no answer in {timeout:g} s; {self.wait_for_service()}")
        except httpx.HTTPError as e:  # a connection closed instead of an answer
            self.fail(method, url, body, None, f"no answer: {type(e).__name__}: {e}")
        self.client.close()
        self.__post_init__()
        return None

    def wait_for_service(self, limit: float = 600) -> str:
        started = time.monotonic()
        while time.monotonic() - started < limit:
            try:
                if httpx.get(self.alice.base, timeout=2).status_code == 200:
                    return f"the service answered again {time.monotonic() - started:.0f} s later"
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        return f"the service did not answer again in {limit:g} s"

    def fail(self, method: str, url: str, body: Body | None, status: int | None, why: str) -> None:
        what = body.label if body is not None else "(no body)"
        self.failures.append(f"{method} {url[:120]} [{what}] -> {status}: {why[:300]}")

    def check(self, method: str, url: str, body: Body | None, response: httpx.Response | None,
              allowed: set[int], judge: Callable[[httpx.Response, Any], str | None] | None = None) -> None:
        """``response`` must have a status in ``allowed``, never 5xx; a 4xx is an Error document (or
        whatever ``judge`` accepts, which also checks a 2xx)."""
        if response is None:
            return
        status = response.status_code
        self.statuses[status] += 1
        if status not in allowed:
            # a 502/503 from the proxy is often about the connection the answer before left behind
            before = f" (the input before: {self.before})" if status >= 500 else ""
            text = ("an HTML page (the proxy's or the hub's)" if "html" in response.headers.get(
                "content-type", "") else " ".join(response.text[:200].split()))
            self.fail(method, url, body, status, f"not one of {sorted(allowed)}{before}: {text}")
            return
        try:
            doc = self.document(response)
        except ValueError as e:
            self.fail(method, url, body, status, f"the answer is not JSON or YAML: {e}")
            return
        problem = judge(response, doc) if judge is not None else None
        if problem is None and 400 <= status < 500 and judge is None:
            problem = error_document(response, doc)
        if problem:
            self.fail(method, url, body, status, problem)

    @staticmethod
    def document(response: httpx.Response) -> Any:
        content_type = response.headers.get("content-type", "")
        if not response.content:
            return None
        if "yaml" in content_type:
            return yaml.safe_load(response.content)
        if "json" in content_type:
            return json.loads(response.content)
        if response.status_code >= 300:
            raise ValueError(f"Content-Type {content_type!r}")
        return None

    def others_still_served(self) -> None:
        for who, broker in (("bob", self.bob), ("alice", self.alice)):
            try:
                response = httpx.get(broker.url("sessions"), headers=broker.headers(), timeout=TIMEOUT)
            except httpx.HTTPError as e:
                self.fail("GET", "sessions", None, None, f"{who}'s sessions after {self.sent} inputs: {e!r}")
                continue
            if response.status_code != 200:
                self.fail("GET", "sessions", None, response.status_code,
                          f"{who}'s sessions after {self.sent} inputs: {response.text[:200]}")

    def alive(self) -> None:
        """The service answers, and bob's and alice's listings are 200."""
        try:
            answer = str(httpx.get(self.alice.base, timeout=TIMEOUT).status_code)
        except httpx.HTTPError as e:
            answer = repr(e)
        if answer != "200":
            self.fail("GET", "", None, None, f"the service no longer answers: {answer}")
        self.others_still_served()

    def release(self) -> None:
        """Cancel alice's accepted sessions, so her per-user limit of sessions is not reached."""
        response = self.alice.get("sessions")
        if response.status_code == 200:
            for session in response.json()["sessions"]:
                if session["phase"] in IN_FLIGHT:
                    self.alice.accept(session["meta"]["uuid"], "CANCELLED")

    def verdict(self, endpoint: str) -> None:
        self.alive()
        self.client.close()
        summary = ", ".join(f"{status}: {n}" for status, n in sorted(self.statuses.items()))
        assert not self.failures, (
            f"{len(self.failures)} of {self.sent} inputs to {endpoint} failed (answers: {summary}):\n"
            + "\n".join(self.failures[:60])
        )


def error_document(response: httpx.Response, doc: Any) -> str | None:
    """What is wrong with a 4xx answer, if it is not ``{status, message}`` with a message."""
    try:
        validate(doc, "Error")
    except Exception as e:
        return f"not an Error document ({str(e).splitlines()[0]}): {response.text[:200]}"
    if doc["status"] != response.status_code or not doc["message"].strip():
        return f"Error document with another status or no message: {doc}"
    return None


def documented(schema: str) -> Callable[[httpx.Response, Any], str | None]:
    """A judge: 2xx answers validate against ``schema``, 4xx against Error."""

    def judge(response: httpx.Response, doc: Any) -> str | None:
        if response.status_code >= 400:
            return error_document(response, doc)
        try:
            validate(doc, schema)
        except Exception as e:
            return f"not a valid {schema} ({str(e).splitlines()[0]})"
        return None

    return judge


@pytest.fixture
def fuzzer(alice: Broker, bob: Broker) -> Fuzzer:
    return Fuzzer(alice, bob)


def offer_of(alice: Broker) -> str:
    response = alice.post("requests", json=notebook())
    assert response.status_code == 200 and response.json()["result"] == "YES", response.text
    return response.json()["offers"][0]["meta"]["uuid"]


def test_fuzz_post_requests(fuzzer: Fuzzer) -> None:
    judge = documented("OfferSetResponse")

    def offers_or_reasons(response: httpx.Response, doc: Any) -> str | None:
        problem = judge(response, doc)
        if problem is None and response.status_code == 200 and doc["result"] == "NO":
            return None if doc["meta"]["messages"] else "a NO without messages"
        return problem

    for body in requests_corpus():
        fuzzer.check("POST", "requests", body, fuzzer.send("POST", "requests", body), {200, 400, 413, 415},
                     offers_or_reasons)
    fuzzer.verdict("POST requests")


def test_fuzz_post_direct(fuzzer: Fuzzer) -> None:
    judge = documented("ExecutionSession")

    def session_or_failed(response: httpx.Response, doc: Any) -> str | None:
        if response.status_code in (413, 415):
            return error_document(response, doc)
        problem = judge(response, doc) if response.status_code == 200 else None
        if response.status_code == 400:  # the standard's answer: a session in phase FAILED
            try:
                validate(doc, "ExecutionSession")
            except Exception as e:
                return f"a 400 that is not a FAILED session ({str(e).splitlines()[0]}): {str(doc)[:200]}"
            if doc["phase"] != "FAILED" or not doc["meta"].get("messages"):
                return f"a 400 that is not a FAILED session with messages: {str(doc)[:200]}"
        return problem

    for body in direct_corpus():
        response = fuzzer.send("POST", "direct", body)
        if response is not None and response.status_code == 429:  # alice holds too many sessions
            fuzzer.release()
            response = fuzzer.send("POST", "direct", body)
        fuzzer.check("POST", "direct", body, response, {200, 400, 413, 415}, session_or_failed)
        if response is not None and response.status_code == 200:
            fuzzer.alice.accept(fuzzer.document(response)["meta"]["uuid"], "CANCELLED")
    fuzzer.verdict("POST direct")


def test_fuzz_post_request_2023(fuzzer: Fuzzer) -> None:
    for body in request_2023_corpus():
        fuzzer.check("POST", "request", body, fuzzer.send("POST", "request", body), {200, 400, 413, 415},
                     documented("Response2023"))
    fuzzer.verdict("POST request")


def test_fuzz_post_sessions_uuid(fuzzer: Fuzzer, alice: Broker) -> None:
    """The update of a live offer: all but a few inputs are unreadable (400); the few that still read
    as an update (a BOM, a duplicate key) accept it (200), or find it accepted or expired (409)."""
    url = f"sessions/{offer_of(alice)}"
    for body in update_corpus():
        fuzzer.check("POST", url, body, fuzzer.send("POST", url, body), {200, 400, 409, 413, 415},
                     documented("ExecutionSession"))
    fuzzer.release()
    fuzzer.verdict("POST sessions/{uuid}")


def test_fuzz_post_offers_uuid(fuzzer: Fuzzer, alice: Broker) -> None:
    uuid = offer_of(alice)
    url = f"offers/{uuid}"
    for body in offer_update_corpus(uuid):
        fuzzer.check("POST", url, body, fuzzer.send("POST", url, body), {200, 400, 409, 413, 415},
                     documented("Offer2023"))
    fuzzer.verdict("POST offers/{uuid}")


def test_fuzz_post_snapshots(fuzzer: Fuzzer, alice: Broker) -> None:
    for body in snapshot_corpus():
        response = fuzzer.send("POST", "snapshots", body)
        fuzzer.check("POST", "snapshots", body, response, {201, 400, 413, 415}, documented("Snapshot"))
        if response is not None and response.status_code == 201:
            uuid = fuzzer.document(response)["uuid"]
            fuzzer.check("DELETE", f"snapshots/{uuid}", None, fuzzer.send("DELETE", f"snapshots/{uuid}"),
                         {204})
    fuzzer.verdict("POST snapshots")


def test_fuzz_post_progress(fuzzer: Fuzzer, alice: Broker) -> None:
    """Without the session's report token every report is refused (403), whatever its body."""
    url = f"sessions/{offer_of(alice)}/progress"
    for body in report_corpus():
        for auth in (f"token {alice.token}", "execplanner-report x", "execplanner-report \x7e" * 200):
            fuzzer.check("POST", url, body, fuzzer.send("POST", url, body, {"Authorization": auth}),
                         {403, 413})
    fuzzer.verdict("POST sessions/{uuid}/progress")


def test_fuzz_get_paths_and_queries(fuzzer: Fuzzer, alice: Broker, fuzz_hub: RealHub) -> None:
    offerset = alice.post("requests", json=notebook()).json()["meta"]["uuid"]
    offer = offer_of(alice)
    direct = service_url(fuzz_hub)
    for segment, base in [*((s, None) for s in SEGMENTS), *((s, direct) for s in RAW_SEGMENTS)]:
        for url in (f"sessions/{segment}", f"offersets/{segment}", f"offers/{segment}",
                    f"snapshots/{segment}/{segment}", f"snapshots/{segment}/analysis.ipynb", segment,
                    f"sessions/{segment}/progress", f"{segment}/sessions"):
            allowed = {400, 405} if url.endswith("/progress") else {200, 400, 404}
            fuzzer.check("GET", url, None, fuzzer.send("GET", url, base=base), allowed)
        url = f"snapshots/{segment}"
        fuzzer.check("DELETE", url, None, fuzzer.send("DELETE", url, base=base), {400, 404})
    for value in QUERY_VALUES:
        for url, allowed in ((f"sessions?offers={value}", flag_status(value)),
                             (f"sessions?owner={value}", {200 if readable(value) else 400}),
                             (f"sessions?{value}={value}", {200, 400}), (f"sessions/{offer}?{value}", {200}),
                             (f"offersets/{offerset}?offers={value}", {200}), (f"?{value}", {200})):
            fuzzer.check("GET", url, None, fuzzer.send("GET", url), allowed)
    for accept in ACCEPTS:
        for url in ("", "sessions", f"sessions/{offer}", f"offers/{offer}", "openapi.yaml"):
            fuzzer.check("GET", url, None, fuzzer.send("GET", url, headers={"Accept": accept}), {200},
                         lambda response, doc: None)
    fuzzer.verdict("GET")


# every path of the service, with a method it does not have: 405, and an Allow header naming those it has
UNSUPPORTED = {
    "": ("POST", "PUT", "DELETE", "PATCH"),
    "openapi.yaml": ("POST", "PUT", "DELETE"),
    "metrics": ("POST", "DELETE"),
    "requests": ("GET", "PUT", "DELETE", "PATCH"),
    "direct": ("GET", "PUT", "DELETE"),
    "offersets/{offerset}": ("POST", "PUT", "DELETE"),
    "sessions": ("POST", "PUT", "DELETE"),
    "sessions/{offer}": ("PUT", "DELETE", "PATCH"),
    "sessions/{offer}/progress": ("GET", "PUT", "DELETE"),
    "request": ("GET", "PUT", "DELETE"),
    "offers/{offer}": ("PUT", "DELETE", "PATCH"),
    "snapshots": ("GET", "PUT", "DELETE"),
    "snapshots/{offer}": ("GET", "POST", "PUT"),
    "snapshots/token/analysis.ipynb": ("POST", "PUT", "DELETE"),
}


def test_fuzz_unsupported_methods(fuzzer: Fuzzer, alice: Broker) -> None:
    offerset = alice.post("requests", json=notebook()).json()["meta"]["uuid"]
    offer = offer_of(alice)

    def allow_named(response: httpx.Response, doc: Any) -> str | None:
        allow = response.headers.get("allow", "")
        methods = {m.strip() for m in allow.split(",") if m.strip()}
        if not methods or response.request.method in methods:
            return f"405 with Allow {allow!r}"
        return error_document(response, doc)

    for template, methods in UNSUPPORTED.items():
        url = template.format(offer=offer, offerset=offerset)
        for method in (*methods, "TRACE"):
            fuzzer.check(method, url, None, fuzzer.send(method, url), {405}, allow_named)
    fuzzer.verdict("unsupported methods")


CORPORA: dict[str, Callable[[], list[Body]]] = {
    "POST requests": requests_corpus,
    "POST direct": direct_corpus,
    "POST request": request_2023_corpus,
    "POST sessions/{uuid}": update_corpus,
    "POST offers/{uuid}": lambda: offer_update_corpus("0f3c2a9e-6f1b-4c55-9d0e-2b7c1d4e5f60"),
    "POST snapshots": snapshot_corpus,
}


def test_over_a_thousand_inputs_on_every_endpoint() -> None:
    """The corpus keeps its size: the fuzzing above sends well over a thousand hostile inputs, and
    each endpoint that reads a body gets surrogates, wrong types, bad UTF-8 and 70 MiB."""
    corpora = {endpoint: make() for endpoint, make in CORPORA.items()}
    sizes = {endpoint: len(bodies) for endpoint, bodies in corpora.items()}
    sizes["POST sessions/{uuid}/progress"] = 3 * len(report_corpus())
    sizes["GET"] = (len(SEGMENTS) + len(RAW_SEGMENTS)) * 9 + len(QUERY_VALUES) * 6 + len(ACCEPTS) * 5
    sizes["unsupported methods"] = sum(len(m) + 1 for m in UNSUPPORTED.values())
    assert sum(sizes.values()) >= 2000, sizes
    for endpoint, bodies in corpora.items():
        assert len(bodies) >= 150, (endpoint, len(bodies))
        for kind in ("surrogate ", "wrong ", "not-utf8 ", "deep-json", "hostile alias-bomb",
                     "oversized 70 MiB", "huge-string", "content-type "):
            assert any(body.label.startswith(kind) for body in bodies), (endpoint, kind)


def test_after_the_fuzzing_everyone_is_served_and_the_log_is_clean(fuzz_hub: RealHub, alice: Broker,
                                                                   bob: Broker) -> None:
    """Last in this module: the listings still answer, and no input made the service log an
    unhandled error (a 500, or one after the answer was sent)."""
    for who in (alice, bob):
        response = who.get("sessions", params={"offers": "true"})
        assert response.status_code == 200, response.text
        validate(response.json(), "SessionList")
    assert fuzz_hub.log_path is not None
    problems = log_problems(fuzz_hub.log_path.read_text(errors="replace"))
    assert not problems, f"{len(problems)} lines:\n" + "\n".join(problems[:40])

