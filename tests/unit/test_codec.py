"""Reading bodies (JSON, YAML, sniffed; hostile ones refused) and writing answers."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any

import pytest

from jupyterhub_execplanner.model.codec import (
    ALIAS_MESSAGE,
    BodyError,
    choose_format,
    decode_body,
    encode,
)
from jupyterhub_execplanner.model.draft2023 import parse_request_2023
from jupyterhub_execplanner.model.parse import parse_request
from jupyterhub_execplanner.model.phases import Phase
from jupyterhub_execplanner.model.update import parse_update

MIB = 1 << 20
NOW = datetime(2026, 11, 24, 15, 0, tzinfo=timezone.utc)
KINDS = "https://www.purl.org/ivoa.net/Calycopis-openapi/schema/v1.0/kinds"

# ---- the example files of the shared examples, as sent over the wire ---------------------------

NOTEBOOK_YAML = f"""\
# Run a notebook with its requirements, 1-2 cores, 1-4 GiB, for an hour, as soon as possible.
executable:
  kind: "{KINDS}/executable/jupyter-notebook.yaml"
  meta:
    name: "analysis"
  location: "https://example.org/notebooks/analysis.ipynb"
  requirements: "https://example.org/notebooks/requirements.txt"   # extension field (2023 draft)
compute:
  kind: "{KINDS}/compute/simple-compute-resource.yaml"
  meta:
    name: "compute-001"
  cores:
    min: 1
    max: 2
  memory:
    min: 1
    max: 4
schedule:
  requested:
    duration: "PT1H"
"""
CONTAINER_YAML = f"""\
# A container with a volume for its input data (needs a platform that runs containers).
executable:
  kind: "{KINDS}/executable/docker-container.yaml"
  meta:
    name: "checksum"
  image:
    locations:
      - "ghcr.io/example/checksum:1.0"
    digest: "sha256:0000000000000000000000000000000000000000000000000000000000000000"
compute:
  kind: "{KINDS}/compute/simple-compute-resource.yaml"
  volumes:
    - kind: "{KINDS}/volume/simple-volume-mount.yaml"
      path: "/input"
      mode: "READONLY"
      resource: "input-data"
data:
  - kind: "{KINDS}/data/simple-data-resource.yaml"
    meta:
      name: "input-data"
    location: "https://example.org/data/image.fits"
"""
SCHEDULED_YAML = f"""\
# Start between 22:00 and 23:00 UTC on a given day, for at least two hours.
executable:
  kind: "{KINDS}/executable/jupyter-notebook.yaml"
  location: "https://example.org/notebooks/analysis.ipynb"
compute:
  kind: "{KINDS}/compute/simple-compute-resource.yaml"
  cores:
    min: 1
schedule:
  requested:
    start: "2026-12-01T22:00:00Z/PT1H"
    duration: "PT2H"
"""
SESSION_YAML = f"""\
# No notebook: just give me a Jupyter session with at least 2 GiB.
executable:
  kind: "{KINDS}/executable/jupyter-notebook.yaml"
compute:
  kind: "{KINDS}/compute/simple-compute-resource.yaml"
  memory:
    min: 2
"""
GPU_2023_YAML = """\
# The 2023 ExecutionPlanner draft format (POST to .../request): a notebook that needs a GPU.
request:
  executable:
    type: "https://www.purl.org/ivoa.net/executable-types/jupyter-notebook"
    spec:
      notebook: "https://example.org/notebooks/train.ipynb"
      requirements: "https://example.org/notebooks/requirements.txt"
  resources:
    compute:
    - name: "compute-001"
      type: "https://www.purl.org/ivoa.net/resource-types/generic-compute"
      spec:
        mincores: 4
        minmemory: 16
        extras:
        - name: "nvidia-gpu"
          type: "https://tinyurl.com/nvidia-ad104"
  datetime:
  - start: "2026-12-01T11:30:00Z/PT30M"
    minduration: "PT1H"
