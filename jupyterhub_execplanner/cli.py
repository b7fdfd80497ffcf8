"""``execplanner``: ask one or many hubs for offers, accept one, and watch it start.

    execplanner ask request.yaml --hub https://hub-a.example.org --hub https://hub-b.example.org
    execplanner accept https://hub-a.example.org/services/execplanner/sessions/0f3c…
    execplanner watch 0f3c… --hub https://hub-a.example.org

Tokens come from ``--token`` (one for every hub, or one per ``--hub`` in the same order) or from
``$JUPYTERHUB_API_TOKEN``. Exit status: 0 done, 1 the broker said NO or answered an error, 2 usage.

The formatting is in pure functions (:func:`format_offers_table` and friends) so it can be tested
without a hub.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import yaml

from ._version import __version__
from .client import (
    BrokerClient,
    BrokerError,
    HubAnswer,
    ask_many,
    describe_error,
    parse_document,
    split_session_url,
)

TOKEN_ENV = "JUPYTERHUB_API_TOKEN"
TERMINAL_PHASES = frozenset({"REJECTED", "EXPIRED", "COMPLETED", "FAILED", "CANCELLED"})
READY_PHASES = frozenset({"AVAILABLE", "RUNNING"})
SORT_KEYS = ("start", "cores", "memory")
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
)
SESSION_COLUMNS = ("SESSION", "PHASE", "PROFILE", "CORES", "MEM GiB", "START", "NAME")
NONE = "-"


class UsageError(Exception):
    """The command line cannot be acted on (exit status 2)."""


# -- small formatters -----------------------------------------------------------------------------


def _get(doc: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(doc, dict):
            return None
        doc = doc.get(key)
    return doc


def short_uuid(uuid: Any) -> str:
    return str(uuid)[:8] if uuid else NONE


def parse_instant(text: Any) -> datetime | None:
    """An ISO 8601 instant (``Z`` or an offset; no zone is UTC), or None when it is not one."""
    if not isinstance(text, str) or not text.strip():
        return None
    value = text.strip()
    if value[-1:] in ("Z", "z"):
        value = value[:-1] + "+00:00"
    # datetime.fromisoformat before 3.11 takes at most microseconds
    value = re.sub(r"(\.\d{6})\d+", r"\1", value)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


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


def offer_rows(
    answers: Sequence[HubAnswer], *, sort: str = "start", now: datetime | None = None
) -> list[list[str]]:
    """One row per offer (columns :data:`OFFER_COLUMNS`), sorted by ``sort``.

    ``start``: earliest first; ``cores``/``memory``: largest first, then earliest. Ties keep the
    order of the hubs and of their offers.
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
            compute = offer.get("compute") if isinstance(offer.get("compute"), dict) else {}
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
            ]
            at = start or far
            if sort == "cores":
                key: tuple[Any, ...] = (-_top(compute.get("cores")), at)
            elif sort == "memory":
                key = (-_top(compute.get("memory")), at)
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
            lines.append(f"{answer.hub}: {answer.error or 'no answer'}")
            continue
        offerset = answer.offerset if isinstance(answer.offerset, dict) else {}
        result = offerset.get("result")
        messages = [message_text(m) for m in _get(offerset, "meta", "messages") or []]
        reasons = "; ".join(messages) if messages else "no reason given"
        if result == "NO":
            lines.append(f"{answer.hub}: NO - {reasons}")
        elif result != "YES":
            lines.append(f"{answer.hub}: unexpected answer (result {result!r})")
        elif not offerset.get("offers"):
            lines.append(f"{answer.hub}: YES but no offers - {reasons}")
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
    compute = session.get("compute") if isinstance(session.get("compute"), dict) else {}
    phase = str(session.get("phase") or NONE)
    if phase == "OFFERED" and session.get("expires"):
        phase += f" (expires in {format_expires_in(session.get('expires'), now)})"
    profile = session.get("profile") if isinstance(session.get("profile"), dict) else {}
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


def format_sessions_table(sessions: Sequence[dict[str, Any]]) -> str:
    if not sessions:
        return "No sessions."
    rows = []
    for session in sessions:
        compute = session.get("compute") if isinstance(session.get("compute"), dict) else {}
        rows.append(
            [
                short_uuid(_get(session, "meta", "uuid")),
                str(session.get("phase") or NONE),
                format_profile(session),
                format_range(compute.get("cores")),
                format_range(compute.get("memory")),
                format_instant(session_start(session)),
                str(_get(session, "meta", "name") or NONE),
            ]
        )
    return format_table(SESSION_COLUMNS, rows)


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


