"""The body of ``POST sessions/{uuid}``: an EnumValueUpdate that sets the session's phase.

v1.0 sends the update itself, ``{kind: uri:enum-value-update, path: phase, value: ACCEPTED}``; the
2025 draft wrapped it (``{update: {type: …, path: …, value: …}}``) and the 2024 text called the
field ``state``. All are read. Whether the change is allowed is the session manager's question
(409).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .phases import CLIENT_TARGETS, Phase, parse_phase

ENUM_VALUE_UPDATE = "uri:enum-value-update"
PATHS = ("phase", "/phase", "state", "/state")
EXAMPLE = "{kind: uri:enum-value-update, path: phase, value: ACCEPTED}"


class UpdateError(ValueError):
    """An update body we cannot read; ``str()`` says what was wrong and what is accepted."""


def _show(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:59] + "…"


def parse_update(doc: Any) -> Phase:
    """The phase an update body asks for. Raises UpdateError."""
    if not isinstance(doc, Mapping):
        raise UpdateError(f"the update must be a mapping like {EXAMPLE}, not {_show(doc)}")
    wrapped = doc.get("update")
    if "kind" not in doc and "type" not in doc and isinstance(wrapped, Mapping):
        doc = wrapped
    kind = doc.get("kind", doc.get("type"))
    if kind is None:
        raise UpdateError(f"the update has no kind; send {EXAMPLE}")
    if not isinstance(kind, str) or kind.strip() != ENUM_VALUE_UPDATE:
        raise UpdateError(
            f"the update kind {_show(kind)} is not supported; the only kind accepted is "
            f"{ENUM_VALUE_UPDATE}, e.g. {EXAMPLE}"
        )
    path = doc.get("path")
    if not isinstance(path, str) or path.strip().lower() not in PATHS:
        raise UpdateError(
            f"the update path {_show(path)} is not supported; use phase (or /phase), e.g. {EXAMPLE}"
        )
    phase = parse_phase(doc.get("value"))
    if phase is None:
        settable = ", ".join(p.value for p in CLIENT_TARGETS)
        raise UpdateError(
            f"the update value {_show(doc.get('value'))} is not a phase; "
            f"a client may set {settable}"
        )
    return phase
