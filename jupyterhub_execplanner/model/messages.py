"""Messages in the Execution Broker's MessageItem shape.

A message has a ``kind`` (a URI or ``urn:``/``uri:`` identifier saying what went wrong), a ``level``
(DEBUG, INFO, WARN, ERROR, OTHER), a ``template`` with ``${name}`` placeholders (messagetemplates.org
style, as the standard's reference broker writes them), the ``values`` that fill it, the ``time`` it
was made, and the rendered ``message``. Messages that explain a NO name the path of the field in the
request (``values["path"]``) and say how to fix it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from . import timing

LEVELS = ("DEBUG", "INFO", "WARN", "ERROR", "OTHER")

_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def render_template(template: str, values: dict[str, str]) -> str:
    """Fill ``${name}`` placeholders from ``values``; unknown names are left as written."""
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), template)


def utcnow() -> datetime:
    """The current time, timezone-aware UTC. Patch this module attribute in tests."""
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class Message:
    """One MessageItem. ``values`` are strings, as the standard's NameValueMap requires."""

    kind: str
    level: str
    template: str
    values: dict[str, str] = field(default_factory=dict)
    time: datetime | None = None

    @property
    def message(self) -> str:
        return render_template(self.template, self.values)

    @property
    def is_error(self) -> bool:
        """True for the levels that make a request unanswerable (ERROR, and WARN as the standard uses it)."""
        return self.level in ("ERROR", "WARN")

    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"kind": self.kind}
        if self.time is not None:
            doc["time"] = format_time(self.time)
        doc["level"] = self.level
        doc["template"] = self.template
        doc["values"] = dict(self.values)
        doc["message"] = self.message
        return doc

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Message:
        time = doc.get("time")
        return cls(
            kind=str(doc.get("kind", "")),
            level=str(doc.get("level", "INFO")),
            template=str(doc.get("template", doc.get("message", ""))),
            values={str(k): str(v) for k, v in (doc.get("values") or {}).items()},
            time=parse_time(time) if isinstance(time, str) else None,
        )


def make(kind: str, level: str, template: str, *, at: datetime | None = None, **values: Any) -> Message:
    """Build a message, stringifying the values. It is stamped ``at`` that time (the caller's clock;
    pure code passes the ``now`` it was given), else with the current time. (The stamp is not called
    ``time`` or ``now``: templates use both as value names.)"""
    if level not in LEVELS:
        raise ValueError(f"message level must be one of {LEVELS}, not {level!r}")
    values = {k: _stringify(v) for k, v in values.items()}
    return Message(kind, level, template, values, utcnow() if at is None else at)


def error(kind: str, template: str, *, at: datetime | None = None, **values: Any) -> Message:
    return make(kind, "ERROR", template, at=at, **values)


def warn(kind: str, template: str, *, at: datetime | None = None, **values: Any) -> Message:
    return make(kind, "WARN", template, at=at, **values)


def info(kind: str, template: str, *, at: datetime | None = None, **values: Any) -> Message:
    return make(kind, "INFO", template, at=at, **values)


def _stringify(value: Any) -> str:
    if isinstance(value, datetime):
        return format_time(value)
    return str(value)


def format_time(value: datetime) -> str:
    """ISO 8601 UTC with a ``Z``, to the second (what every offer and message carries)."""
    return timing.format_instant(value)


def parse_time(value: str) -> datetime:
    """Parse an ISO 8601 instant; a missing zone is UTC. Raises ValueError."""
    return timing.parse_instant(value)


# Message kinds this service emits. Keep the list here so docs and tests can name them.
UNKNOWN_KIND = "uri:unknown-type"
MISSING_VALUE = "urn:missing-value"
INVALID_VALUE = "urn:invalid-value"
SYNTAX = "urn:input-syntax-fail"
NOT_SUPPORTED = "urn:not-supported"
RESOURCE_LIMIT = "urn:resource-limit"
NO_CAPACITY = "urn:no-capacity"
EXECUTABLE_REQUIRED = "urn:executable-required"
DUPLICATE = "urn:duplicate-resource"
NOT_FOUND = "urn:resource-not-found"
SCHEDULE = "urn:schedule-unsatisfiable"
COST_LIMIT = "urn:cost-limit"
METRIC_LIMIT = "urn:metric-limit"
PLATFORM = "urn:platform-unavailable"
TOO_MANY = "urn:execplanner:too-many-problems"