def _env_token() -> str | None:
    return os.environ.get(TOKEN_ENV) or None


def hub_tokens(hubs: Sequence[str], tokens: Sequence[str] | None) -> list[str | None]:
    """Tokens aligned with ``hubs``: none (the environment's), one for all, or one per hub."""
    tokens = list(tokens or [])
    if not tokens:
        return [_env_token()] * len(hubs)
    if len(tokens) == 1:
        return tokens * len(hubs)
    if len(tokens) == len(hubs):
        return tokens
    raise UsageError(
        f"{len(tokens)} --token for {len(hubs)} --hub: give one token for all hubs, or one per hub"
    )


def read_request(path: str) -> dict[str, Any]:
    """A request document from a YAML or JSON file (``-``: standard input)."""
    try:
        if path == "-":
            text = sys.stdin.read()
        else:
            with open(path, encoding="utf-8") as f:
                text = f.read()
    except OSError as e:
        raise UsageError(f"cannot read {path}: {e.strerror or e}") from e
    try:
        doc = parse_document(text)
    except ValueError as e:
        raise UsageError(f"{path}: {e}") from e
    if not isinstance(doc, dict):
        raise UsageError(f"{path}: an ExecutionRequest is a mapping, not {type(doc).__name__}")
    return doc


def session_client(args: argparse.Namespace) -> BrokerClient:
    """The broker of the command's session: ``--hub``, or the one in the session's URL."""
    token = (args.token or [None])[0] or _env_token()
    if args.hub:
        return BrokerClient(args.hub, token, timeout=args.timeout)
    if args.session.startswith(("http://", "https://")):
        try:
            base, _ = split_session_url(args.session)
        except ValueError as e:
            raise UsageError(str(e)) from e
        return BrokerClient(base, token, timeout=args.timeout)
    raise UsageError("give the session's full URL, or its uuid with --hub URL")


async def _ask(args: argparse.Namespace) -> int:
    doc = read_request(args.file)
    tokens = hub_tokens(args.hub, args.token)
    clients = [
        BrokerClient(hub, token, timeout=args.timeout)
        for hub, token in zip(args.hub, tokens, strict=True)
    ]
    try:
        answers = await ask_many(clients, doc, timeout=args.timeout)
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))
    if args.format == "table":
        print(format_offers_table(answers, sort=args.sort))
    else:
        print(_dump(answers_document(answers), args.format))
    has_offers = any(a.ok and (a.offerset or {}).get("offers") for a in answers)
    return 0 if has_offers else 1


def _update_command(phase: str) -> Callable[[argparse.Namespace], Any]:
    async def run(args: argparse.Namespace) -> int:
        async with session_client(args) as client:
            session = await client.update(args.session, phase)
        _print_session(session, args.format)
        return 0

    return run


def _print_session(session: dict[str, Any], fmt: str) -> None:
    if fmt == "summary":
        print(format_session_summary(session))
    else:
        print(_dump(session, fmt))


async def _show(args: argparse.Namespace) -> int:
    async with session_client(args) as client:
        session = await client.session(args.session)
    _print_session(session, args.format)
    return 0


async def _sessions(args: argparse.Namespace) -> int:
    token = (args.token or [None])[0] or _env_token()
    async with BrokerClient(args.hub, token, timeout=args.timeout) as client:
        sessions = await client.sessions(owner=args.owner, offers=args.offers)
    if args.format == "table":
        print(format_sessions_table(sessions))
    else:
        print(_dump({"sessions": sessions}, args.format))
    return 0


async def watch_session(
    client: BrokerClient,
    ref: str,
    *,
    interval: float,
    emit: Callable[[str], None] = print,
    sleep: Callable[[float], Any] = asyncio.sleep,
    retries: int = 3,
) -> int:
    """Poll a session, emitting each phase change, until it is AVAILABLE (0) or terminal.

    COMPLETED is 0 as well; FAILED, CANCELLED, REJECTED and EXPIRED are 1. Up to ``retries``
    consecutive connection failures are waited out.
    """
    last: str | None = None
    failures = 0
    while True:
        try:
            session = await client.session(ref)
        except httpx.TransportError as e:
            failures += 1
            if failures > retries:
                raise
            emit(f"(no answer: {describe_error(e)}; trying again)")
            await sleep(interval)
            continue
        failures = 0
        phase = str(session.get("phase") or "")
        if phase != last:
            emit(format_phase_change(session))
            last = phase
        if phase in READY_PHASES:
            for line in connector_lines(session):
                emit(line)
            return 0
        if phase in TERMINAL_PHASES:
            return 0 if phase == "COMPLETED" else 1
        await sleep(interval)


