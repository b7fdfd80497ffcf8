"""One page of a JupyterHub list call: its items and where the next page starts, or why the answer
cannot be followed."""

from __future__ import annotations

from typing import Any

import pytest

from jupyterhub_execplanner.worker.hubapi import read_page

A, B = {"name": "a"}, {"name": "b"}


def page(items: list[Any], offset: int, limit: int, total: int, nxt: Any = "auto") -> dict[str, Any]:
    if nxt == "auto":
        nxt = {"offset": offset + limit, "limit": limit, "url": "..."} if offset + limit < total else None
    return {"items": items, "_pagination": {"offset": offset, "limit": limit, "total": total, "next": nxt}}


ROWS: list[tuple[str, Any, int, list[Any], tuple[int, int] | None]] = [
    ("a last page", page([A, B], 0, 5, 2), 0, [A, B], None),
    ("a first page of two", page([A, B], 0, 2, 3), 0, [A, B], (2, 2)),
    ("the hub's limit, not ours", page([A], 4, 1, 9, {"offset": 5, "limit": 1}), 4, [A], (5, 1)),
    ("an empty page", page([], 0, 5, 0), 0, [], None),
    ("items that are not models are left out", page([A, "x", None, 3], 0, 5, 4), 0, [A], None),
    ("no _pagination: the last page", {"items": [A]}, 0, [A], None),
    ("a plain list: a hub that does not paginate", [A, B, "x"], 0, [A, B], None),
]


@pytest.mark.parametrize(("doc", "offset", "items", "following"), [r[1:] for r in ROWS],
                         ids=[r[0] for r in ROWS])
def test_read_page(doc: Any, offset: int, items: list[Any], following: tuple[int, int] | None) -> None:
    assert read_page(doc, offset) == (items, following)


BAD: list[tuple[str, Any, int, str]] = [
    ("not a page", {"users": []}, 0, "neither a list nor a page"),
    ("a string", "users", 0, "neither a list nor a page"),
    ("a next page that stays", page([A], 5, 5, 20, {"offset": 5, "limit": 5}), 5, "does not follow 5"),
    ("a next page that goes back", page([A], 5, 5, 20, {"offset": 0, "limit": 5}), 5, "does not follow"),
    ("a next page without an offset", page([A], 0, 5, 20, {"limit": 5}), 0, "does not follow"),
    ("a next page with a zero limit", page([A], 0, 5, 20, {"offset": 5, "limit": 0}), 0, "limit is 0"),
    ("a next page that is a URL only", page([A], 0, 5, 20, "https://hub/next"), 0, "the next page is"),
]


@pytest.mark.parametrize(("doc", "offset", "message"), [r[1:] for r in BAD], ids=[r[0] for r in BAD])
def test_read_page_refuses(doc: Any, offset: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        read_page(doc, offset)
