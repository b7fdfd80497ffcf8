"""Broker documents turned into what the panel shows: pure functions, no I/O.

A v1.0 offer or session becomes an ``Offer`` or ``Session`` of the lab API (see docs/lab-panel.md);
a :class:`~jupyterhub_execplanner.client.HubAnswer` becomes an ``Answer``. Missing or odd fields give
``None`` (or empty lists), never an exception: the documents come from other hubs.
"""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from .. import launch
from ..client import HubAnswer
from ..model import timing
from ..model.lookup import dig as _get
from ..model.phases import TERMINAL as PHASES_TERMINAL

TERMINAL = frozenset(p.value for p in PHASES_TERMINAL)
OPEN_PHASES = frozenset({"AVAILABLE", "RUNNING"})
PROGRESS = {
    "INITIAL": 0,
    "OFFERED": 0,
    "ACCEPTED": 10,
    "WAITING": 20,
    "PREPARING": 40,
    "AVAILABLE": 100,
    "RUNNING": 100,
    "RELEASING": 100,
    "COMPLETED": 100,
}
PREPARING_STEP, PREPARING_CAP = 8, 80

# message kinds the broker's phase driver and a session's preload write (worker/decide.py)
_K = "urn:execplanner:"
PREPARING_KINDS = frozenset(
    {f"{_K}preparing", f"{_K}starting-server", f"{_K}hub-progress", f"{_K}preload", f"{_K}preload-failed"}
)
PROGRESS_KINDS = frozenset({f"{_K}hub-progress", f"{_K}preload"})
READY_KINDS = frozenset({f"{_K}server-ready", f"{_K}server-active"})
WAITING_KIND = f"{_K}waiting"
STARTED_KINDS = frozenset({f"{_K}starting-server", f"{_K}hub-progress", *READY_KINDS})
CLOSED_KINDS = frozenset({f"{_K}server-stopped", f"{_K}no-server", f"{_K}stop-failed"})


def _number(value: Any) -> float | int | None:
    """A finite number (not a bool), else None: JSON has no infinity."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value if math.isfinite(value) else None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _path(url: str) -> str | None:
    try:
        return urlsplit(url).path
    except ValueError:  # e.g. "http://[oops"
        return None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def seconds(duration: Any) -> float | None:
    """A duration of a broker's document in seconds (ISO 8601, or a number of seconds; zero or more,
    by the rules of :mod:`~..model.timing`); None if it is neither."""
    try:
        value = timing.parse_duration(duration, zero=True).total_seconds()
    except (ValueError, ArithmeticError):
        return None
    return value if math.isfinite(value) else None


def _whole(value: float | None) -> float | int | None:
    return None if value is None else (int(value) if float(value).is_integer() else value)


def message_texts(messages: Any) -> list[str]:
    """The rendered text of each MessageItem, oldest first (by ``time``; untimed ones keep their place)."""
    items = [m for m in messages if isinstance(m, dict)] if isinstance(messages, list) else []
    ordered = sorted(enumerate(items), key=lambda p: (str(p[1].get("time") or ""), p[0]))
    texts = []
    for _, m in ordered:
        text = _str(m.get("message")) or _str(m.get("template")) or _str(m.get("kind"))
        if text:
            texts.append(text)
    return texts


def figures(items: Any) -> list[dict[str, Any]]:
    """A session's ``costs`` or ``metrics`` items as ``{type, min, max, unit, description}``."""
    out = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict) or not _str(item.get("type")):
            continue
        low, high = _number(item.get("min")), _number(item.get("max"))
        out.append(
            {
                "type": item["type"],
                "min": low if low is not None else high,
                "max": high if high is not None else low,
                "unit": _str(item.get("unit")),
                "description": _str(item.get("description")),
            }
        )
    return out


def accelerators(compute: Any) -> dict[str, int]:
    """``{resource: count}`` from a compute resource's accelerators."""
    out: dict[str, int] = {}
    for item in _list(_get(compute, "accelerators")):
        if not isinstance(item, dict):
            continue
        name = _str(item.get("resource")) or _str(item.get("type")) or _str(item.get("name"))
        count = _number(_get(item, "count", "min"))
        if name and count is not None:
            out[name] = int(count)
    return out


