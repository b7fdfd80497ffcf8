"""Reading a value deep inside a parsed document that may not have the expected shape."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any


def dig(value: Any, *keys: Any) -> Any:
    """``value[k1][k2]…`` through mappings (string keys) and lists (int keys), or None as soon as a
    step does not fit: a missing key, an index past the end, or a value of another type."""
    for key in keys:
        if isinstance(key, int) and isinstance(value, list | tuple) and len(value) > key:
            value = value[key]
        elif isinstance(value, Mapping) and not isinstance(key, int):
            value = value.get(key)
        else:
            return None
    return value


def section(value: Any, *keys: Any) -> Mapping[str, Any]:
    """The mapping at ``value[k1][k2]…`` (as :func:`dig` finds it), or an empty one when there is
    none there or what is there is not a mapping: for reading optional parts of a document."""
    found = dig(value, *keys)
    return found if isinstance(found, Mapping) else {}


def is_uuid(value: Any) -> bool:
    """Whether ``value`` is a UUID in one of its string forms."""
    try:
        uuid.UUID(value)
    except (ValueError, AttributeError, TypeError):
        return False
    return True
