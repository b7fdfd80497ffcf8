"""Parse the quantities a hub's configuration is written in, without importing kubernetes.

* CPU: cores (``2``, ``0.5``, ``"2"``) or Kubernetes millicores (``"500m"``) -> float cores.
* Memory: bytes (``4294967296``, ``"4294967296"``) or a number with a suffix -> float GiB. The
  suffixes ``K``, ``M``, ``G``, ``T`` are 1024-based, as in JupyterHub's ``ByteSpecification``
  (what KubeSpawner's ``mem_limit``/``mem_guarantee`` use), so ``"4G"`` is 4 GiB; the Kubernetes
  binary suffixes ``Ki`` .. ``Ei`` mean the same; ``P`` and ``E`` follow ``K`` .. ``T``.
  Kubernetes' decimal ``k`` and milli-bytes ``m`` are refused rather than guessed.
* Counts: a whole, non-negative number (``1``, ``"2"``, ``2.0``) -> int.
* Durations: a :class:`~datetime.timedelta`, seconds, or ISO 8601 (``"PT8H"``) -> timedelta, by the
  rules of :mod:`~jupyterhub_execplanner.model.timing` (the same for settings, profiles and requests).

Every parser raises ValueError naming the value and the forms it accepts.
"""

from __future__ import annotations

import math
import re
from datetime import timedelta
from typing import Any

from ..model import timing

GIB = 1024**3

_BINARY = {"K": 1, "M": 2, "G": 3, "T": 4, "P": 5, "E": 6}
_MEMORY = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([KMGTPE])(i?)\s*$")
_CPU_FORMS = "a number of cores (2, 0.5, '2') or millicores ('500m')"
_MEMORY_FORMS = (
    "a number of bytes (4294967296) or a number with a suffix K, M, G, T (1024-based, as "
    "JupyterHub's ByteSpecification) or Ki, Mi, Gi, Ti ('4G', '4Gi', '512M', '1.5Ti')"
)
_COUNT_FORMS = "a whole number (1, '2')"


def _finite(number: float, value: Any, forms: str) -> float:
    if not math.isfinite(number) or number < 0:
        raise ValueError(f"{value!r} is not a valid quantity: use {forms}, not negative")
    return number


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def parse_cpu(value: Any) -> float:
    """Cores as a float: ``2``, ``0.5``, ``"2"``, ``"500m"`` (0.5)."""
    if _is_number(value):
        return _finite(float(value), value, _CPU_FORMS)
    if isinstance(value, str):
        text = value.strip()
        scale = 1.0
        if text.endswith("m"):
            text, scale = text[:-1], 0.001
        try:
            number = float(text)
        except ValueError:
            pass
        else:
            return _finite(number * scale, value, _CPU_FORMS)
    raise ValueError(f"{value!r} is not a valid CPU quantity: use {_CPU_FORMS}")


def parse_memory(value: Any) -> float:
    """GiB as a float: bytes as a number or string, or a number with a 1024-based suffix."""
    if _is_number(value):
        return _finite(float(value), value, _MEMORY_FORMS) / GIB
    if isinstance(value, str):
        text = value.strip()
        try:
            number = float(text)
        except ValueError:
            match = _MEMORY.match(text)
            if match:
                number = float(match.group(1)) * 1024 ** _BINARY[match.group(2)]
                return _finite(number, value, _MEMORY_FORMS) / GIB
        else:
            return _finite(number, value, _MEMORY_FORMS) / GIB
    raise ValueError(f"{value!r} is not a valid memory quantity: use {_MEMORY_FORMS}")


def parse_count(value: Any) -> int:
    """A whole, non-negative count: ``1``, ``"2"``, ``2.0``."""
    number: float | None = None
    if _is_number(value):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    if number is None or not math.isfinite(number) or number < 0 or number != int(number):
        raise ValueError(f"{value!r} is not a valid count: use {_COUNT_FORMS}")
    return int(number)


def parse_duration(value: Any) -> timedelta:
    """A duration of zero or more, by the one rule of :mod:`~jupyterhub_execplanner.model.timing`: a
    timedelta, seconds (a number or a string of one) or ISO 8601 (no months or years)."""
    return timing.parse_duration(value, zero=True)


format_duration = timing.format_duration