def _instant(value: Any) -> str | None:
    """The start of an instant or an ISO 8601 interval (``start/PT0S``)."""
    text = _str(value)
    return text.split("/", 1)[0] if text else None


def _common(hub: str, doc: dict[str, Any]) -> dict[str, Any]:
    profile = _str(_get(doc, "profile", "display_name")) or _str(_get(doc, "profile", "slug"))
    return {
        "hub": hub,
        "uuid": _str(_get(doc, "meta", "uuid")),
        "url": _str(_get(doc, "meta", "url")),
        "profile": profile or _str(_get(doc, "meta", "description")),
        "cores": _number(_get(doc, "compute", "cores", "min")),
        "memory": _number(_get(doc, "compute", "memory", "min")),
        "accelerators": accelerators(doc.get("compute")),
        "start": _instant(_get(doc, "schedule", "available", "start")),
        "duration": _whole(seconds(_get(doc, "schedule", "available", "duration"))),
        "expires": _str(doc.get("expires")),
    }


def profile_about(summary: Any) -> dict[str, Any] | None:
    """What the panel tells about an offer's profile, from the broker's ``GET /`` profile summary:
    its description and the most cores and memory (GiB) a server on it may have (None: no limit)."""
    if not isinstance(summary, dict):
        return None
    return {
        "description": _str(summary.get("description")),
        "cores_max": _number(_get(summary, "cores", "max")),
        "memory_max": _number(_get(summary, "memory", "max")),
    }


def offer_shape(hub: str, doc: Any, profiles: dict[str, Any] | None = None) -> dict[str, Any]:
    """An offer (a session in phase OFFERED) as the panel's ``Offer``; total: odd fields give None.
    ``profiles`` is the hub's profile summaries by slug (its ``GET /``), when known."""
    doc = _dict(doc)
    slug = _str(_get(doc, "profile", "slug"))
    return {
        **_common(hub, doc),
        "profile_about": profile_about((profiles or {}).get(slug)) if slug else None,
        "preparing": _whole(seconds(_get(doc, "schedule", "preparing", "duration"))),
        "costs": figures(doc.get("costs")),
        "metrics": figures(doc.get("metrics")),
        "notes": message_texts(_get(doc, "meta", "messages")),
    }


def _preparing_progress(messages: list[dict[str, Any]]) -> int:
    steps = sum(1 for m in messages if _str(m.get("kind")) in PROGRESS_KINDS)
    return min(PREPARING_CAP, PROGRESS["PREPARING"] + PREPARING_STEP * steps)


def progress(phase: str, messages: Any) -> int:
    """0..100 from the phase; PREPARING grows with the preload's reports (up to 80); a FAILED or
    CANCELLED session keeps the value of the furthest phase its messages show it reached."""
    items = [m for m in messages if isinstance(m, dict)] if isinstance(messages, list) else []
    phase = _str(phase) or ""
    if phase == "PREPARING":
        return _preparing_progress(items)
    if phase in PROGRESS:
        return PROGRESS[phase]
    if phase not in ("FAILED", "CANCELLED"):
        return 0
    kinds = {_str(m.get("kind")) for m in items}
    if kinds & READY_KINDS:
        return 100
    if kinds & PREPARING_KINDS:
        return _preparing_progress(items)
    if WAITING_KIND in kinds:
        return PROGRESS["WAITING"]
    accepted = any(
        m.get("kind") == "urn:phase-change" and _get(m, "values", "phase") == "ACCEPTED" for m in items
    )
    return PROGRESS["ACCEPTED"] if accepted else 0


def notebook_path(doc: dict[str, Any]) -> str | None:
    """Where the session's server keeps its notebook, relative to its root (what launch.py names
    ``execplanner/<server>/<file>``); None for a session without a notebook."""
    location = _str(_get(doc, "executable", "location"))
    uuid = _str(_get(doc, "meta", "uuid"))
    if not location or not uuid:
        return None
    path = _path(location)
    if path is None:
        return None
    name = launch.safe_filename(unquote(path), "notebook.ipynb")
    name = name if name.endswith(".ipynb") else name + ".ipynb"
    return f"{launch.SESSIONS_FOLDER}/{launch.server_name_for(uuid)}/{name}"


