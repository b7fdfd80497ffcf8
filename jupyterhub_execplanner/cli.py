"""``execplanner``: ask one or many hubs for offers, accept one, and watch it start.

    execplanner ask request.yaml --hub https://hub-a.example.org --hub https://hub-b.example.org
    execplanner accept https://hub-a.example.org/services/execplanner/sessions/0f3c…
    execplanner watch 0f3c… --hub https://hub-a.example.org

Tokens come from ``--token`` (one for every hub, or one per ``--hub`` in the same order) or from
``$JUPYTERHUB_API_TOKEN``. Exit status: 0 done, 1 the broker said NO or answered an error, 2 usage,
141 when the reader of the output went away (``execplanner sessions | head``).

A session is named by its URL, its uuid with ``--hub``, or a unique start of its uuid (as the tables
print it) with ``--hub`` (or without, for an offer of the last ask). A hub linked to your account on
your own hub is reached by its name, ``--hub hub-b --via YOUR_HUB_URL``, with your own hub's token
(:mod:`.clilinks`; ``execplanner hubs``, ``link`` and ``unlink`` list, link and unlink them).

The offers of the last ``ask`` are remembered (:mod:`.clistate`): a new ``ask`` rejects those still
open on the hubs it asks (``--keep-previous`` keeps them), and ``accept`` rejects the same ask's
offers on the other hubs (``--keep-others`` keeps them).

The formatting is in pure functions (:func:`format_offers_table` and friends) so it can be tested
without a hub.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

import httpx

from . import clilinks, clistate
from ._version import __version__
from .client import BrokerClient, BrokerError, ask_many, describe_error, parse_document
from .cliformat import (  # noqa: F401  (re-exported: the command's formatting)
    _DURATION,
    NONE,
    OFFER_COLUMNS,
    READY_PHASES,
    SESSION_COLUMNS,
    SORT_KEYS,
    TERMINAL_PHASES,
    TOKEN_ENV,
    UsageError,
    _dump,
    _get,
    _top,
    answers_document,
    connector_lines,
    format_accelerators,
    format_duration,
    format_expires_in,
    format_instant,
    format_offers_table,
    format_phase_change,
    format_profile,
    format_range,
    format_refusals,
    format_session_summary,
    format_sessions_table,
    format_table,
    format_timedelta,
    interval_start,
    message_text,
    newest_message,
    offer_rows,
    parse_instant,
    session_duration,
    session_schedule,
    session_start,
    short_uuid,
)
from .clilinks import env_token as _env_token
from .clilinks import session_client
from .model.timing import parse_seconds


def hub_tokens(hubs: Sequence[str], tokens: Sequence[str] | None) -> list[str | None]:
    """Tokens aligned with ``hubs``: none (the environment's), one for all, or one per hub."""
    given: list[str | None] = list(tokens or [])
    if not given:
        return [_env_token()] * len(hubs)
    if len(given) == 1:
        return given * len(hubs)
    if len(given) == len(hubs):
        return given
    raise UsageError(
        f"{len(given)} --token for {len(hubs)} --hub: give one token for all hubs, or one per hub"
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


async def resolve(client: BrokerClient, ref: str) -> str:
    """The session's uuid or URL: a shortened uuid (as the tables print) is looked up among the
    caller's sessions and open offers on the hub, as git does with commit ids."""
    if not clistate.is_prefix(ref):
        return ref
    sessions = await client.sessions(offers=True)
    uuids = [str(_get(s, "meta", "uuid") or "") for s in sessions]
    try:
        return clistate.match_prefix(ref, [u for u in uuids if u])
    except clistate.PrefixError as e:
        raise UsageError(f"{client.name}: {e}") from None


def _note(text: str) -> None:
    print(f"execplanner: {text}", file=sys.stderr)


async def reject_offers(
    offers: Sequence[clistate.AskedOffer], clients: dict[str, BrokerClient]
) -> tuple[int, list[str]]:
    """Reject each offer still open with its broker's client; how many were, and one line for each
    that could not be (an offer accepted, expired or rejected already is skipped silently)."""
    async def one(offer: clistate.AskedOffer) -> str | None:
        try:
            await clients[offer.broker].reject(offer.url)
        except BrokerError as e:
            if e.status in (404, 409):
                return ""  # no longer open: nothing to release
            return f"{clients[offer.broker].name}: could not reject {offer.url}: {describe_error(e)}"
        except httpx.HTTPError as e:
            return f"{clients[offer.broker].name}: could not reject {offer.url}: {describe_error(e)}"
        return None

    results = await asyncio.gather(*(one(o) for o in offers if o.broker in clients))
    return sum(r is None for r in results), [r for r in results if r]


async def _ask(args: argparse.Namespace) -> int:
    doc = read_request(args.file)
    tokens = hub_tokens(args.hub, args.token)
    targets = await clilinks.targets(args.hub, tokens, args.via, args.timeout)
    clients = clilinks.clients(targets, tokens, args.timeout, ask=True)
    path = clistate.state_path()
    try:
        if not args.keep_previous:  # release the last ask's open offers first: they hold room
            previous = clistate.load_last_ask(path)
            released, problems = await reject_offers(previous.offers, {c.url: c for c in clients})
            for line in problems:
                _note(line)
            if released:
                _note(f"rejected {released} open offer(s) of your previous ask (--keep-previous keeps them)")
        answers = await ask_many(clients, doc, timeout=args.timeout)
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))
    offers = [o for c, a in zip(clients, answers, strict=True) if a.ok
              for o in clistate.offers_of(c.url, a.offerset)]
    try:
        clistate.save_last_ask(path, clistate.LastAsk(tuple(c.url for c in clients), tuple(offers)))
    except OSError as e:
        _note(f"cannot remember this ask's offers in {path}: {e.strerror or e}")
    if args.format == "table":
        print(format_offers_table(answers, sort=args.sort))
    else:
        print(_dump(answers_document(answers), args.format))
    has_offers = any(a.ok and (a.offerset or {}).get("offers") for a in answers)
    return 0 if has_offers else 1