"""
ACCEPT_YAML = """\
# POST to .../sessions/{uuid} to accept an offer (use REJECTED or CANCELLED likewise).
kind: "uri:enum-value-update"
path: "phase"
value: "ACCEPTED"
"""


@pytest.mark.parametrize(
    ("text", "content_type", "check"),
    [
        (NOTEBOOK_YAML, "application/yaml", lambda r: r.compute.memory.max == 4),
        (CONTAINER_YAML, "text/yaml", lambda r: r.compute.volumes[0].resource == "input-data"),
        (SCHEDULED_YAML, None, lambda r: r.schedule.start_latest.hour == 23),
        (SESSION_YAML, "application/x-yaml", lambda r: r.compute.memory.min == 2),
    ],
    ids=["notebook", "container", "scheduled", "session"],
)
def test_example_files_decode_and_parse(text: str, content_type: str | None, check: Any) -> None:
    doc, fmt = decode_body(text.encode(), content_type, max_size=MIB)
    assert fmt == "yaml"
    result = parse_request(doc, now=NOW)
    assert result.ok and check(result.request)


def test_2023_and_update_examples_decode() -> None:
    doc, _ = decode_body(GPU_2023_YAML.encode(), "application/yaml", max_size=MIB)
    result = parse_request_2023(doc, now=NOW)
    assert result.ok and result.request is not None
    assert result.request.compute.accelerators[0].name == "nvidia-gpu"
    update, fmt = decode_body(ACCEPT_YAML.encode(), None, max_size=MIB)
    assert (parse_update(update), fmt) == (Phase.ACCEPTED, "yaml")


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        (b'{"a": 1}', "application/json", ({"a": 1}, "json")),
        (b'{"a": 1}', "application/json; charset=utf-8", ({"a": 1}, "json")),
        (b'{"a": 1}', "Application/JSON; Charset=UTF-8", ({"a": 1}, "json")),
        (b'{"a": 1}', "application/problem+json", ({"a": 1}, "json")),
        (b'{"a": 1}', "text/json", ({"a": 1}, "json")),
        (b'{"a": 1}', "application/yaml", ({"a": 1}, "yaml")),
        (b"a: 1", "application/yaml", ({"a": 1}, "yaml")),
        (b"a: 1", "application/x-yaml", ({"a": 1}, "yaml")),
        (b"a: 1", "text/yaml", ({"a": 1}, "yaml")),
        (b"a: 1", "text/x-yaml", ({"a": 1}, "yaml")),
        (b"a: 1", "application/vnd.ivoa.eb+yaml", ({"a": 1}, "yaml")),
        (b'{"a": [1, 2.5, null, true]}', None, ({"a": [1, 2.5, None, True]}, "json")),
        (b"a: [1, 2.5, null, true]", None, ({"a": [1, 2.5, None, True]}, "yaml")),
        (b"{kind: x}", None, ({"kind": "x"}, "yaml")),  # YAML flow style, not JSON
        (b'{"a": 1}', "text/plain", ({"a": 1}, "json")),
        (b"a: 1", "text/plain; charset=us-ascii", ({"a": 1}, "yaml")),
        (b"a: 1", "application/octet-stream", ({"a": 1}, "yaml")),
        (b'{"a": 1}', "application/x-www-form-urlencoded", ({"a": 1}, "json")),
        (b"a: 1", "*/*", ({"a": 1}, "yaml")),
        (b"a: 1", "", ({"a": 1}, "yaml")),
        (b"hello", None, ("hello", "yaml")),  # a bare scalar: the parser asks for a mapping
        (b"42", None, (42, "json")),
        (b"- a\n- b\n", None, (["a", "b"], "yaml")),
        (b'\xef\xbb\xbf{"a": 1}', None, ({"a": 1}, "json")),  # UTF-8 byte order mark
        ("name: \u00e9t\u00e9 \u2603".encode(), None, ({"name": "\u00e9t\u00e9 \u2603"}, "yaml")),
        (b"start: 2026-12-01T22:00:00Z", None, ({"start": "2026-12-01T22:00:00Z"}, "yaml")),
        (b"day: 2023-08-09", "application/yaml", ({"day": "2023-08-09"}, "yaml")),
        (b"a: !!str 5", None, ({"a": "5"}, "yaml")),
        (b"---\na: 1\n...\n", None, ({"a": 1}, "yaml")),
        (b"# only a comment\n", None, (None, "yaml")),
    ],
)
def test_decode(body: bytes, content_type: str | None, expected: tuple[Any, str]) -> None:
    assert decode_body(body, content_type, max_size=MIB) == expected


def depth(doc: Any) -> int:
    levels = 0
    while isinstance(doc, list):
        levels += 1
        doc = doc[0] if doc else None
    return levels


@pytest.mark.parametrize(
    ("body", "content_type", "fmt"),
    [
        (b"[" * 64 + b"]" * 64, None, "json"),
        (b"[" * 64 + b"]" * 64, "application/json", "json"),
        (b"[" * 64 + b"]" * 64, "application/yaml", "yaml"),
        (b"- " * 63 + b"[]", "application/yaml", "yaml"),
    ],
)
def test_64_levels_are_accepted(body: bytes, content_type: str | None, fmt: str) -> None:
    doc, found = decode_body(body, content_type, max_size=MIB)
    assert (depth(doc), found) == (64, fmt)


BILLION_LAUGHS = b"""\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


