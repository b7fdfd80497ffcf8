"""Request bodies in, answers out: JSON and YAML, safely.

A body is read as YAML when its ``Content-Type`` says YAML, as JSON when it says JSON, and is
sniffed (JSON if it parses as JSON, else YAML) when there is no type or a generic one
(``text/plain``, ``application/octet-stream``, ``application/x-www-form-urlencoded``, ``*/*``). Any
other declared type is refused (415). Bodies over ``max_size`` are refused (413) before anything
else is looked at.

YAML is read with :class:`SafeYamlLoader` (``yaml.CSafeLoader`` when PyYAML has libyaml): a first
pass over the parser's events refuses anchors and aliases (no alias bombs), tags other than the
plain JSON-like ones (``!!python/object`` and the like), more than one document, and collections
nested more than :data:`MAX_DEPTH` deep -- before any node is composed, so a hostile document cannot
exhaust the stack. Timestamps are left as strings, so JSON and YAML give the same document. JSON
nesting is checked after parsing (and a RecursionError from the parser is answered as too deep).
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

import yaml

MAX_DEPTH = 64
JSON = "json"
YAML = "yaml"
JSON_TYPES = ("application/json", "text/json")
YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")
SNIFFED_TYPES = (
    "",
    "*/*",
    "text/plain",
    "application/octet-stream",
    "application/x-www-form-urlencoded",
)
CHARSETS = ("utf-8", "utf8", "us-ascii", "ascii")
CONTENT_TYPES = {
    JSON: "application/json; charset=utf-8",
    YAML: "application/yaml; charset=utf-8",
}
_PLAIN_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null", "map", "seq")
)
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_BOOL = "tag:yaml.org,2002:bool"
ALIAS_MESSAGE = "YAML aliases (*name) are not accepted; write the value out"
# UTF-16 surrogates: "\\ud800" in JSON or YAML decodes to one, which is not a Unicode character and
# cannot be encoded as UTF-8 (so it could never be answered, stored as text or sent on)
_SURROGATE = re.compile("[\ud800-\udfff]")

if TYPE_CHECKING:  # the C loader, when PyYAML has it, behaves as the Python one
    _BaseLoader = yaml.SafeLoader
else:
    _BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_Dumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class BodyError(ValueError):
    """A body we cannot read. ``status`` is the HTTP code: 400, 413 or 415."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class SafeYamlLoader(_BaseLoader):
    """PyYAML's safe loader, with YAML 1.2's plain scalars: timestamps stay strings and only
    ``true``/``false`` are booleans (YAML 1.1 would read ``result: NO`` as ``False`` and an ISO 8601
    instant as a ``datetime``). The one YAML reader of the service, the client and the CLI. Use
    :func:`load_yaml`, which also refuses anchors, aliases, unusual tags and deep nesting."""


