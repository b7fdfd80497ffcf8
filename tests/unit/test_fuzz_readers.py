"""Property-based fuzzing of every reader of a request body: whatever arrives, each answers with its
result or its own error -- never another exception, which the service would answer as a 500.

Documents are drawn in two ways: JSON-like junk (lone surrogates in strings and keys, huge integers,
NaN and infinities, deep nesting), and the valid documents of tests/hostile.py (the shipped
examples, the 2023 draft's, an update, a report, a snapshot) with a few of their values replaced,
renamed or deleted, so the readers get past their first checks. Hypothesis runs derandomized: the
same examples on every run.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import pytest
import yaml
from hostile import (
    OFFER_UPDATE_2023,
    REPORT,
    REQUEST_2023,
    SNAPSHOT,
    SURROGATES,
    example,
    example_requests,
    get,
    node_paths,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jupyterhub_execplanner.model import codec
from jupyterhub_execplanner.model.codec import MAX_DEPTH, BodyError, decode_body
from jupyterhub_execplanner.model.draft2023 import parse_offer_update_2023, parse_request_2023
from jupyterhub_execplanner.model.messages import Message
from jupyterhub_execplanner.model.parse import ParseResult, parse_request
from jupyterhub_execplanner.model.phases import Phase
from jupyterhub_execplanner.model.render import render_direct_failure, request_from_doc, request_to_doc
from jupyterhub_execplanner.model.update import UpdateError, parse_update
from jupyterhub_execplanner.service.openapi import validate
from jupyterhub_execplanner.service.snapshots import SnapshotBodyError, parse_files
from jupyterhub_execplanner.worker.decide import ReportError, parse_report

NOW = datetime(2026, 11, 24, 15, 0, tzinfo=timezone.utc)
BASE = "http://hub.example.org/services/execplanner/"

FUZZ = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# -- strategies -------------------------------------------------------------------------------------

REQUESTS = list(example_requests().values())
SEEDS: dict[str, list[Any]] = {
    "request": REQUESTS,
    "request2023": [REQUEST_2023],
    "update": [example("accept.yaml"), {"update": example("accept.yaml")}],
    "offer2023": [OFFER_UPDATE_2023],
    "report": [REPORT, {**REPORT, "failed": True, "level": "ERROR"}],
    "snapshot": [SNAPSHOT],
}


def _keys(doc: Any) -> set[str]:
    return {p[-1] for p in node_paths(doc) if isinstance(p[-1], str)}


def _strings(doc: Any) -> set[str]:
    return {v for p in node_paths(doc) if isinstance(v := get(doc, p), str)}


ALL_SEEDS = [doc for docs in SEEDS.values() for doc in docs]
KEYS = sorted(set().union(*map(_keys, ALL_SEEDS)) | {"kind", "meta", "name", "min", "max", "data",
                                                    "storage", "volumes", "accelerators", "costs",
                                                    "metrics", "image", "locations", "count", "type"})
STRINGS = sorted(set().union(*map(_strings, ALL_SEEDS)) | {
    "", " ", "PT0S", "P1D", "PT1H", "-PT1H", "P999999999Y", "2026-11-24T15:00:00Z", "0000-01-01/PT1H",
    "ACCEPTED", "CANCELLED", "OFFERED", "READWRITE", "/input", "input", "../..", "file:///etc/passwd",
    "https://example.org/a b.ipynb", "requirements.txt", "-e git+https://x", "\x00", "\u202e", "🙂",
})

surrogate_text = st.lists(
    st.one_of(st.text(max_size=4), st.sampled_from(SURROGATES)), min_size=1, max_size=4
).map("".join)
texts = st.one_of(st.sampled_from(STRINGS), st.text(max_size=12), surrogate_text,
                  st.sampled_from(STRINGS).map(lambda s: s + "\ud800"))
# past int32, float precision, int64 (SQLite's INTEGER), and near Python's 4300-digit str() limit
BIG = (2**31, 2**53 + 1, 2**63 - 1, 2**63, 2**64, -(2**63) - 1, 10**100, 10**4000, -(10**4000))
numbers = st.one_of(
    st.integers(),
    st.integers(0, len(BIG) - 1).map(lambda i: BIG[i]),
    st.floats(allow_nan=True, allow_infinity=True),
)
leaves = st.one_of(texts, texts, st.none(), st.booleans(), numbers)
keys = st.one_of(st.sampled_from(KEYS), texts)
json_like = st.recursive(
    leaves,
    lambda children: st.one_of(st.lists(children, max_size=4),
                               st.dictionaries(keys, children, max_size=5)),
    max_leaves=25,
)


def nest(depth: int, leaf: Any, as_list: bool) -> Any:
    doc = leaf
    for _ in range(depth):
        doc = [doc] if as_list else {"kind": doc}
    return doc


deep = st.builds(nest, st.sampled_from([MAX_DEPTH, MAX_DEPTH + 1, 200]), leaves, st.booleans())


@st.composite
def mutated(draw: st.DrawFn, seeds: list[Any]) -> Any:
    """A seed document with one or two of its values replaced, keys renamed or added, or entries
    deleted: mostly one hostile leaf in an otherwise good document."""
    doc = copy.deepcopy(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 2))):
        paths = list(node_paths(doc))
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = get(doc, path[:-1])
        action = draw(st.sampled_from(["leaf", "leaf", "leaf", "tree", "deep", "rename", "add", "delete"]))
        if action in ("leaf", "tree", "deep"):
            parent[path[-1]] = draw({"leaf": leaves, "tree": json_like, "deep": deep}[action])
        elif isinstance(parent, dict) and action == "rename":
            parent[draw(keys)] = parent.pop(path[-1])
        elif isinstance(parent, dict) and action == "add":
            parent[draw(keys)] = draw(json_like)
        else:
            del parent[path[-1]]
    return doc


def documents(reader: str) -> st.SearchStrategy[Any]:
    """Mostly mutated seeds (3 in 5), else junk."""
    seeds = mutated(SEEDS[reader])
    return st.one_of(seeds, seeds, seeds, json_like, deep)


# -- what every answer must be ----------------------------------------------------------------------


def answerable(doc: Any) -> None:
    """The service can send ``doc`` in both formats (a 500 otherwise)."""
    for fmt in (codec.JSON, codec.YAML):
        data, _ = codec.encode(doc, fmt)
        data.decode("utf-8")


def refusal(error: Exception) -> None:
    """An error a reader raises is answered 400 with its text as the message."""
    assert str(error).strip(), f"{type(error).__name__} without a message"
    answerable({"status": 400, "message": str(error)})


def parsed(result: Any) -> None:
    """A ParseResult the service can answer: NO with reasons, or a request it can render, store and
    read back (the store keeps request_to_doc's document as JSON and reads it with request_from_doc)."""
    assert isinstance(result, ParseResult), type(result)
    assert all(isinstance(m, Message) for m in result.messages)
    if not result.ok:
        assert result.messages, "a NO always says why"
        assert all(m.values.get("path") for m in result.messages if m.level == "ERROR")
        failure = render_direct_failure(list(result.messages), BASE)  # POST direct's 400 answer
        answerable(failure)
        validate(failure, "ExecutionSession")
        return
    assert result.request is not None
    doc = request_to_doc(result.request)
    answerable(doc)
    validate(doc, "ExecutionRequest")
    stored = json.loads(json.dumps(doc))
    assert json.dumps(request_to_doc(request_from_doc(stored))) == json.dumps(doc)


# -- the readers ------------------------------------------------------------------------------------

CONTENT_TYPES = [None, "", "application/json", "application/yaml", "text/yaml", "application/x-yaml",
                 "application/vnd.x+json", "application/vnd.x+yaml", "text/plain", "*/*",
                 "application/octet-stream", "application/xml", "application/json; charset=latin-1",
                 "application/json; charset=UTF-8", "application/yaml; q=0.5; charset=\"ascii\"",
                 "multipart/form-data", ";", "application/json;charset"]


def _encoded(doc: Any, how: str) -> bytes:
    if how == "json":
        return json.dumps(doc).encode()
    if how == "json-raw":  # a lone surrogate written as raw UTF-8 (CESU-8): not UTF-8
        return json.dumps(doc, ensure_ascii=False).encode("utf-8", "surrogatepass")
    return yaml.safe_dump(doc, allow_unicode=True).encode("utf-8", "surrogatepass")


YAML_SNIPPETS = [b"a: &x 1\nb: *x\n", b"!!python/object:os.system []", b"a: !!binary aGk=\n",
                 b"a: 1\n---\nb: 2\n", b"? [a]\n: b\n", b"<<: {a: 1}\n", b"a: 2026-11-24\n",
                 b"a: \"\\ud800\"\n", b"a: \"\\U0010ffff\"\n", b"\xef\xbb\xbfa: 1\n",
                 b"%YAML 1.1\n---\na: 1\n", b"%TAG ! tag:x,2000:\n---\n!a 1\n",
                 b"a: .nan\nb: -.inf\nc: 0x1F\nd: 0o17\ne: 1_000\n"]

bodies = st.one_of(
    st.binary(max_size=300),
    st.builds(_encoded, json_like, st.sampled_from(["json", "json-raw", "yaml"])),
    st.builds(_encoded, mutated(ALL_SEEDS), st.sampled_from(["json", "json-raw", "yaml"])),
    st.sampled_from(YAML_SNIPPETS),
    st.builds(lambda n, b: b * n, st.integers(1, 3000), st.sampled_from([b"[", b"{", b"- ", b"[{\"a\":"])),
    st.builds(lambda n, b: b"[" * n + b + b"]" * n, st.integers(60, 70), st.sampled_from([b"", b"1"])),
    # a valid body with a few of its bytes replaced by any bytes
    st.builds(
        lambda data, at, junk: data[:at] + junk + data[at + len(junk):],
        st.builds(_encoded, st.sampled_from(ALL_SEEDS), st.sampled_from(["json", "yaml"])),
        st.integers(0, 400),
        st.binary(min_size=1, max_size=4),
    ),
)


def _depth(doc: Any) -> int:
    if isinstance(doc, dict):
        return 1 + max(map(_depth, doc.values()), default=0)
    if isinstance(doc, list):
        return 1 + max(map(_depth, doc), default=0)
    return 0


def _plain(doc: Any) -> bool:
    if isinstance(doc, dict):
        return all(isinstance(k, (str, int, float, bool)) or k is None for k in doc) and all(
            map(_plain, doc.values()))
    if isinstance(doc, list):
        return all(map(_plain, doc))
    return doc is None or isinstance(doc, (str, int, float, bool))


@FUZZ
@given(body=bodies, content_type=st.one_of(st.sampled_from(CONTENT_TYPES), st.text(max_size=30)),
       max_size=st.sampled_from([16, 256, 1024 * 1024]))
def test_decode_body_answers_a_document_or_a_body_error(body: bytes, content_type: str | None,
                                                        max_size: int) -> None:
    try:
        doc, fmt = decode_body(body, content_type, max_size=max_size)
    except BodyError as e:
        assert e.status in (400, 413, 415), e.status
        assert e.status != 413 or len(body) > max_size
        assert len(body) <= max_size or e.status == 413, "the size is checked before anything else"
        refusal(e)
        return
    assert len(body) <= max_size
    assert fmt in (codec.JSON, codec.YAML)
    assert _plain(doc), "only JSON's types: null, booleans, numbers, strings, lists, mappings"
    assert _depth(doc) <= MAX_DEPTH
    # a lone surrogate is a 400 naming the field: what is read is Unicode text throughout
    json.dumps(doc, ensure_ascii=False).encode("utf-8")


@FUZZ
@given(doc=documents("request"))
def test_parse_request_answers_yes_or_no(doc: Any) -> None:
    parsed(parse_request(doc, now=NOW))


@FUZZ
@given(doc=documents("request2023"))
def test_parse_request_2023_answers_yes_or_no(doc: Any) -> None:
    parsed(parse_request_2023(doc, now=NOW))


@FUZZ
@given(doc=documents("update"))
def test_parse_update_answers_a_phase_or_an_update_error(doc: Any) -> None:
    try:
        phase = parse_update(doc)
    except UpdateError as e:
        refusal(e)
        return
    assert isinstance(phase, Phase)


@FUZZ
@given(doc=documents("offer2023"))
def test_parse_offer_update_2023_answers_a_status_or_a_value_error(doc: Any) -> None:
    try:
        phase, ident = parse_offer_update_2023(doc)
    except ValueError as e:
        refusal(e)
        return
    assert phase in (Phase.ACCEPTED, Phase.REJECTED)
    assert ident is None or isinstance(ident, str)


@FUZZ
@given(doc=documents("report"))
def test_parse_report_answers_a_message_or_a_report_error(doc: Any) -> None:
    try:
        message = parse_report(doc, NOW)
    except ReportError as e:
        refusal(e)
        return
    assert isinstance(message, Message)
    assert message.level in ("DEBUG", "INFO", "WARN", "ERROR")
    assert 0 < len(message.message) <= 2000
    answerable(message.to_dict())
    validate(message.to_dict(), "Message")


@FUZZ
@given(doc=documents("snapshot"), fmt=st.sampled_from(["json", "yaml"]))
def test_snapshot_bodies_give_files_or_a_400(doc: Any, fmt: str) -> None:
    """``POST snapshots`` reads its body with decode_body, then parse_files: together they give files
    of UTF-8 text under plain names, or an error answered 400."""
    try:
        files = parse_files(decode_body(_encoded(doc, fmt), None, max_size=2**30)[0])
    except (BodyError, SnapshotBodyError) as e:
        assert not isinstance(e, BodyError) or e.status == 400
        refusal(e)
        return
    assert 1 <= len(files) <= 4
    for name, text in files.items():
        assert name not in ("", ".", "..") and "/" not in name and "\\" not in name
        (name + text).encode("utf-8")


# -- the strategies reach what they are meant to ------------------------------------------------------


@pytest.mark.parametrize(
    "reader,check",
    [
        ("request", lambda doc: parse_request(doc, now=NOW).ok),
        ("request2023", lambda doc: parse_request_2023(doc, now=NOW).ok),
    ],
)
def test_mutated_documents_are_often_still_requests(reader: str, check: Callable[[Any], bool]) -> None:
    """Mutations of the seeds must not all be refused at the door, or the fuzzing above would only
    ever see the first check of each reader."""
    seen: list[bool] = []

    @settings(max_examples=100, deadline=None, derandomize=True, database=None)
    @given(doc=mutated(SEEDS[reader]))
    def collect(doc: Any) -> None:
        seen.append(bool(check(doc)))

    collect()
    assert 10 <= sum(seen) < len(seen), (sum(seen), len(seen))