@pytest.mark.parametrize(
    ("body", "content_type", "status", "words"),
    [
        (BILLION_LAUGHS, "application/yaml", 400, ALIAS_MESSAGE),
        (BILLION_LAUGHS, None, 400, ALIAS_MESSAGE),
        (b"a: &x 1\nb: *x\n", None, 400, ALIAS_MESSAGE),
        (b"x" * (20 * MIB), "application/yaml", 413, "1048576 bytes"),
        (b"{" + b" " * (20 * MIB) + b"}", "application/json", 413, "send a smaller document"),
        (b"[" * 10_000 + b"]" * 10_000, "application/json", 400, "64 levels"),
        (b"[" * 10_000 + b"]" * 10_000, None, 400, "64 levels"),
        (b"[" * 100_000, None, 400, "64 levels"),
        (b'{"a":' * 10_000 + b"1" + b"}" * 10_000, None, 400, "64 levels"),
        (b"[" * 10_000 + b"]" * 10_000, "application/yaml", 400, "64 levels"),
        (b"- " * 10_000 + b"x", "application/yaml", 400, "64 levels"),
        ("\n".join(" " * i + "a:" for i in range(1000)).encode(), None, 400, "64 levels"),
        (b"a: \xff\xfe", None, 400, "not UTF-8"),
        (b"\x80abc", "application/json", 400, "not UTF-8"),
        (b"a: 1", "text/plain; charset=latin-1", 415, "UTF-8"),
        (b"a: [1, 2", "application/yaml", 400, "not valid YAML"),
        (b"a: b: c", None, 400, "not valid YAML"),
        (b"\ta: 1", None, 400, "not valid YAML"),
        (b"{a: 1}", "application/json", 400, "not valid JSON"),
        (b"1" * 5000, "application/json", 400, "not valid JSON"),
        (b"a: " + b"1" * 5000, "application/yaml", 400, "not valid YAML"),
        (b"!!python/object/apply:os.system ['echo hi']", "application/yaml", 400, "tag"),
        (b"a: !!python/name:os.system", None, 400, "tag"),
        (b"a: !!python/object:collections.OrderedDict {}", None, 400, "tag"),
        (b"a: !custom x", None, 400, "tag"),
        (b"a: !!binary aGVsbG8=", None, 400, "tag"),
        (b"a: !!set {x, y}", None, 400, "tag"),
        (b"---\na: 1\n---\nb: 2\n", None, 400, "more than one YAML document"),
        (b"", None, 400, "empty body: send an ExecutionRequest as JSON or YAML"),
        (b"  \n\t\n", "application/yaml", 400, "empty body"),
        (b"<request/>", "application/xml", 415, "application/json"),
        (b"<html/>", "text/html", 415, "application/yaml"),
        (b"a=1", "multipart/form-data; boundary=x", 415, "not accepted"),
    ],
    ids=[
        "billion-laughs",
        "billion-laughs-sniffed",
        "alias",
        "20MB-yaml",
        "20MB-json",
        "deep-json",
        "deep-json-sniffed",
        "unclosed-100k",
        "deep-json-objects",
        "deep-yaml-flow",
        "deep-yaml-block-seq",
        "deep-yaml-block-map",
        "bad-utf8",
        "bad-utf8-json",
        "latin1",
        "bad-yaml",
        "bad-yaml-2",
        "tab-indent",
        "bad-json",
        "json-huge-int",
        "yaml-huge-int",
        "python-apply",
        "python-name",
        "python-object",
        "local-tag",
        "binary",
        "set",
        "two-documents",
        "empty",
        "blank",
        "xml",
        "html",
        "multipart",
    ],
)
def test_hostile_bodies(body: bytes, content_type: str | None, status: int, words: str) -> None:
    started = time.monotonic()
    with pytest.raises(BodyError) as info:
        decode_body(body, content_type, max_size=MIB)
    assert info.value.status == status
    assert words in str(info.value)
    assert isinstance(info.value, ValueError)
    assert time.monotonic() - started < 2


@pytest.mark.parametrize(
    ("size", "limit", "status"),
    [(100, 100, None), (101, 100, 413), (MIB, MIB, None), (MIB + 1, MIB, 413)],
)
def test_size_limit_is_inclusive(size: int, limit: int, status: int | None) -> None:
    body = b'"' + b"x" * (size - 2) + b'"'
    if status is None:
        doc, fmt = decode_body(body, "application/json", max_size=limit)
        assert (len(doc), fmt) == (size - 2, "json")
    else:
        with pytest.raises(BodyError) as info:
            decode_body(body, "application/json", max_size=limit)
        assert info.value.status == status
        assert str(limit) in str(info.value)


