"""Malformed and hostile request bodies, shared by the layers that fuzz the broker with them: the
property-based tests of the readers (tests/unit/test_fuzz_readers.py), and the hostile inputs sent
over real HTTP (tests/e2e/test_hostile_bodies.py, tests/e2e/test_schemathesis.py).

Everything here is deterministic: the same corpus, in the same order, on every run.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from brokers import E2E_SETTINGS
from hubprocess import RealHub

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"

BILLION_LAUGHS = "\n".join(
    ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    + [f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)}]"
       for i in range(8)]
)

HOSTILE = {
    "invalid-yaml": ("application/yaml", b"executable: [unclosed\n  - : :"),
    "invalid-json": ("application/json", b'{"executable": '),
    "alias-bomb": ("application/yaml", BILLION_LAUGHS.encode()),
    "python-tag": ("application/yaml", b"!!python/object/apply:os.system ['echo pwned']"),
    "deep-json": ("application/json", b"[" * 100_000 + b"]" * 100_000),
    "deep-yaml": ("application/yaml", b"a: " + b"[" * 50_000 + b"]" * 50_000),
    "twenty-mb": ("application/json", b'{"pad": "' + b"x" * (20 * 1024 * 1024) + b'"}'),
    "not-utf8": ("application/json", b'{"executable": "\xff\xfe"}'),
    "empty": ("application/json", b""),
    "scalar": ("application/json", b"42"),
    "list": ("application/json", b"[1, 2, 3]"),
    "null": ("application/yaml", b"~"),
    "xml": ("application/xml", b"<offers-request/>"),
    "two-yaml-docs": ("application/yaml", b"a: 1\n---\nb: 2\n"),
}

# -- the valid documents every hostile variant starts from -------------------------------------------

TYPES_2023 = "https://www.purl.org/ivoa.net/executable-types"
COMPUTE_2023 = "https://www.purl.org/ivoa.net/resource-types/generic-compute"


def example(name: str) -> Any:
    """One of the shipped examples (examples/*.yaml), as a document."""
    return yaml.safe_load((EXAMPLES / name).read_text(encoding="utf-8"))


def example_requests() -> dict[str, dict[str, Any]]:
    """The shipped ExecutionRequest examples, by file name."""
    return {name: example(name) for name in ("notebook.yaml", "scheduled.yaml", "session.yaml")}


REQUEST_2023: dict[str, Any] = {  # the 2023 draft's notebook-with-a-GPU example, with a start window
    "request": {
        "name": "train",
        "executable": {
            "name": "train",
            "type": f"{TYPES_2023}/jupyter-notebook",
            "spec": {
                "notebook": "https://example.org/notebooks/train.ipynb",
                "requirements": "https://example.org/notebooks/requirements.txt",
            },
        },
        "resources": {
            "compute": [
                {
                    "name": "compute-001",
                    "type": COMPUTE_2023,
                    "spec": {
                        "mincores": 1,
                        "minmemory": 1,
                        "extras": [{"name": "nvidia-gpu", "type": "https://tinyurl.com/nvidia-ad104"}],
                    },
                }
            ]
        },
        "datetime": [{"start": "2026-12-01T11:30:00Z/PT30M", "minduration": "PT1H"}],
    }
}
OFFER_UPDATE_2023: dict[str, Any] = {"offer": {"ident": "<the offer's uuid>", "status": "REJECTED"}}
SNAPSHOT: dict[str, Any] = {
    "files": {
        "analysis.ipynb": '{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}',
        "requirements.txt": "numpy\n",
    }
}
REPORT: dict[str, Any] = {"level": "INFO", "message": "fetching notebook", "failed": False}

# -- hostile values ---------------------------------------------------------------------------------

# a lone high and a lone low surrogate, one inside text, and the first half of an emoji's pair: JSON
# carries each as a \u escape, and decoded they are strings that cannot be encoded as UTF-8
SURROGATES = ("\ud800", "\udfff", "x\udc80y", "\ud83d")

# a wrong type or an absurd value, for any field
WRONG_VALUES: dict[str, Any] = {
    "null": None,
    "true": True,
    "zero": 0,
    "negative": -1,
    "int64-overflow": 2**63,
    "googol": 10**100,
    "float": 1.5,
    "nan": float("nan"),
    "infinity": float("inf"),
    "empty-string": "",
    "huge-string": "x" * 200_000,
    "empty-list": [],
    "empty-mapping": {},
    "nested-lists": [[[[]]]],
    "mapping": {"kind": {"kind": {"kind": "x"}}},
    "surrogate": "\ud800",
}

# bytes that are not UTF-8: a stray byte, a bad continuation, a surrogate's UTF-8 (CESU-8) form, a code
# point past U+10FFFF, an overlong "/", a lone continuation byte
INVALID_UTF8 = {
    "ff": b"\xff",
    "bad-continuation": b"\xc3\x28",
    "cesu-surrogate": b"\xed\xa0\x80",
    "past-10ffff": b"\xf4\x90\x80\x80",
    "overlong-slash": b"\xc0\xaf",
    "lone-continuation": b"\x80",
}

MIB = 1024 * 1024

# -- walking documents ------------------------------------------------------------------------------

Path_ = tuple[Any, ...]  # keys and list indexes from the root


def node_paths(doc: Any, prefix: Path_ = ()) -> Iterator[Path_]:
    """The path of every value below the root, parents before children."""
    if isinstance(doc, dict):
        items: Any = doc.items()
    elif isinstance(doc, list):
        items = enumerate(doc)
    else:
        return
    for key, value in items:
        yield (*prefix, key)
        yield from node_paths(value, (*prefix, key))


def string_spots(doc: Any) -> list[tuple[Path_, bool]]:
    """``(path, is_key)`` of every string in ``doc``: each string value, and each mapping key."""
    spots = []
    for path in node_paths(doc):
        if isinstance(path[-1], str):
            spots.append((path, True))
        if isinstance(get(doc, path), str):
            spots.append((path, False))
    return spots


def get(doc: Any, path: Path_) -> Any:
    for step in path:
        doc = doc[step]
    return doc


def replaced(doc: Any, path: Path_, value: Any) -> Any:
    """A copy of ``doc`` with the value at ``path`` replaced."""
    result = copy.deepcopy(doc)
    get(result, path[:-1])[path[-1]] = value
    return result


def renamed(doc: Any, path: Path_, key: str) -> Any:
    """A copy of ``doc`` with the key at ``path`` renamed (the mapping keeps its order)."""
    result = copy.deepcopy(doc)
    parent = get(result, path[:-1])
    items = [(key if k == path[-1] else k, v) for k, v in parent.items()]
    parent.clear()
    parent.update(items)
    return result


def spoiled(text: str, bad: str) -> str:
    """``text`` with ``bad`` put in its middle."""
    middle = len(text) // 2
    return text[:middle] + bad + text[middle:]


def show_path(path: Path_) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".") or "$"


# -- bodies -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Body:
    """One hostile request body: what it is, its Content-Type (None: no header), its bytes."""

    label: str
    content_type: str | None
    data: bytes


def as_json(doc: Any) -> bytes:
    """JSON with ASCII escapes: a lone surrogate travels as ``\\ud800``; NaN and Infinity as Python
    writes them (not JSON, but what a careless client sends)."""
    return json.dumps(doc, ensure_ascii=True).encode("ascii")


def as_yaml(doc: Any) -> bytes:
    """YAML as PyYAML writes it: a lone surrogate as a ``"\\uD800"`` escape."""
    return yaml.safe_dump(doc, allow_unicode=False, sort_keys=False).encode("ascii")


ENCODINGS: dict[str, tuple[str, Callable[[Any], bytes]]] = {
    "json": ("application/json", as_json),
    "yaml": ("application/yaml", as_yaml),
}


def surrogate_bodies(name: str, doc: Any, formats: tuple[str, ...] = ("json", "yaml")) -> list[Body]:
    """``doc`` with each of its strings in turn (values and keys) given a lone surrogate."""
    bodies = []
    for i, (path, is_key) in enumerate(string_spots(doc)):
        bad = SURROGATES[i % len(SURROGATES)]
        if is_key:
            variant = renamed(doc, path, spoiled(path[-1], bad))
        else:
            variant = replaced(doc, path, spoiled(get(doc, path), bad))
        where = f"{name}:{'key ' if is_key else ''}{show_path(path)}"
        for fmt in formats:
            content_type, encode = ENCODINGS[fmt]
            bodies.append(Body(f"surrogate {where} ({fmt})", content_type, encode(variant)))
    return bodies


def wrong_type_bodies(name: str, doc: Any, values: tuple[str, ...] | None = None) -> list[Body]:
    """``doc`` with each of its values in turn replaced by each wrong value (JSON)."""
    bodies = []
    for path in node_paths(doc):
        for label in values or tuple(WRONG_VALUES):
            variant = replaced(doc, path, WRONG_VALUES[label])
            bodies.append(Body(f"wrong {name}:{show_path(path)}={label}", "application/json",
                               as_json(variant)))
    return bodies


def invalid_utf8_bodies(name: str, doc: Any) -> list[Body]:
    """``doc`` as JSON and as YAML with each invalid UTF-8 sequence in its first and its last string."""
    spots = [path for path, is_key in string_spots(doc) if not is_key]
    marker = "QQinvalidQQ"
    bodies = []
    for path in dict.fromkeys([spots[0], spots[-1]]):
        for fmt, (content_type, encode) in ENCODINGS.items():
            text = encode(replaced(doc, path, spoiled(get(doc, path), marker)))
            for label, bad in INVALID_UTF8.items():
                bodies.append(Body(f"not-utf8 {name}:{show_path(path)}={label} ({fmt})", content_type,
                                   text.replace(marker.encode(), bad)))
    return bodies


def structure_bodies(name: str, doc: Any) -> list[Body]:
    """Deep nesting, huge strings and odd Content-Types around ``doc``."""
    bodies = []
    for depth in (63, 64, 65, 1000, 200_000):
        bodies.append(Body(f"deep-json-lists {depth}", "application/json", b"[" * depth + b"]" * depth))
        nested = b'{"a":' * depth + b"1" + b"}" * depth
        bodies.append(Body(f"deep-json-mappings {depth}", "application/json", nested))
        bodies.append(Body(f"deep-yaml-flow {depth}", "application/yaml", b"[" * depth + b"]" * depth))
        if depth <= 1000:
            block = "".join(f"{' ' * i}a:\n" for i in range(depth)) + " " * depth + "b: 1\n"
            bodies.append(Body(f"deep-yaml-block {depth}", "application/yaml", block.encode()))
    under = max(0, MIB - len(as_json({**doc, "pad": ""})) - 64)
    for label, size in (("just under", under), ("just over", MIB)):
        padded = as_json({**doc, "pad": "x" * size})
        bodies.append(Body(f"huge-string {label} 1 MiB", "application/json", padded))
    bodies.append(Body("huge-key", "application/json", as_json({"k" * 500_000: doc})))
    bodies.append(Body("many-keys", "application/json", as_json({f"k{i}": i for i in range(50_000)})))
    # one bad item after another: each gets its message (and must not take the service long)
    bodies.append(Body("long-list", "application/json", as_json({**doc, "data": [{}] * 10_000})))
    bodies.append(Body("huge-number", "application/json", b'{"n": 1' + b"0" * 5000 + b"}"))
    bodies.append(Body("huge-exponent", "application/json", b'{"n": 1e999999}'))
    bodies.append(Body("nan-literal", "application/json", b'{"n": NaN, "m": -Infinity}'))
    bodies.append(Body("yaml-anchor-only", "application/yaml", b"a: &x 1\nb: 2\n"))
    bodies.append(Body("yaml-merge-key", "application/yaml", b"a: &x {k: 1}\nb:\n  <<: *x\n"))
    bodies.append(Body("yaml-binary-tag", "application/yaml", b"a: !!binary aGVsbG8=\n"))
    bodies.append(Body("yaml-set-tag", "application/yaml", b"a: !!set {x, y}\n"))
    bodies.append(Body("yaml-timestamp", "application/yaml", b"a: 2026-11-24T15:00:00Z\n"))
    bodies.append(Body("yaml-complex-key", "application/yaml", b"? [a, b]\n: c\n"))
    bodies.append(Body("yaml-tab-indent", "application/yaml", b"a:\n\t- b\n"))
    bodies.append(Body("yaml-bom", "application/yaml", b"\xef\xbb\xbf" + as_yaml(doc)))
    bodies.append(Body("json-bom", "application/json", b"\xef\xbb\xbf" + as_json(doc)))
    bodies.append(Body("utf16-json", "application/json", json.dumps(doc).encode("utf-16")))
    bodies.append(Body("nul-bytes", "application/json", as_json(doc).replace(b'"', b'"\x00', 1)))
    bodies.append(Body("trailing-garbage", "application/json", as_json(doc) + b"}}garbage"))
    bodies.append(Body("duplicate-keys", "application/json", b'{"a": 1, "a": 2, ' + as_json(doc)[1:]))
    for content_type in (None, "", "text/plain", "application/octet-stream", "*/*", "application/xml",
                         "multipart/form-data; boundary=x", "application/json; charset=latin-1",
                         "application/json; charset=utf-16", "application/yaml; charset=\"utf-8\"",
                         "application/vnd.ivoa+json", "application/x-www-form-urlencoded",
                         ";;;=;", "a" * 4000):
        bodies.append(Body(f"content-type {content_type!r:.60}", content_type, as_json(doc)))
    return bodies