SafeYamlLoader.yaml_implicit_resolvers = {
    first: [(tag, pattern) for tag, pattern in resolvers if tag not in (_TIMESTAMP, _BOOL)]
    for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
}
SafeYamlLoader.add_implicit_resolver(
    _BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def _too_deep() -> BodyError:
    return BodyError(
        400, f"the document is nested more than {MAX_DEPTH} levels deep; send a flatter document"
    )


def scan_yaml(text: str) -> None:
    """Refuse anchors, aliases, unusual tags, several documents and deep nesting, event by event, before
    anything is built (BodyError, 400). :func:`load_yaml` calls it; so does the broker client before
    it reads a broker's YAML answer with its own resolvers."""
    loader: Any = SafeYamlLoader(text)  # PyYAML's event API has no types
    depth = documents = 0
    try:
        while True:
            event = loader.get_event()
            if event is None or isinstance(event, yaml.StreamEndEvent):
                return
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                # an anchor is only ever there to be aliased: refuse it as the alias it announces
                raise BodyError(400, ALIAS_MESSAGE)
            tag = getattr(event, "tag", None)
            if tag and tag not in _PLAIN_TAGS and tag not in ("!", "?"):
                raise BodyError(
                    400,
                    f"the YAML tag {tag[:80]} is not accepted; write plain strings, numbers, "
                    "booleans, lists and mappings",
                )
            if isinstance(event, yaml.DocumentStartEvent):
                documents += 1
                if documents > 1:
                    raise BodyError(400, "the body holds more than one YAML document; send one")
            elif isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    raise _too_deep()
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except yaml.YAMLError as exc:
        if "nesting depth" in str(exc):  # libyaml's own limit, met while scanning ahead
            raise _too_deep() from exc
        raise BodyError(400, f"the body is not valid YAML: {_short(exc)}") from exc
    finally:
        loader.dispose()


def _short(exc: BaseException, limit: int = 300) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def load_yaml(text: str) -> Any:
    """One YAML document, checked by :func:`scan_yaml` first. Raises BodyError (400)."""
    scan_yaml(text)
    loader = SafeYamlLoader(text)
    try:
        return loader.get_single_data()
    except (yaml.YAMLError, ValueError, TypeError, RecursionError) as exc:
        raise BodyError(400, f"the body is not valid YAML: {_short(exc)}") from exc
    finally:
        loader.dispose()


def _check_depth(doc: Any) -> None:
    stack = [(doc, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise _too_deep()
        children = node.values() if isinstance(node, dict) else node
        stack.extend((c, depth + 1) for c in children if isinstance(c, (dict, list)))


def load_json(text: str) -> Any:
    """One JSON document, nested at most MAX_DEPTH deep. Raises BodyError (400)."""
    try:
        doc = json.loads(text)
    except RecursionError as exc:
        raise _too_deep() from exc
    except ValueError as exc:
        raise BodyError(400, f"the body is not valid JSON: {_short(exc)}") from exc
    if isinstance(doc, (dict, list)):
        _check_depth(doc)
    return doc


def _media(value: str) -> tuple[str, dict[str, str]]:
    kind, *params = value.split(";")
    found = {}
    for param in params:
        name, _, setting = param.partition("=")
        found[name.strip().lower()] = setting.strip().strip('"').lower()
    return kind.strip().lower(), found


def _is_json(media: str) -> bool:
    return media in JSON_TYPES or (media.startswith("application/") and media.endswith("+json"))


def _is_yaml(media: str) -> bool:
    return media in YAML_TYPES or (media.startswith("application/") and media.endswith("+yaml"))


def declared_format(content_type: str | None) -> str | None:
    """``json`` or ``yaml`` as the Content-Type says, None to sniff; BodyError 415 otherwise."""
    media, params = _media(content_type or "")
    charset = params.get("charset")
    if charset is not None and charset not in CHARSETS:
        raise BodyError(415, f"the charset {charset[:40]} is not accepted; send UTF-8")
    if _is_json(media):
        return JSON
    if _is_yaml(media):
        return YAML
    if media in SNIFFED_TYPES:
        return None
    raise BodyError(
        415,
        f"Content-Type {media[:80]} is not accepted; send JSON ({', '.join(JSON_TYPES)}) or YAML "
        f"({', '.join(YAML_TYPES)}, application/*+yaml)",
    )


def decode_body(
    body: bytes, content_type: str | None, *, max_size: int,
    empty_hint: str = "an ExecutionRequest as JSON or YAML",
) -> tuple[Any, str]:
    """The document in ``body`` and the format it was in (``json`` or ``yaml``).

    Raises BodyError: 413 over ``max_size``, 415 for a type we do not read, 400 for anything
    unreadable. A YAML scalar is returned as it is (the request parser then asks for a mapping).
    """
    if len(body) > max_size:
        raise BodyError(
            413,
            f"the body is {len(body)} bytes, over this service's limit of {max_size} bytes; "
            "send a smaller document",
        )
    declared = declared_format(content_type)
    if not body.strip():
        raise BodyError(400, f"empty body: send {empty_hint}")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BodyError(
            400, f"the body is not UTF-8 text (bad byte at offset {exc.start}); send UTF-8"
        ) from exc
    text = text.removeprefix("\ufeff")
    if declared == JSON:
        return check_text(load_json(text)), JSON
    if declared == YAML:
        return check_text(load_yaml(text)), YAML
    try:
        doc = json.loads(text)
    except RecursionError as exc:
        raise _too_deep() from exc
    except ValueError:
        return check_text(load_yaml(text)), YAML
    if isinstance(doc, (dict, list)):
        _check_depth(doc)
    return check_text(doc), JSON


def _path(parent: str, key: object) -> str:
    """``parent.key`` for a plain name, ``parent[0]`` for an index, ``parent['a.ipynb']`` else."""
    if isinstance(key, int):
        return f"{parent}[{key}]"
    name = str(key)
    if name.isidentifier():
        return f"{parent}.{name}" if parent else name
    return f"{parent}[{name[:80]!r}]"


def surrogate_path(doc: Any) -> str | None:
    """The path (``executable.location``, ``data[0].name``) of the first string in ``doc`` -- a value
    or a key -- that holds a lone surrogate, or None when every string is Unicode text."""
    stack: list[tuple[str, Any]] = [("", doc)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, str):
            if _SURROGATE.search(node):
                return path or "$"
        elif isinstance(node, dict):
            for key, value in reversed(list(node.items())):
                if isinstance(key, str) and _SURROGATE.search(key):
                    return _path(path, _SURROGATE.sub("?", key))
                stack.append((_path(path, key), value))
        elif isinstance(node, list):
            stack.extend((_path(path, i), v) for i, v in reversed(list(enumerate(node))))
    return None


def check_text(doc: Any) -> Any:
    """``doc`` if every string in it is Unicode text; BodyError (400) naming the first field with a
    lone surrogate otherwise."""
    path = surrogate_path(doc)
    if path is not None:
        raise BodyError(
            400,
            f"{path} holds a lone UTF-16 surrogate (such as \\ud800), which is not a Unicode "
            "character: send that field as valid Unicode text",
        )
    return doc


def scrub(doc: Any) -> Any:
    """``doc`` with every lone surrogate in its strings replaced by U+FFFD (for answers only)."""
    if isinstance(doc, str):
        return _SURROGATE.sub("\ufffd", doc)
    if isinstance(doc, dict):
        return {scrub(k): scrub(v) for k, v in doc.items()}
    if isinstance(doc, (list, tuple)):
        return [scrub(v) for v in doc]
    return doc


def _quality(params: dict[str, str]) -> float:
    try:
        q = float(params.get("q", "1"))
    except ValueError:
        return 1.0
    return min(max(q, 0.0), 1.0) if q == q else 0.0


def choose_format(accept: str | None, request_format: str | None) -> str:
    """The format to answer in: what ``Accept`` prefers (q-values count; ties and wildcards go to
    the request's own format), else the request's format, else JSON."""
    fallback = request_format if request_format in (JSON, YAML) else JSON
    explicit: dict[str, float] = {}
    wildcard: dict[str, float] = {}
    for part in (accept or "").split(","):
        media, params = _media(part)
        q = _quality(params)
        if _is_json(media):
            explicit[JSON] = max(explicit.get(JSON, 0.0), q)
        elif _is_yaml(media):
            explicit[YAML] = max(explicit.get(YAML, 0.0), q)
        elif media in ("*/*", "application/*"):
            for fmt in (JSON, YAML):
                wildcard[fmt] = max(wildcard.get(fmt, 0.0), q)
        elif media == "text/*":
            wildcard[YAML] = max(wildcard.get(YAML, 0.0), q)
    scores = {fmt: explicit.get(fmt, wildcard.get(fmt, 0.0)) for fmt in (JSON, YAML)}
    best = max(scores.values())
    if best <= 0:
        return fallback
    tied = [fmt for fmt, score in scores.items() if score == best]
    return fallback if fallback in tied else tied[0]


def _text(doc: Any, fmt: str) -> str:
    if fmt == JSON:
        return json.dumps(doc, separators=(",", ":"), ensure_ascii=False)
    if fmt == YAML:
        return str(yaml.dump(doc, Dumper=_Dumper, sort_keys=False, allow_unicode=True))
    raise ValueError(f"unknown format {fmt!r}; use {JSON!r} or {YAML!r}")


def encode(doc: Any, fmt: str) -> tuple[bytes, str]:
    """``(body, content type)`` for ``doc`` in ``fmt`` (``json`` or ``yaml``). A lone surrogate that
    reached a document anyway (a row stored by an older version) is answered as U+FFFD, never as an
    error: one bad string must not make a whole listing fail."""
    try:
        return _text(doc, fmt).encode("utf-8"), CONTENT_TYPES[fmt]
    except UnicodeEncodeError:
        return _text(scrub(doc), fmt).encode("utf-8"), CONTENT_TYPES[fmt]