async def _reject_siblings(args: argparse.Namespace, accepted: dict[str, Any]) -> None:
    """After ``accept``: reject the offers of the same ask on the other hubs (tokens as for ask:
    one for all, or one per hub of the ask in its order)."""
    last = clistate.load_last_ask(clistate.state_path())
    uuid = str(_get(accepted, "meta", "uuid") or "")
    others = clistate.siblings(last.offers, uuid)
    if not others:
        return
    try:
        tokens = hub_tokens(list(last.brokers), args.token)
    except UsageError:
        tokens = [None] * len(last.brokers)
    token_of = dict(zip(last.brokers, tokens, strict=True))
    clients = {b: clilinks.client_for(b, token_of.get(b) or _env_token(), args.timeout)
               for b in {o.broker for o in others}}
    try:
        released, problems = await reject_offers(others, clients)
    finally:
        await asyncio.gather(*(c.aclose() for c in clients.values()))
    for line in problems:
        _note(line)
    if released:
        _note(f"rejected {released} offer(s) of the same ask on the other hubs (--keep-others keeps them)")


def _token_of_last_ask(args: argparse.Namespace) -> str | None:
    """With several ``--token`` (one per hub of the last ask, in its order), the session's hub's."""
    if not args.token or len(args.token) < 2:
        return None
    last = clistate.load_last_ask(clistate.state_path())
    try:
        broker = clilinks.session_broker(args)
    except ValueError:
        return None
    if broker not in last.brokers:
        raise UsageError(f"{len(args.token)} --token, but {broker} was not asked by your last ask: "
                         "give the one token of this hub")
    if len(args.token) != len(last.brokers):
        raise UsageError(f"{len(args.token)} --token for the {len(last.brokers)} hubs of your last ask: "
                         "give one token for all hubs, or one per hub in the order of the ask")
    return str(args.token[last.brokers.index(broker)])