def test_size_is_checked_before_the_type() -> None:
    with pytest.raises(BodyError) as info:
        decode_body(b"x" * 200, "application/xml", max_size=100)
    assert info.value.status == 413


@pytest.mark.parametrize(
    ("accept", "request_format", "expected"),
    [
        (None, None, "json"),
        (None, "yaml", "yaml"),
        ("", "json", "json"),
        ("", "yaml", "yaml"),
        ("application/yaml", None, "yaml"),
        ("application/yaml", "json", "yaml"),
        ("application/x-yaml", None, "yaml"),
        ("text/yaml", "json", "yaml"),
        ("text/x-yaml", None, "yaml"),
        ("APPLICATION/YAML", None, "yaml"),
        ("application/json", "yaml", "json"),
        ("application/json; charset=utf-8", "yaml", "json"),
        ("*/*", "yaml", "yaml"),
        ("*/*", "json", "json"),
        ("*/*", None, "json"),
        ("application/*", "yaml", "yaml"),
        ("text/*", None, "yaml"),
        ("application/json;q=0.5, application/yaml", None, "yaml"),
        ("application/yaml;q=0.1, application/json;q=0.9", "yaml", "json"),
        ("application/json;q=0, */*", None, "yaml"),
        ("application/yaml;q=0, */*;q=0.5", "yaml", "json"),
        ("application/json, application/yaml", "yaml", "yaml"),  # a tie: the request's format
        ("application/json, application/yaml", None, "json"),
        ("text/html, */*;q=0.1", "yaml", "yaml"),
        ("text/html", "yaml", "yaml"),  # nothing we write: answer anyway, in the request's format
        ("text/html", None, "json"),
        ("application/yaml;q=abc", None, "yaml"),
        ("application/yaml;q=0.8, application/json;q=0.8, */*;q=1", "yaml", "yaml"),
    ],
)
def test_choose_format(accept: str | None, request_format: str | None, expected: str) -> None:
    assert choose_format(accept, request_format) == expected


DOC = {"kind": "x", "meta": {"name": "\u00e9t\u00e9", "n": [1, 2.5, None, True]}, "a": "b"}


def test_encode_json() -> None:
    body, content_type = encode(DOC, "json")
    assert content_type == "application/json; charset=utf-8"
    expected = '{"kind":"x","meta":{"name":"\u00e9t\u00e9","n":[1,2.5,null,true]},"a":"b"}'
    assert body == expected.encode()


def test_encode_yaml() -> None:
    body, content_type = encode(DOC, "yaml")
    assert content_type == "application/yaml; charset=utf-8"
    text = body.decode()
    assert text.index("kind:") < text.index("meta:") < text.index("a: b")  # order kept
    assert "\u00e9t\u00e9" in text
    assert "&" not in text and "*" not in text
    assert decode_body(body, content_type, max_size=MIB) == (DOC, "yaml")


def test_encode_unknown_format() -> None:
    with pytest.raises(ValueError, match="unknown format"):
        encode(DOC, "xml")


@pytest.fixture
def pure_codec(monkeypatch: pytest.MonkeyPatch) -> Any:
    """A copy of the codec module built without libyaml (PyYAML's pure-Python loader)."""
    import importlib.util

    import yaml

    from jupyterhub_execplanner.model import codec

    monkeypatch.delattr(yaml, "CSafeLoader", raising=False)
    monkeypatch.delattr(yaml, "CSafeDumper", raising=False)
    spec = importlib.util.spec_from_file_location("codec_without_libyaml", codec.__file__)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.SafeYamlLoader.__mro__[1] is yaml.SafeLoader
    return module


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (BILLION_LAUGHS, ALIAS_MESSAGE),
        (b"[" * 10_000 + b"]" * 10_000, "64 levels"),
        (b"- " * 10_000 + b"x", "64 levels"),
        (b"a: !!python/name:os.system", "tag"),
        (b"---\na: 1\n---\nb: 2\n", "more than one"),
    ],
)
def test_protection_without_libyaml(pure_codec: Any, body: bytes, words: str) -> None:
    with pytest.raises(pure_codec.BodyError) as info:
        pure_codec.decode_body(body, "application/yaml", max_size=MIB)
    assert info.value.status == 400
    assert words in str(info.value)


def test_pure_loader_reads_examples(pure_codec: Any) -> None:
    doc, fmt = pure_codec.decode_body(CONTAINER_YAML.encode(), None, max_size=MIB)
    assert fmt == "yaml" and doc["data"][0]["meta"]["name"] == "input-data"
    body, _ = pure_codec.encode(doc, "yaml")
    assert pure_codec.decode_body(body, None, max_size=MIB) == (doc, "yaml")
