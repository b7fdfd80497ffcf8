"""The panel's ``POST execplanner/ask`` body, checked, and the v1.0 ExecutionRequest made from it.

Pure functions: :func:`parse_ask` raises :class:`~.hubs.FieldError` naming the field and the fix;
:func:`build_request` gives the document sent to every chosen hub.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ..model import kinds as K
from ..model.schedule import format_duration, format_instant, parse_instant
from .hubs import FieldError

DEFAULT_DURATION = 3600
MAX_TIMEOUT = 120.0
GPU_RESOURCE = "nvidia.com/gpu"


@dataclass(frozen=True)
class Ask:
    hubs: tuple[str, ...]
    path: str
    cores: tuple[int, int]
    memory: tuple[int, int]
    gpus: int
    duration: int  # seconds
    earliest: datetime | None
    latest: datetime | None
    timeout: float


def _positive_int(value: Any, field: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
        raise FieldError(f"{field} must be a whole number, not {value!r}.")
    if value < minimum:
        raise FieldError(f"{field} must be at least {minimum}, not {value!r}.")
    return int(value)


def _range(doc: dict[str, Any], field: str) -> tuple[int, int]:
    value = doc.get(field)
    if value is None:
        raise FieldError(f"{field} is missing: give {{\"min\": 1, \"max\": 2}} ({field} wanted).")
    if not isinstance(value, dict):
        value = {"min": value}
    low = _positive_int(value.get("min"), f"{field}.min")
    high = value.get("max")
    high = low if high is None else _positive_int(high, f"{field}.max")
    if high < low:
        raise FieldError(f"{field}.max ({high}) is less than {field}.min ({low}): raise max or lower min.")
    return low, high


def _instant(value: Any, field: str) -> datetime | None:
    if value in (None, ""):
        return None
    try:
        return parse_instant(value)
    except ValueError as e:
        raise FieldError(f"{field} {value!r} is not an ISO 8601 instant like 2026-11-24T15:00:00Z.") from e


def parse_ask(doc: Any, default_timeout: float) -> Ask:
    """The ask body, checked; FieldError naming the field and the fix."""
    if not isinstance(doc, dict):
        raise FieldError('The body must be an object: {"hubs": [...], "path": "...", ...}.')
    hubs = doc.get("hubs")
    if not isinstance(hubs, list) or not hubs or not all(isinstance(h, str) and h for h in hubs):
        raise FieldError("hubs must be a list of at least one hub name (from GET execplanner/hubs).")
    path = doc.get("path")
    if not isinstance(path, str) or not path.strip("/ "):
        raise FieldError("path is missing: give the notebook's path, like 'work/analysis.ipynb'.")
    path = path.strip().strip("/")
    if not path.endswith(".ipynb"):
        raise FieldError(f"path {path!r} is not a notebook: give the path of an .ipynb file.")
    if ".." in path.split("/"):
        raise FieldError(f"path {path!r} has '..' in it: give a path inside the server's root.")
    gpus = doc.get("gpus", 0)
    gpus = 0 if gpus is None else _positive_int(gpus, "gpus", 0)
    duration = doc.get("duration", DEFAULT_DURATION)
    duration = DEFAULT_DURATION if duration is None else _positive_int(duration, "duration", 60)
    start = doc.get("start") or {}
    if not isinstance(start, dict):
        raise FieldError('start must be an object: {"earliest": ISO 8601 or null, "latest": ...}.')
    earliest = _instant(start.get("earliest"), "start.earliest")
    latest = _instant(start.get("latest"), "start.latest")
    if earliest and latest and latest < earliest:
        raise FieldError("start.latest is before start.earliest: swap them or widen the window.")
    timeout = doc.get("timeout", default_timeout)
    if timeout is None:
        timeout = default_timeout
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout <= MAX_TIMEOUT:
        raise FieldError(f"timeout must be seconds between 0 and {MAX_TIMEOUT:g}, not {timeout!r}.")
    names = tuple(dict.fromkeys(hubs))  # asked once each, in the order given
    return Ask(names, path, _range(doc, "cores"), _range(doc, "memory"), gpus, duration,
               earliest, latest, float(timeout))  # fmt: skip


def _window(ask: Ask, now: datetime) -> str | None:
    if ask.earliest is None and ask.latest is None:
        return None
    earliest = ask.earliest or now
    if ask.latest is None or ask.latest == earliest:
        return format_instant(earliest)
    return f"{format_instant(earliest)}/{format_instant(ask.latest)}"


def build_request(
    ask: Ask, notebook_url: str, requirements_url: str | None, now: datetime
) -> dict[str, Any]:
    """The v1.0 ExecutionRequest for ``ask``, running the notebook at ``notebook_url``."""
    name = posixpath.splitext(posixpath.basename(ask.path))[0] or "notebook"
    executable: dict[str, Any] = {
        "kind": K.kind_uri("executable", K.JUPYTER_NOTEBOOK),
        "meta": {"name": name, "description": f"{ask.path}, sent from JupyterLab"},
        "location": notebook_url,
    }
    if requirements_url:
        executable["requirements"] = requirements_url
    compute: dict[str, Any] = {
        "kind": K.kind_uri("compute", K.SIMPLE_COMPUTE),
        "cores": {"min": ask.cores[0], "max": ask.cores[1]},
        "memory": {"min": ask.memory[0], "max": ask.memory[1]},
    }
    if ask.gpus:
        compute["accelerators"] = [
            {"resource": GPU_RESOURCE, "count": {"min": ask.gpus, "max": ask.gpus}}
        ]
    requested: dict[str, Any] = {"duration": format_duration(timedelta(seconds=ask.duration))}
    window = _window(ask, now)
    if window:
        requested["start"] = window
    return {
        "name": name,
        "executable": executable,
        "compute": compute,
        "schedule": {"requested": requested},
    }
