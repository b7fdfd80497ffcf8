"""The panel's ``POST execplanner/ask`` body, checked, and the v1.0 ExecutionRequest made from it.

Pure functions: :func:`parse_ask` (and :func:`parse_request_ask`, for an ask with a request made by
``POST execplanner/prepare``) raise :class:`~.hubs.FieldError` naming the field and the fix;
:func:`build_request` gives the document sent to every chosen hub.
"""

from __future__ import annotations

import json
import posixpath
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from ..model import kinds as K
from ..model import timing
from ..model.schedule import format_duration, format_instant, parse_instant
from .hubs import FieldError

DEFAULT_DURATION = 3600
MAX_TIMEOUT = 120.0
MAX_REQUEST_SIZE = 1024 * 1024  # bytes of a prepared request (the broker's default max_body_size)
GPU_RESOURCE = "nvidia.com/gpu"
MAX_DATA = 20
DATA_FOLDER = "/data"
DATA_FORMS = ("location", "ivoid", "s3", "rucio")
_DATA_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")


@dataclass(frozen=True)
class DataItem:
    """One data resource the notebook needs: ``form`` is one of :data:`DATA_FORMS` and ``value``
    the URL or ivoid (a string) or the ``{bucket, key}`` / ``{scope, name}`` of an S3 or Rucio object."""

    name: str
    form: str
    value: str | tuple[str, str]


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
    data: tuple[DataItem, ...] = ()
    keep_outputs: bool = False  # send the cells' outputs too (by default they are cleared)


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


