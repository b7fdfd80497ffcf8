"""Update bodies for POST sessions/{uuid}."""

from __future__ import annotations

from typing import Any

import pytest

from jupyterhub_execplanner.model.phases import Phase
from jupyterhub_execplanner.model.update import UpdateError, parse_update


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        # the shared examples/accept.yaml
        ({"kind": "uri:enum-value-update", "path": "phase", "value": "ACCEPTED"}, Phase.ACCEPTED),
        ({"kind": "uri:enum-value-update", "path": "phase", "value": "REJECTED"}, Phase.REJECTED),
        (
            {"kind": "uri:enum-value-update", "path": "/phase", "value": "cancelled"},
            Phase.CANCELLED,
        ),
        ({"kind": "uri:enum-value-update", "path": "state", "value": " Accepted "}, Phase.ACCEPTED),
        ({"kind": "uri:enum-value-update", "path": "/state", "value": "REJECTED"}, Phase.REJECTED),
        ({"type": "uri:enum-value-update", "path": "phase", "value": "ACCEPTED"}, Phase.ACCEPTED),
        (
            {"update": {"type": "uri:enum-value-update", "path": "/phase", "value": "CANCELLED"}},
            Phase.CANCELLED,
        ),
        # any phase name parses; the manager decides whether it is allowed
        ({"kind": "uri:enum-value-update", "path": "phase", "value": "COMPLETED"}, Phase.COMPLETED),
    ],
)
def test_parse_update(doc: Any, expected: Phase) -> None:
    assert parse_update(doc) is expected


@pytest.mark.parametrize(
    ("doc", "words"),
    [
        (None, "must be a mapping"),
        ([], "must be a mapping"),
        ("ACCEPTED", "must be a mapping"),
        ({"path": "phase", "value": "ACCEPTED"}, "no kind"),
        (
            {"kind": "uri:string-value-update", "path": "phase", "value": "X"},
            "uri:enum-value-update",
        ),
        ({"kind": 7, "path": "phase", "value": "ACCEPTED"}, "not supported"),
        ({"kind": "uri:enum-value-update", "path": "expires", "value": "ACCEPTED"}, "use phase"),
        ({"kind": "uri:enum-value-update", "value": "ACCEPTED"}, "use phase"),
        ({"kind": "uri:enum-value-update", "path": "phase", "value": "DONE"}, "ACCEPTED, REJECTED"),
        ({"kind": "uri:enum-value-update", "path": "phase"}, "not a phase"),
        ({"kind": "uri:enum-value-update", "path": "phase", "value": 1}, "not a phase"),
        ({"update": "ACCEPTED"}, "no kind"),
    ],
)
def test_parse_update_errors(doc: Any, words: str) -> None:
    with pytest.raises(UpdateError) as info:
        parse_update(doc)
    assert words in str(info.value)
    assert isinstance(info.value, ValueError)
