"""Reading the fields of a request document while collecting messages.

:class:`Reader` checks one field at a time (a mapping, a list of mappings, a string, a URL, a whole
number, a ``{min, max}`` range, a kind URI, an ISO 8601 window or duration) and, when a field is
wrong, records an ERROR message whose ``values["path"]`` names the field and whose text says how to
fix it. Its methods never raise; they return None for a field they could not read. The v1.0 and 2023
parsers (:mod:`.parse`, :mod:`.draft2023`) are built on it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from . import kinds as K
from . import messages as M
from .messages import Message
from .request import IntRange
from .schedule import OutOfRange, format_instant, parse_duration, parse_interval

MAX_AMOUNT = 1_000_000  # no request asks for more cores, GiB or devices than this
MAX_DEPTH = 64  # deeper parts of echoed fields are dropped
UNREADABLE_TEMPLATE = (
    "The request at ${path} could not be read (${error}); "
    "check it against the ExecutionRequest schema"
)
START_EXAMPLE = "2026-12-01T22:00:00Z/PT1H"


def show(value: Any, limit: int = 120) -> str:
    """A short printable form of any value, for message values."""
    text = value if isinstance(value, str) else _safe_repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _safe_repr(value: Any) -> str:
    try:
        return repr(value)[:1000]
    except Exception:  # a repr of hostile input must not escape
        return f"<{type(value).__name__}>"


def type_name(value: Any) -> str:
    names = {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean"}
    if isinstance(value, Mapping):
        return "a mapping"
    return names.get(type(value), "null" if value is None else f"a {type(value).__name__}")


def plain(value: Any, depth: int = 0) -> Any:
    """A JSON- and YAML-safe copy of ``value``: plain dicts, lists, strings, numbers, booleans."""
    if depth > MAX_DEPTH:
        return None
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Mapping):
        return {str(k): plain(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [plain(v, depth + 1) for v in value]
    if isinstance(value, datetime):
        return format_instant(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return show(value)


def frozen(fields: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(plain(dict(fields)))


def is_url(text: str, schemes: tuple[str, ...] = ("http", "https")) -> bool:
    if not text or any(c.isspace() for c in text):
        return False
    try:
        parts = urlsplit(text)
    except ValueError:
        return False
    return parts.scheme.lower() in schemes and bool(parts.netloc)


def has_scheme(text: str) -> bool:
    """Whether ``text`` looks like a URL or URI (``https://…``, ``file:/…``, ``s3://…``)."""
    if not text or any(c.isspace() for c in text):
        return False
    try:
        return len(urlsplit(text).scheme) > 1
    except ValueError:
        return False


MAX_ITEMS = 100  # items of one list (data, storage, volumes, ...) a request may have
MAX_MESSAGES = 50  # problems one request is told about; the rest are counted


class Reader:
    """Reads fields of a request document, collecting messages. Methods return None on a problem.
    At most :data:`MAX_MESSAGES` problems are kept (a last one says how many more there were), so a
    hostile document cannot make an answer, or the time to build it, grow without bound."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.dropped = 0

    @property
    def failed(self) -> bool:
        return any(m.is_error for m in self.messages)

    def error(self, kind: str, template: str, path: str, /, **values: Any) -> None:
        self._add(M.error(kind, template, path=path, **values))

    def note(self, kind: str, template: str, path: str, /, **values: Any) -> None:
        self._add(M.info(kind, template, path=path, **values))

    def _add(self, message: Message) -> None:
        if len(self.messages) < MAX_MESSAGES:
            self.messages.append(message)
            return
        self.dropped += 1
        if message.is_error and not any(m.kind == M.TOO_MANY for m in self.messages):
            self.messages.append(M.error(M.TOO_MANY, "This request has more problems than the "
                                         "${limit} listed; correct these and send it again.",
                                         path="$", limit=MAX_MESSAGES))

    def mapping(self, value: Any, path: str, example: str) -> Mapping[str, Any] | None:
        """The mapping at ``path`` (None when absent; a message when it is something else)."""
        if value is None or isinstance(value, Mapping):
            return value
        self.error(
            M.SYNTAX,
            "${path} must be a mapping of named fields, not ${type}; write it like ${example}",
            path,
            type=type_name(value),
            example=example,
        )
        return None

    def items(self, value: Any, path: str, example: str) -> list[tuple[str, Mapping[str, Any]]]:
        """``(path, mapping)`` for each item of the list at ``path``."""
        if value is None:
            return []
        if not isinstance(value, (list, tuple)):
            self.error(
                M.SYNTAX,
                "${path} must be a list, not ${type}; write it like [${example}]",
                path,
                type=type_name(value),
                example=example,
            )
            return []
        if len(value) > MAX_ITEMS:
            self.error(
                M.RESOURCE_LIMIT,
                "${path} has ${count} items; this hub reads at most ${limit}",
                path,
                count=len(value),
                limit=MAX_ITEMS,
            )
            return []
        found = []
        for index, item in enumerate(value):
            item_path = f"{path}[{index}]"
            if item is None:
                self.error(
                    M.SYNTAX,
                    "${path} is empty; each item must be a mapping like ${example}",
                    item_path,
                    example=example,
                )
            elif (checked := self.mapping(item, item_path, example)) is not None:
                found.append((item_path, checked))
        return found

    def text(self, value: Any, path: str, *, numbers: bool = False) -> str | None:
        if value is None or isinstance(value, str):
            return value
        if numbers and isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        self.error(
            M.INVALID_VALUE,
            "${path} must be a string, not ${type}; write it in quotes",
            path,
            type=type_name(value),
        )
        return None

    def url(
        self, value: Any, path: str, schemes: tuple[str, ...] = ("http", "https")
    ) -> str | None:
        text = self.text(value, path)
        if text is None:
            return None
        if not is_url(text.strip(), schemes):
            self.error(
                M.INVALID_VALUE,
                "${path} is ${value}, which is not a URL; give an absolute ${schemes} URL such as "
                "https://example.org/analysis.ipynb",
                path,
                value=show(text),
                schemes="/".join(schemes),
            )
            return None
        return text.strip()

    def whole(self, value: Any, path: str, unit: str) -> int | None:
        """A whole number from 1 to MAX_AMOUNT (an integral float such as 2.0 counts)."""
        number: int | None = None
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif isinstance(value, float) and value.is_integer():
            number = int(value)
        if number is None:
            self.error(
                M.INVALID_VALUE,
                "${path} is ${value}, but it must be a whole number (${unit}); write e.g. 2",
                path,
                value=show(value),
                unit=unit,
            )
        elif not 1 <= number <= MAX_AMOUNT:
            self.error(
                M.INVALID_VALUE,
                "${path} is ${value}, but it must be between 1 and ${max} (${unit})",
                path,
                value=number,
                max=MAX_AMOUNT,
                unit=unit,
            )
            number = None
        return number

    def int_range(self, value: Any, path: str, unit: str) -> IntRange | None:
        """``{min, max}``: a missing min is 1, a missing max is min."""
        found = self.mapping(value, path, "{min: 1, max: 2}")
        if found is None:
            return None
        low = 1 if found.get("min") is None else self.whole(found.get("min"), f"{path}.min", unit)
        high_value = found.get("max")
        high = low if high_value is None else self.whole(high_value, f"{path}.max", unit)
        if low is None or high is None:
            return None
        if low > high:
            self.error(
                M.INVALID_VALUE,
                "${path} has min ${min} above max ${max}; "
                "raise max to at least ${min}, or leave it out",
                path,
                min=low,
                max=high,
            )
            return None
        return IntRange(low, high)

    def number(self, value: Any, path: str) -> float | None:
        if value is None:
            return None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            try:
                number = float(value)
            except OverflowError:
                number = math.inf
            if math.isfinite(number):
                return number
        self.error(
            M.INVALID_VALUE,
            "${path} is ${value}, but it must be a number; write e.g. 0.5",
            path,
            value=show(value),
        )
        return None

    def kind(self, value: Any, path: str, group: str, default: str | None = None) -> str | None:
        """The short name of an understood kind of ``group`` (``default`` when absent)."""
        uris = ", ".join(K.group_uris(group))
        if value is None:
            if default is None:
                self.error(
                    M.MISSING_VALUE,
                    "${path} is missing; "
                    "set it to one of the kinds this broker understands: ${kinds}",
                    path,
                    kinds=uris,
                )
            return default
        name = K.understood(value, group)
        if name is None:
            self.error(
                M.UNKNOWN_KIND,
                "${path} is ${value}, a kind this broker does not understand; use one of: ${kinds}",
                path,
                value=show(value),
                kinds=uris,
            )
        return name

    def meta(self, item: Mapping[str, Any], path: str) -> tuple[str | None, str | None]:
        """``(meta.name, meta.description)``."""
        meta = self.mapping(item.get("meta"), f"{path}.meta", "{name: analysis}") or {}
        name = self.text(meta.get("name"), f"{path}.meta.name", numbers=True)
        description = self.text(meta.get("description"), f"{path}.meta.description", numbers=True)
        return name, description


def read_window(
    r: Reader, value: Any, path: str, now: datetime
) -> tuple[datetime | None, datetime | None]:
    """``(start_earliest, start_latest)`` from an ISO 8601 interval, or ``(None, None)``."""
    if value is None:
        return None, None
    try:
        start, end = parse_interval(value)
    except OutOfRange as exc:
        r.error(
            M.INVALID_VALUE,
            "${path} is not a usable start window (${error}); give the window in which to start, "
            "earlier time first, e.g. ${example}",
            path,
            error=str(exc),
            example=START_EXAMPLE,
        )
        return None, None
    except ValueError as exc:
        r.error(
            M.SYNTAX,
            "${path} is not an ISO 8601 interval (${error}); give the window in which to start as "
            "start/duration or start/end, e.g. ${example}",
            path,
            error=str(exc),
            example=START_EXAMPLE,
        )
        return None, None
    if end < now:
        r.error(
            M.INVALID_VALUE,
            "${path} ends at ${end}, so the start window has already passed; give a window that "
            "ends after ${now}, or leave it out to start as soon as possible",
            path,
            end=end,
            now=now,
        )
        return None, None
    return start, end


def read_duration(r: Reader, value: Any, path: str) -> timedelta | None:
    """A request's duration (see :mod:`.schedule`: ISO 8601 text, rounded up to whole seconds)."""
    if value is None:
        return None
    try:
        return parse_duration(value)
    except OutOfRange as exc:
        r.error(M.INVALID_VALUE, "${path} is not a usable duration: ${error}", path, error=str(exc))
    except ValueError as exc:
        r.error(M.SYNTAX, "${path} is not an ISO 8601 duration: ${error}", path, error=str(exc))
    return None