def _update_command(phase: str) -> Callable[[argparse.Namespace], Any]:
    async def run(args: argparse.Namespace) -> int:
        async with await session_client(args, _token_of_last_ask(args)) as client:
            ref = await resolve(client, args.session)
            session = await client.update(ref, phase)
        if phase == "ACCEPTED" and not args.keep_others:
            await _reject_siblings(args, session)
        _print_session(session, args.format)
        return 0

    return run


def _print_session(session: dict[str, Any], fmt: str) -> None:
    if fmt == "summary":
        print(format_session_summary(session))
    else:
        print(_dump(session, fmt))


async def _show(args: argparse.Namespace) -> int:
    async with await session_client(args) as client:
        session = await client.session(await resolve(client, args.session))
    _print_session(session, args.format)
    return 0


async def _sessions(args: argparse.Namespace) -> int:
    tokens = hub_tokens(args.hub, args.token)
    targets = await clilinks.targets(args.hub, tokens, args.via, args.timeout)
    clients = clilinks.clients(targets, tokens, args.timeout)

    async def one(client: BrokerClient) -> list[dict[str, Any]] | BaseException:
        try:
            return await client.sessions(owner=args.owner, offers=args.offers)
        except (BrokerError, httpx.HTTPError) as e:
            return e

    try:
        results = await asyncio.gather(*(one(c) for c in clients))
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))
    failed = [(c, r) for c, r in zip(clients, results, strict=True) if isinstance(r, BaseException)]
    listed = [(c, r) for c, r in zip(clients, results, strict=True) if not isinstance(r, BaseException)]
    if len(clients) == 1 and failed:
        raise failed[0][1]
    if args.format == "table":
        by_hub = [(c.name, r) for c, r in listed]
        print(format_sessions_table([s for _, r in by_hub for s in r],
                                    hubs=[n for n, r in by_hub for _ in r] if len(clients) > 1 else None))
    elif len(clients) == 1:
        print(_dump({"sessions": listed[0][1]}, args.format))
    else:
        print(_dump({"hubs": [{"hub": c.name, "sessions": r} for c, r in listed]
                     + [{"hub": c.name, "error": describe_error(e)} for c, e in failed]}, args.format))
    for client, error in failed:
        _note(f"{client.name}: {describe_error(error)}")
    return 1 if failed else 0


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
    async with await session_client(args) as client:
        return await watch_session(client, await resolve(client, args.session), interval=args.interval)


# -- argument parsing -----------------------------------------------------------------------------


def _positive(text: str) -> float:
    """A length of time on the command line: seconds (``10``, ``2.5``) or ISO 8601 (``PT30S``), by the
    rules of :mod:`.model.timing` (as the hub's settings)."""
    try:
        return parse_seconds(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


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
        help="how long to wait for each hub: seconds or ISO 8601, e.g. PT30S (default: 10)",
    )