def _text(value: Any, field: str, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise FieldError(f"{field} is missing: give {what}.")
    if len(value) > 2000:
        raise FieldError(f"{field} is longer than 2000 characters: give {what}.")
    return value.strip()


def _pair(value: Any, field: str, keys: tuple[str, str], example: str) -> tuple[str, str]:
    if not isinstance(value, dict):
        raise FieldError(f"{field} must be an object like {example}.")
    first = _text(value.get(keys[0]), f"{field}.{keys[0]}", f"the {keys[0]}, as in {example}")
    second = _text(value.get(keys[1]), f"{field}.{keys[1]}", f"the {keys[1]}, as in {example}")
    return first, second


def _data_item(item: Any, where: str) -> DataItem:
    if not isinstance(item, dict):
        raise FieldError(f'{where} must be an object like {{"name": "survey", "location": "https://…"}}.')
    name = item.get("name")
    if not isinstance(name, str) or not _DATA_NAME.fullmatch(name):
        raise FieldError(f"{where}.name must be 1 to 64 letters, digits, '-', '_' or '.' (not starting "
                         f"with '-' or '.'), not {name!r}; it names the folder /data/<name>.")
    forms = [f for f in DATA_FORMS if item.get(f) is not None]
    if len(forms) != 1:
        raise FieldError(f"{where} must have exactly one of location (an http(s) URL), ivoid (ivo://…), "
                         f"s3 ({{bucket, key}}) or rucio ({{scope, name}}); it has "
                         f"{', '.join(forms) or 'none'}.")
    form = forms[0]
    field = f"{where}.{form}"
    value: str | tuple[str, str]
    if form == "location":
        value = _text(item[form], field, "the http(s) URL of the data")
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise FieldError(f"{field} {value!r} is not an http(s) URL: give e.g. "
                             "https://archive.example.org/survey/cat.fits.")
    elif form == "ivoid":
        value = _text(item[form], field, "an IVOA identifier")
        if not value.lower().startswith("ivo://") or len(value) <= len("ivo://"):
            raise FieldError(f"{field} {value!r} is not an IVOA identifier: give e.g. "
                             "ivo://example.org/survey?dr1/cat.fits.")
    elif form == "s3":
        value = _pair(item[form], field, ("bucket", "key"), '{"bucket": "survey", "key": "dr1/cat.fits"}')
        if "/" in value[0]:
            raise FieldError(f"{field}.bucket {value[0]!r} has a '/': give the bucket's name alone.")
    else:
        value = _pair(item[form], field, ("scope", "name"), '{"scope": "survey", "name": "cat.fits"}')
    return DataItem(name, form, value)


def parse_data(value: Any) -> tuple[DataItem, ...]:
    """The ask's ``data``: at most :data:`MAX_DATA` resources with distinct names."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise FieldError('data must be a list like [{"name": "survey", "location": "https://…"}].')
    if len(value) > MAX_DATA:
        raise FieldError(f"data has {len(value)} items; ask for at most {MAX_DATA} data resources.")
    items: list[DataItem] = []
    for i, raw in enumerate(value):
        item = _data_item(raw, f"data[{i}]")
        if any(other.name == item.name for other in items):
            raise FieldError(f"data[{i}].name {item.name!r} is used twice: give each resource its own name.")
        items.append(item)
    return tuple(items)


def parse_hubs(doc: dict[str, Any]) -> tuple[str, ...]:
    """The ask's ``hubs``: at least one name, each asked once, in the order given."""
    hubs = doc.get("hubs")
    if not isinstance(hubs, list) or not hubs or not all(isinstance(h, str) and h for h in hubs):
        raise FieldError("hubs must be a list of at least one hub name (from GET execplanner/hubs).")
    return tuple(dict.fromkeys(hubs))


def _seconds(value: Any, field: str) -> float:
    """A length of time in the ask: seconds (or ISO 8601, by the rules of :mod:`~..model.timing`)."""
    try:
        return timing.parse_seconds(value)
    except timing.TimeError as e:
        raise FieldError(f"{field} = {e.shown} {e.reason}.") from None


def parse_timeout(doc: dict[str, Any], default_timeout: float) -> float:
    """The ask's ``timeout``: seconds each hub gets (``default_timeout`` when not given)."""
    timeout = doc.get("timeout", default_timeout)
    if timeout is None:
        timeout = default_timeout
    wrong = FieldError(f"timeout must be seconds between 0 and {MAX_TIMEOUT:g}, not {timeout!r}.")
    if isinstance(timeout, int | float) and not isinstance(timeout, bool) and not 0 < timeout <= MAX_TIMEOUT:
        raise wrong  # the range first: 0 is out of it, not a malformed length of time
    seconds = _seconds(timeout, "timeout")
    if seconds > MAX_TIMEOUT:
        raise wrong
    return seconds


def parse_duration(value: Any) -> int:
    """The ask's ``duration``: whole seconds (a fraction rounded up, as offers carry them), at least
    60; seconds or ISO 8601."""
    if value is None:
        return DEFAULT_DURATION
    seconds = timing.whole_seconds(timedelta(seconds=_seconds(value, "duration")))
    if seconds.total_seconds() < 60:
        raise FieldError(f"duration must be at least 60 seconds (PT1M), not {value!r}.")
    return int(seconds.total_seconds())


def parse_ask(doc: Any, default_timeout: float, *, with_hubs: bool = True) -> Ask:
    """The ask body, checked; FieldError naming the field and the fix. ``with_hubs=False`` for
    ``POST execplanner/prepare``, whose body has no ``hubs`` (the Ask's ``hubs`` is then empty)."""
    if not isinstance(doc, dict):
        raise FieldError('The body must be an object: {"hubs": [...], "path": "...", ...}.')
    names = parse_hubs(doc) if with_hubs else ()
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
    duration = parse_duration(doc.get("duration"))
    start = doc.get("start") or {}
    if not isinstance(start, dict):
        raise FieldError('start must be an object: {"earliest": ISO 8601 or null, "latest": ...}.')
    earliest = _instant(start.get("earliest"), "start.earliest")
    latest = _instant(start.get("latest"), "start.latest")
    if earliest and latest and latest < earliest:
        raise FieldError("start.latest is before start.earliest: swap them or widen the window.")
    timeout = parse_timeout(doc, default_timeout)
    keep = doc.get("keep_outputs", False)
    if not isinstance(keep, bool):
        raise FieldError(f"keep_outputs must be true or false, not {keep!r}.")
    return Ask(names, path, _range(doc, "cores"), _range(doc, "memory"), gpus, duration,
               earliest, latest, timeout, parse_data(doc.get("data")), keep)  # fmt: skip


def parse_request_ask(doc: Any, default_timeout: float) -> tuple[tuple[str, ...], dict[str, Any], float]:
    """The ask body's second form, ``{"hubs", "request", "timeout"?}`` with a request document made
    by ``POST execplanner/prepare``: the hubs, the request and the timeout. The request is sent as
    it is (each hub checks it); here it must be an object of at most :data:`MAX_REQUEST_SIZE`."""
    if not isinstance(doc, dict):
        raise FieldError('The body must be an object: {"hubs": [...], "request": {...}}.')
    request = doc.get("request")
    if not isinstance(request, dict) or not request:
        raise FieldError("request must be the v1.0 request document that POST execplanner/prepare "
                         "answered (a JSON object).")
    size = len(json.dumps(request, separators=(",", ":")).encode("utf-8"))
    if size > MAX_REQUEST_SIZE:
        raise FieldError(f"request is {size} bytes; at most {MAX_REQUEST_SIZE} are sent to a hub: "
                         "send the document POST execplanner/prepare answered.")
    mixed = [f for f in ("path", "cores", "memory", "gpus", "duration", "start", "data", "keep_outputs")
             if f in doc]
    if mixed:
        raise FieldError(f"request comes with {', '.join(mixed)}: send either a prepared request or "
                         "the notebook's path and needs, not both.")
    return parse_hubs(doc), request, parse_timeout(doc, default_timeout)


def _window(ask: Ask, now: datetime) -> str | None:
    if ask.earliest is None and ask.latest is None:
        return None
    earliest = ask.earliest or now
    if ask.latest is None or ask.latest == earliest:
        return format_instant(earliest)
    return f"{format_instant(earliest)}/{format_instant(ask.latest)}"


def data_resource(item: DataItem) -> dict[str, Any]:
    """The v1.0 data resource of one ask ``data`` item."""
    meta = {"name": item.name}
    if item.form == "location":
        return {"kind": K.kind_uri("data", K.SIMPLE_DATA), "meta": meta, "location": item.value}
    if item.form == "ivoid":
        return {"kind": K.kind_uri("data", K.IVOA_DATA), "meta": meta, "ivoa": {"ivoid": item.value}}
    first, second = item.value if isinstance(item.value, tuple) else (item.value, "")
    if item.form == "s3":
        return {"kind": K.kind_uri("data", K.S3_DATA), "meta": meta, "bucket": first, "object": second}
    return {"kind": K.kind_uri("data", K.RUCIO_DATA), "meta": meta,
            "rucio": {"scope": first, "object": second}}


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
    if ask.data:  # each resource read-only at /data/<name>
        compute["volumes"] = [
            {"kind": K.kind_uri("volume", K.SIMPLE_VOLUME), "path": f"{DATA_FOLDER}/{d.name}",
             "mode": "READONLY", "resource": d.name}
            for d in ask.data
        ]
    requested: dict[str, Any] = {"duration": format_duration(timedelta(seconds=ask.duration))}
    window = _window(ask, now)
    if window:
        requested["start"] = window
    request: dict[str, Any] = {
        "name": name,
        "executable": executable,
        "compute": compute,
        "schedule": {"requested": requested},
    }
    if ask.data:
        request["data"] = [data_resource(d) for d in ask.data]
    return request