async def _watch(args: argparse.Namespace) -> int:
    async with session_client(args) as client:
        return await watch_session(client, args.session, interval=args.interval)


# -- argument parsing -----------------------------------------------------------------------------


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be more than 0: {text!r}")
    return value


def _add_common(p: argparse.ArgumentParser, *, many_hubs: bool = False) -> None:
    p.add_argument(
        "--token",
        action="append",
        metavar="T",
        help=f"JupyterHub API token (default: ${TOKEN_ENV})"
        + ("; repeat to give one per --hub, in order" if many_hubs else ""),
    )
    p.add_argument(
        "--timeout",
        type=_positive,
        default=10.0,
        metavar="S",
        help="seconds to wait for each hub (default: 10)",
    )


def _add_session_command(
    sub: argparse._SubParsersAction, name: str, help_text: str, default_format: str = "summary"
) -> argparse.ArgumentParser:
    p = sub.add_parser(name, help=help_text, description=help_text)
    p.add_argument("session", metavar="URL|UUID", help="the session's URL, or its uuid with --hub")
    p.add_argument("--hub", metavar="URL", help="the hub (or broker) URL, when giving a uuid")
    p.add_argument(
        "--format", choices=("summary", "yaml", "json"), default=default_format, help="output"
    )
    _add_common(p)
    return p


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="execplanner",
        description="Ask JupyterHubs running jupyterhub-execplanner when they can run your task.",
        epilog="Exit status: 0 done, 1 the broker said NO or an error, 2 usage.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    ask = sub.add_parser(
        "ask",
        help="ask one or many hubs for offers",
        description="Send an ExecutionRequest to every --hub at once and print all their offers.",
    )
    ask.add_argument("file", metavar="FILE", help="the ExecutionRequest, YAML or JSON; - for stdin")
    ask.add_argument(
        "--hub", action="append", required=True, metavar="URL", help="a hub URL; repeat for more"
    )
    ask.add_argument("--format", choices=("table", "json", "yaml"), default="table")
    ask.add_argument("--sort", choices=SORT_KEYS, default="start", help="order of the offers")
    _add_common(ask, many_hubs=True)
    ask.set_defaults(func=_ask)

    for name, phase, text in (
        ("accept", "ACCEPTED", "accept an offer (its siblings are rejected)"),
        ("reject", "REJECTED", "reject an offer"),
        ("cancel", "CANCELLED", "cancel an offer or a session"),
    ):
        _add_session_command(sub, name, text).set_defaults(func=_update_command(phase))

    _add_session_command(sub, "show", "show an offer or session").set_defaults(func=_show)

    sessions = sub.add_parser("sessions", help="list your sessions on a hub")
    sessions.add_argument("--hub", required=True, metavar="URL", help="the hub (or broker) URL")
    sessions.add_argument("--owner", metavar="NAME", help="admins: this user's sessions")
    sessions.add_argument("--offers", action="store_true", help="include open offers")
    sessions.add_argument("--format", choices=("table", "json", "yaml"), default="table")
    _add_common(sessions)
    sessions.set_defaults(func=_sessions)

    watch = sub.add_parser(
        "watch",
        help="follow a session until it is available or ends",
        description="Poll a session and print each change of phase, until it is AVAILABLE "
        "(exit 0) or ends (COMPLETED: 0; FAILED, CANCELLED, REJECTED, EXPIRED: 1).",
    )
    watch.add_argument("session", metavar="URL|UUID", help="the session's URL, or its uuid")
    watch.add_argument("--hub", metavar="URL", help="the hub (or broker) URL, when giving a uuid")
    watch.add_argument(
        "--interval", type=_positive, default=2.0, metavar="S", help="seconds between polls"
    )
    _add_common(watch)
    watch.set_defaults(func=_watch)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # argparse: --help (0) or a usage error (2)
        return e.code if isinstance(e.code, int) else 2
    if not getattr(args, "func", None):
        parser.print_usage(sys.stderr)
        return 2
    try:
        return int(asyncio.run(args.func(args)))
    except UsageError as e:
        print(f"execplanner: {e}", file=sys.stderr)
        return 2
    except (BrokerError, httpx.HTTPError, ValueError) as e:
        print(f"execplanner: {describe_error(e)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