def open_url(doc: dict[str, Any]) -> str | None:
    """The URL that opens the session's notebook in JupyterLab, when it is AVAILABLE or RUNNING.

    A connector whose location already opens JupyterLab (``…/lab`` or ``…/lab/tree/…``, what this
    broker writes) is used as it is; a connector with the server's URL gets
    ``lab/tree/<notebook path>`` added (``lab`` for a session without a notebook).
    """
    if _str(doc.get("phase")) not in OPEN_PHASES:
        return None
    for connector in _list(doc.get("connectors")):
        if not isinstance(connector, dict) or connector.get("status") not in (None, "AVAILABLE"):
            continue
        location = _str(connector.get("location"))
        if not location or not location.startswith(("http://", "https://")):
            continue
        path = _path(location)
        if path is None:
            continue
        if "/lab/" in path or path.rstrip("/").endswith("/lab"):
            return location
        notebook = notebook_path(doc)
        tail = f"lab/tree/{quote(notebook)}" if notebook else "lab"
        return location.rstrip("/") + "/" + tail
    return None


def session_shape(hub: str, doc: Any) -> dict[str, Any]:
    """A session document as the panel's ``Session``; total: odd fields give None (or "", [])."""
    doc = _dict(doc)
    phase = _str(doc.get("phase")) or ""
    messages = _get(doc, "meta", "messages")
    return {
        **_common(hub, doc),
        "phase": phase,
        "messages": message_texts(messages),
        "progress": progress(phase, messages),
        "open_url": open_url(doc),
        "terminal": phase in TERMINAL,
        "stopping": phase in TERMINAL and server_left(messages),
    }


def server_left(messages: Any) -> bool:
    """Whether an ended session's server may still be running: it was started (its messages say so)
    and no message says it is gone yet (the broker stops it after the session ends)."""
    items = messages if isinstance(messages, list) else []
    kinds = {_str(m.get("kind")) for m in items if isinstance(m, dict)}
    return bool(kinds & STARTED_KINDS) and not kinds & CLOSED_KINDS


def _link_text(hub: str, link: str) -> str:
    if link == "expired":
        return f"Your link to {hub} has expired or was revoked there: link your account again."
    return f"Your account on {hub} is not linked yet: link it to ask {hub} as yourself."


def answer_status(answer: HubAnswer) -> str:
    if answer.ok:
        return "YES" if _get(answer.offerset, "result") == "YES" else "NO"
    return "timeout" if (answer.error or "").startswith("timed out") else "error"


def answer_shape(
    answer: HubAnswer, profiles: dict[str, Any] | None = None, link: str | None = None
) -> dict[str, Any]:
    """One hub's answer to an ask as the panel's ``Answer``: its offers, or why there are none;
    ``profiles``: the hub's profile summaries by slug, when known; ``link``: a linked hub's relay
    said the account there is not linked (``unlinked``) or must be linked again (``expired``): the
    answer carries it, and the panel shows "Link again" instead of an error."""
    status = answer_status(answer)
    offerset = answer.offerset if isinstance(answer.offerset, dict) else {}
    messages = message_texts(_get(offerset, "meta", "messages"))
    if not answer.ok:
        messages = [answer.error or "no answer"]
    offers = [
        offer_shape(answer.hub, o, profiles) for o in _list(offerset.get("offers")) if isinstance(o, dict)
    ]
    if status == "NO" and not messages:
        messages = ["The hub answered NO without a reason."]
    if link and not answer.ok:
        return {"hub": answer.hub, "status": "error", "seconds": round(answer.elapsed, 3),
                "offerset": None, "messages": [_link_text(answer.hub, link)], "offers": [],
                "link": link}
    return {
        "hub": answer.hub,
        "status": status,
        "seconds": round(answer.elapsed, 3),
        "offerset": _get(offerset, "meta", "url") if answer.ok else None,
        "messages": messages,
        "offers": offers if status == "YES" else [],
    }
