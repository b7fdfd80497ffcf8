"""What the snapshot of a notebook carries: by default its cells without their outputs, so that a
notebook opens on the other hub as a fresh one (an old ``ModuleNotFoundError`` does not travel with it).
Pure functions, no I/O."""

from __future__ import annotations

import json
from typing import Any


def clear_outputs(text: str) -> str:
    """The notebook ``text`` with every code cell's outputs and execution count cleared; the text
    as it is when it is not a notebook (the hub then says what is wrong with it)."""
    try:
        doc: Any = json.loads(text)
    except ValueError:
        return text
    cells = doc.get("cells") if isinstance(doc, dict) else None
    if not isinstance(cells, list):
        return text
    changed = False
    for cell in cells:
        if isinstance(cell, dict) and cell.get("cell_type") == "code":
            if cell.get("outputs") or cell.get("execution_count") is not None:
                changed = True
            cell["outputs"] = []
            cell["execution_count"] = None
    if not changed:
        return text
    return json.dumps(doc, indent=1, ensure_ascii=False) + "\n"


def output_count(text: str) -> int:
    """How many outputs the notebook ``text`` holds (0 when it is not a notebook)."""
    try:
        doc: Any = json.loads(text)
    except ValueError:
        return 0
    cells = doc.get("cells") if isinstance(doc, dict) else None
    return sum(
        len(c.get("outputs") or []) if isinstance(c, dict) and isinstance(c.get("outputs"), list) else 0
        for c in (cells if isinstance(cells, list) else [])
    )