def hostile_table() -> list[Body]:
    """:data:`HOSTILE`, as bodies."""
    return [Body(f"hostile {label}", content_type, data) for label, (content_type, data) in HOSTILE.items()]


@cache
def oversized() -> Body:
    """The body over every limit: the service's (1 MiB), the snapshots' (twice 20 MiB), and the 64 MiB
    that tornado would read into memory at most. Made once, when first asked for."""
    return Body("oversized 70 MiB", "application/json", b'{"pad": "' + b"x" * (70 * MIB) + b'"}')


# -- a hub of their own for the fuzzing tests -------------------------------------------------------

# The e2e hub's settings, and certainly without the per-user limit of requests per minute: a thousand
# requests from one user would otherwise be answered 429 after the first 60, and test nothing past it.
FUZZ_SETTINGS: dict[str, Any] = {**E2E_SETTINGS, "limit_requests_per_minute": 0}


def start_fuzz_hub(folder: Path) -> RealHub:
    """A real hub (proxy, SQLite, hub-managed broker) with :data:`FUZZ_SETTINGS`."""
    return RealHub.start(folder, settings=FUZZ_SETTINGS)


def service_url(hub: RealHub) -> str:
    """The broker's own URL, behind the proxy (from the hub's log: "Starting managed service
    execplanner at http://127.0.0.1:PORT"), for what the proxy would not pass on."""
    assert hub.log_path is not None
    found = re.search(rf"Starting managed service {hub.service_name} at (http://[^\s]+)",
                      hub.log_path.read_text(errors="replace"))
    assert found, "the hub did not log where it started the broker"
    return f"{found.group(1).rstrip('/')}/services/{hub.service_name}/"

# what the service must never log while it is fuzzed: an unhandled exception (a 500, or an error
# after the answer was sent), or a handler that answered twice
LOG_PROBLEMS = ("Traceback (most recent call last)", "Uncaught exception", "finish() called twice",
                "500 POST", "500 GET", "500 DELETE")


def log_problems(text: str) -> list[str]:
    """The lines of a hub's log (hub, proxy and service) that show one of :data:`LOG_PROBLEMS`."""
    return [line for line in text.splitlines() if any(p in line for p in LOG_PROBLEMS)]