def _add_session_command(
    sub: argparse._SubParsersAction, name: str, help_text: str, default_format: str = "summary"
) -> argparse.ArgumentParser:
    p = sub.add_parser(name, help=help_text, description=help_text)
    p.add_argument("session", metavar="URL|UUID", help="the session's URL, or its uuid (or its start) "
                   "with --hub; without --hub, an offer of your last ask is found on its own hub")
    p.add_argument("--hub", metavar="URL|NAME", help="the hub (or broker) URL, when giving a uuid; "
                   "a linked hub's name with --via")
    p.add_argument("--via", metavar="URL", help=clilinks.VIA_HELP)
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
        description="Send an ExecutionRequest to every --hub at once and print all their offers. "
        "Hubs linked to your account on your own hub are named, e.g. --via https://hub-a.example.org "
        "--hub https://hub-a.example.org --hub hub-b (see `execplanner hubs --hub URL`).",
    )
    ask.add_argument("file", metavar="FILE", help="the ExecutionRequest, YAML or JSON; - for stdin")
    ask.add_argument(
        "--hub", action="append", required=True, metavar="URL|NAME",
        help="a hub URL, or a linked hub's name with --via; repeat for more"
    )
    ask.add_argument("--via", metavar="URL", help=clilinks.VIA_HELP + "; when it is also a --hub, "
                     "it is asked alone (its peers are not asked through it again)")
    ask.add_argument("--format", choices=("table", "json", "yaml"), default="table")
    ask.add_argument("--sort", choices=SORT_KEYS, default="start",
                     help="order of the offers: earliest start, most cores or memory, cheapest "
                          "(cost), or least data to move (proximity)")
    _add_common(ask, many_hubs=True)
    ask.set_defaults(func=_ask)

    ask.add_argument("--keep-previous", action="store_true",
                     help="keep the open offers of your previous ask (by default they are rejected "
                          "first on the hubs asked again, so they do not hold room)")

    for name, phase, text in (
        ("accept", "ACCEPTED", "accept an offer; its siblings are rejected, on its hub and on the "
                               "other hubs of the same ask (tokens as for ask)"),
        ("reject", "REJECTED", "reject an offer"),
        ("cancel", "CANCELLED", "cancel an offer or a session"),
    ):
        command = _add_session_command(sub, name, text)
        command.set_defaults(func=_update_command(phase), keep_others=name != "accept")
        if name == "accept":
            command.add_argument("--keep-others", action="store_true",
                                 help="keep the offers of the same ask on the other hubs")

    _add_session_command(sub, "show", "show an offer or session").set_defaults(func=_show)

    sessions = sub.add_parser("sessions", help="list your sessions on one or many hubs")
    sessions.add_argument("--hub", action="append", required=True, metavar="URL|NAME",
                          help="the hub (or broker) URL, or a linked hub's name with --via; repeat")
    sessions.add_argument("--via", metavar="URL", help=clilinks.VIA_HELP)
    sessions.add_argument("--owner", metavar="NAME", help="admins: this user's sessions")
    sessions.add_argument("--offers", action="store_true", help="include open offers")
    sessions.add_argument("--format", choices=("table", "json", "yaml"), default="table")
    _add_common(sessions, many_hubs=True)
    sessions.set_defaults(func=_sessions)

    watch = sub.add_parser(
        "watch",
        help="follow a session until it is available or ends",
        description="Poll a session and print each change of phase, until it is AVAILABLE "
        "(exit 0) or ends (COMPLETED: 0; FAILED, CANCELLED, REJECTED, EXPIRED: 1).",
    )
    watch.add_argument("session", metavar="URL|UUID", help="the session's URL, or its uuid")
    watch.add_argument("--hub", metavar="URL|NAME", help="the hub (or broker) URL, when giving a uuid; "
                       "a linked hub's name with --via")
    watch.add_argument("--via", metavar="URL", help=clilinks.VIA_HELP)
    watch.add_argument(
        "--interval", type=_positive, default=2.0, metavar="S",
        help="seconds (or ISO 8601) between polls (default: 2)"
    )
    _add_common(watch)
    watch.set_defaults(func=_watch)
    clilinks.add_commands(sub, _add_common)
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
        code = int(asyncio.run(args.func(args)))
        sys.stdout.flush()  # here, so that a closed pipe is seen below, not at exit
        return code
    except UsageError as e:
        print(f"execplanner: {e}", file=sys.stderr)
        return 2
    except (BrokerError, httpx.HTTPError, ValueError) as e:
        print(f"execplanner: {describe_error(e)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the reader went away (`execplanner sessions | head`): stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)  # Python flushes stdout at exit: to nowhere
        os.dup2(devnull, sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, as a command the shell's pipe stopped


if __name__ == "__main__":
    sys.exit(main())
