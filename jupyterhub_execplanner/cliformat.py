"""Pure formatting for the ``execplanner`` command: offer tables, session summaries, durations.

Nothing here does I/O, so every function can be tested with canned broker answers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime, timedelta, timezone
from typing import Any

import yaml

from .client import HubAnswer
from .model import timing
from .model.lookup import dig as _get
from .model.offer import DATA_BYTES, DATA_LOCAL, DATA_TIME, MONETARY
from .model.phases import TERMINAL

TOKEN_ENV = "JUPYTERHUB_API_TOKEN"
TERMINAL_PHASES = frozenset(p.value for p in TERMINAL)  # as the documents spell them
READY_PHASES = frozenset({"AVAILABLE", "RUNNING"})
SORT_KEYS = ("start", "cores", "memory", "cost", "proximity")
OFFER_COLUMNS = (
    "HUB",
    "OFFER",
    "PROFILE",
    "CORES",
    "MEM GiB",
    "ACCEL",
    "START",
    "DURATION",
    "EXPIRES IN",
    "COST",
    "DATA",
)
SESSION_COLUMNS = ("SESSION", "PHASE", "PROFILE", "CORES", "MEM GiB", "START", "NAME")
NONE = "-"


class UsageError(Exception):
    """The command line cannot be acted on (exit status 2)."""


# -- small formatters -----------------------------------------------------------------------------



def _mapping(value: Any) -> dict[str, Any]:
    """``value`` when it is a mapping (a document's part of the expected shape), else ``{}``."""
    return value if isinstance(value, dict) else {}


def short_uuid(uuid: Any) -> str:
    return str(uuid)[:8] if uuid else NONE


def parse_instant(text: Any) -> datetime | None:
    """An ISO 8601 instant (``Z`` or an offset; no zone is UTC; the rules of :mod:`.model.timing`),
    or None when it is not one."""
    if not isinstance(text, str) or not text.strip():
        return None
    try:
        return timing.parse_instant(text)
    except ValueError:
        return None


def interval_start(text: Any) -> datetime | None:
    """The start of an ISO 8601 interval (``<start>/<end|duration>``), or of a bare instant."""
    if not isinstance(text, str):
        return None
    return parse_instant(text.split("/", 1)[0])


def format_instant(when: datetime | None) -> str:
    """``2026-11-24 15:00Z``: UTC, to the minute."""
    if when is None:
        return NONE
    return when.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%MZ")


_DURATION = re.compile(
    r"^P(?:(?P<y>\d+)Y)?(?:(?P<mo>\d+)M)?(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?"
    r"(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)


def format_duration(text: Any) -> str:
    """``PT1H`` → ``1h``, ``PT1H30M`` → ``1h30m``, ``P1DT2H`` → ``1d2h``; other text as is."""
    if not isinstance(text, str) or not text:
        return NONE
    match = _DURATION.match(text.strip())
    if not match or text.strip() in ("P", "PT"):
        return text
    units = (("y", "y"), ("mo", "mo"), ("w", "w"), ("d", "d"), ("h", "h"), ("m", "m"), ("s", "s"))
    parts = []
    for group, suffix in units:
        value = match.group(group)
        if value and float(value) != 0:
            number = float(value)
            parts.append(f"{number:g}{suffix}")
    return "".join(parts) or "0s"


def format_timedelta(delta: timedelta) -> str:
    """``45s``, ``4m59s``, ``1h05m``, ``2d3h``."""
    seconds = int(delta.total_seconds())
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours}h"


def format_expires_in(expires: Any, now: datetime) -> str:
    when = parse_instant(expires)
    if when is None:
        return NONE
    if when <= now:
        return "expired"
    return format_timedelta(when - now)


def format_range(value: Any) -> str:
    """``{min: 2, max: 2}`` → ``2``; ``{min: 2, max: 4}`` → ``2-4``."""
    if not isinstance(value, dict):
        return NONE
    low, high = value.get("min"), value.get("max")
    if low is None and high is None:
        return NONE
    if low is None or high is None or low == high:
        return str(low if high is None else high)
    return f"{low}-{high}"


def format_accelerators(items: Any) -> str:
    """``[{resource: nvidia.com/gpu, count: {min: 1, max: 1}}]`` → ``nvidia.com/gpu:1``."""
    if not isinstance(items, list) or not items:
        return NONE
    parts = []
    for item in items:
        if not isinstance(item, dict):
            continue
        label = item.get("name") or item.get("resource") or item.get("type") or "?"
        count = item.get("count")
        number = format_range(count) if isinstance(count, dict) else "1"
        parts.append(f"{label}:{number}")
    return ",".join(parts) or NONE


def format_profile(session: dict[str, Any]) -> str:
    profile = session.get("profile")
    if isinstance(profile, dict):
        return str(profile.get("slug") or profile.get("display_name") or NONE)
    return NONE


def session_schedule(session: dict[str, Any]) -> dict[str, Any]:
    """The session's schedule, or its compute resource's when the session has none."""
    schedule = session.get("schedule")
    if isinstance(schedule, dict) and schedule:
        return schedule
    schedule = _get(session, "compute", "schedule")
    return schedule if isinstance(schedule, dict) else {}


def session_start(session: dict[str, Any]) -> datetime | None:
    return interval_start(_get(session_schedule(session), "available", "start"))


def session_duration(session: dict[str, Any]) -> Any:
    return _get(session_schedule(session), "available", "duration")


def message_text(message: Any) -> str:
    if not isinstance(message, dict):
        return str(message)
    return str(message.get("message") or message.get("template") or message.get("kind") or "?")


def newest_message(session: dict[str, Any]) -> dict[str, Any] | None:
    """The latest of the session's ``meta.messages`` (by ``time``; on a tie, the last listed)."""
    messages = [m for m in _get(session, "meta", "messages") or [] if isinstance(m, dict)]
    if not messages:
        return None
    epoch = datetime.min.replace(tzinfo=timezone.utc)
    indexed = list(enumerate(messages))
    _, newest = max(indexed, key=lambda im: (parse_instant(im[1].get("time")) or epoch, im[0]))
    return newest


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns two spaces apart, without trailing spaces."""
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=False)]
    lines = []
    for row in (headers, *rows):
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


# -- offers from many hubs ------------------------------------------------------------------------


def _top(value: Any) -> int:
    if isinstance(value, dict):
        for key in ("max", "min"):
            if isinstance(value.get(key), int):
                return value[key]
    return -1


def figure(offer: dict[str, Any], group: str, urn: str) -> dict[str, Any] | None:
    """The offer's ``costs``/``metrics`` item of type ``urn`` with a numeric ``max``, if any."""
    for item in offer.get(group) or []:
        if isinstance(item, dict) and item.get("type") == urn and isinstance(item.get("max"), int | float):
            return item
    return None


def format_cost(offer: dict[str, Any]) -> str:
    money = figure(offer, "costs", MONETARY)
    if money is None:
        return NONE
    return f"{money['max']:.4g} {money.get('unit') or ''}".strip()


def _bytes(size: float) -> str:
    for unit, factor in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= factor:
            return f"{size / factor:.3g} {unit}"
    return f"{int(size)} B"


def format_data(offer: dict[str, Any]) -> str:
    """``local``, ``250 kB ~5s`` (to download), ``50% local, 250 kB ~5s``; ``-`` without data."""
    local, size, seconds = (figure(offer, "metrics", u) for u in (DATA_LOCAL, DATA_BYTES, DATA_TIME))
    if local is None:
        return NONE
    if local["max"] >= 1:
        return "local"
    moved = f"{_bytes(size['max'])} ~{seconds['max']:g}s" if size and seconds else "size unknown"
    return moved if local["max"] <= 0 else f"{local['max']:.0%} local, {moved}"


def offer_rows(
    answers: Sequence[HubAnswer], *, sort: str = "start", now: datetime | None = None
) -> list[list[str]]:
    """One row per offer (columns :data:`OFFER_COLUMNS`), sorted by ``sort``.

    ``start``: earliest first; ``cores``/``memory``: largest first, then earliest; ``cost``: the
    cheapest (monetary ``max``) first, offers without a price last; ``proximity``: the shortest
    estimated data transfer first, then the most data local, then earliest (offers without data
    figures last). Ties keep the order of the hubs and of their offers.
    """
    if sort not in SORT_KEYS:
        raise ValueError(f"sort must be one of {SORT_KEYS}, not {sort!r}")
    now = now or datetime.now(timezone.utc)
    far = datetime.max.replace(tzinfo=timezone.utc)
    keyed: list[tuple[tuple[Any, ...], list[str]]] = []
    for answer in answers:
        if not answer.ok or not isinstance(answer.offerset, dict):
            continue
        for offer in answer.offerset.get("offers") or []:
            if not isinstance(offer, dict):
                continue
            compute = _mapping(offer.get("compute"))
            start = session_start(offer)
            row = [
                answer.hub,
                short_uuid(_get(offer, "meta", "uuid")),
                format_profile(offer),
                format_range(compute.get("cores")),
                format_range(compute.get("memory")),
                format_accelerators(compute.get("accelerators")),
                format_instant(start),
                format_duration(session_duration(offer)),
                format_expires_in(offer.get("expires"), now),
                format_cost(offer),
                format_data(offer),
            ]
            at = start or far
            if sort == "cores":
                key: tuple[Any, ...] = (-_top(compute.get("cores")), at)
            elif sort == "memory":
                key = (-_top(compute.get("memory")), at)
            elif sort == "cost":
                money = figure(offer, "costs", MONETARY)
                key = (money is None, money["max"] if money else 0.0, at)
            elif sort == "proximity":
                moved, local = figure(offer, "metrics", DATA_TIME), figure(offer, "metrics", DATA_LOCAL)
                key = (moved is None, moved["max"] if moved else 0.0,
                       -(local["max"] if local else 0.0), at)
            else:
                key = (at,)
            keyed.append((key, row))
    keyed.sort(key=lambda kr: kr[0])  # stable: hub order, then offer order
    return [row for _, row in keyed]


def format_refusals(answers: Sequence[HubAnswer]) -> list[str]:
    """One line per hub without offers: its NO and messages, its error, or its timeout."""
    lines = []
    for answer in answers:
        if not answer.ok:
            error = answer.error or "no answer"  # it may name the hub itself (a linked hub's advice)
            lines.append(error if error.startswith(f"{answer.hub}: ") else f"{answer.hub}: {error}")
            continue
        offerset = answer.offerset if isinstance(answer.offerset, dict) else {}
        result = offerset.get("result")
        messages = [message_text(m) for m in _get(offerset, "meta", "messages") or []]
        # one reason a line, indented under the hub, so long messages stay readable
        reasons = "\n    ".join(["", *messages]) if messages else "no reason given"
        if result == "NO":
            lines.append(f"{answer.hub}: NO{reasons if messages else ' - ' + reasons}")
        elif result != "YES":
            lines.append(f"{answer.hub}: unexpected answer (result {result!r})")
        elif not offerset.get("offers"):
            lines.append(f"{answer.hub}: YES but no offers{reasons if messages else ' - ' + reasons}")
    return lines


def format_offers_table(
    answers: Sequence[HubAnswer], *, sort: str = "start", now: datetime | None = None
) -> str:
    """The table of every hub's offers, then a line for each hub that said NO or did not answer."""
    rows = offer_rows(answers, sort=sort, now=now)
    parts = [format_table(OFFER_COLUMNS, rows) if rows else "No offers."]
    refusals = format_refusals(answers)
    if refusals:
        parts.append("\n".join(refusals))
    return "\n\n".join(parts)


def answers_document(answers: Sequence[HubAnswer]) -> list[dict[str, Any]]:
    return [asdict(a) for a in answers]


# -- one session ----------------------------------------------------------------------------------


def format_session_summary(session: dict[str, Any], *, now: datetime | None = None) -> str:
    """A few lines about one session, for people."""
    now = now or datetime.now(timezone.utc)
    compute = _mapping(session.get("compute"))
    phase = str(session.get("phase") or NONE)
    if phase == "OFFERED" and session.get("expires"):
        phase += f" (expires in {format_expires_in(session.get('expires'), now)})"
    profile = _mapping(session.get("profile"))
    profile_text = format_profile(session)
    if profile.get("display_name") and profile.get("display_name") != profile_text:
        profile_text += f" ({profile['display_name']})"
    resources = (
        f"{format_range(compute.get('cores'))} cores, {format_range(compute.get('memory'))} GiB"
    )
    accelerators = format_accelerators(compute.get("accelerators"))
    if accelerators != NONE:
        resources += f", {accelerators}"
    start = format_instant(session_start(session))
    duration = format_duration(session_duration(session))
    fields = [
        ("Session", str(_get(session, "meta", "uuid") or NONE)),
        ("Name", str(_get(session, "meta", "name") or NONE)),
        ("Phase", phase),
        ("Profile", profile_text),
        ("Compute", resources),
        ("Start", f"{start} for {duration}" if duration != NONE else start),
        ("Executable", str(_get(session, "executable", "location") or NONE)),
        ("URL", str(_get(session, "meta", "url") or NONE)),
    ]
    for connector in session.get("connectors") or []:
        if isinstance(connector, dict) and connector.get("location"):
            status = f" ({connector['status']})" if connector.get("status") else ""
            fields.append(("Open", f"{connector['location']}{status}"))
    width = max(len(label) for label, _ in fields)
    lines = [f"{label.ljust(width)}  {value}" for label, value in fields]
    messages = [m for m in _get(session, "meta", "messages") or [] if isinstance(m, dict)]
    if messages:
        lines.append("Messages:")
        for message in messages:
            when = format_instant(parse_instant(message.get("time")))
            level = str(message.get("level") or "").ljust(5)
            lines.append(f"  {when} {level} {message_text(message)}")
    return "\n".join(lines)


def format_sessions_table(sessions: Sequence[dict[str, Any]], hubs: Sequence[str] | None = None) -> str:
    """The sessions' table; with ``hubs`` (each session's hub, in order) a first column HUB."""
    if not sessions:
        return "No sessions."
    rows = []
    for i, session in enumerate(sessions):
        compute = _mapping(session.get("compute"))
        rows.append(
            ([hubs[i]] if hubs is not None else []) + [
                short_uuid(_get(session, "meta", "uuid")),
                str(session.get("phase") or NONE),
                format_profile(session),
                format_range(compute.get("cores")),
                format_range(compute.get("memory")),
                format_instant(session_start(session)),
                str(_get(session, "meta", "name") or NONE),
            ]
        )
    return format_table(("HUB", *SESSION_COLUMNS) if hubs is not None else SESSION_COLUMNS, rows)


def format_phase_change(session: dict[str, Any], *, now: datetime | None = None) -> str:
    """``15:00:12Z PREPARING: <newest message>``."""
    now = now or datetime.now(timezone.utc)
    line = f"{now.astimezone(timezone.utc).strftime('%H:%M:%SZ')} {session.get('phase') or NONE}"
    message = newest_message(session)
    if message is not None:
        line += f": {message_text(message)}"
    return line


def connector_lines(session: dict[str, Any]) -> list[str]:
    return [
        f"Open {c['location']}"
        for c in session.get("connectors") or []
        if isinstance(c, dict) and c.get("location")
    ]


# -- the commands ---------------------------------------------------------------------------------


def _dump(doc: Any, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(doc, indent=2, default=str)
    text = yaml.safe_dump(doc, sort_keys=False, default_flow_style=False, allow_unicode=True)
    return text.rstrip()
