"""What the ``execplanner`` command remembers between runs, and how it finds a session by a prefix.

The last ask's offers are kept in a small JSON file (``$EXECPLANNER_CLI_STATE``, else
``$XDG_STATE_HOME/execplanner/last-ask.json``, else ``~/.local/state/execplanner/last-ask.json``):
each offer's broker, URL and uuid, and the brokers asked, in order. No token is ever written there.
A new ``ask`` rejects the previous ask's offers that are still open (``--keep-previous`` keeps them),
and ``accept`` rejects the accepted offer's siblings on the other hubs of the same ask.

The matching of uuid prefixes (:func:`match_prefix`) is pure, as git's is: a unique prefix of at least
:data:`MIN_PREFIX` characters names one uuid; several matches are an error that lists them.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STATE_ENV = "EXECPLANNER_CLI_STATE"
MIN_PREFIX = 4
UUID_LENGTH = 36


class PrefixError(ValueError):
    """No uuid, or more than one, starts with the prefix given."""


@dataclass(frozen=True)
class AskedOffer:
    """An offer made by one hub to the last ask."""

    broker: str  # the broker's base URL
    url: str  # the offer's (session's) URL
    uuid: str


def state_path(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    if env.get(STATE_ENV):
        return Path(env[STATE_ENV])
    base = env.get("XDG_STATE_HOME") or os.path.join(env.get("HOME") or "~", ".local", "state")
    return Path(os.path.expanduser(base)) / "execplanner" / "last-ask.json"


@dataclass(frozen=True)
class LastAsk:
    """The brokers the last ask went to, in the order of its ``--hub``, and the offers they made."""

    brokers: tuple[str, ...] = ()
    offers: tuple[AskedOffer, ...] = ()


def load_last_ask(path: Path) -> LastAsk:
    """The last ask; an empty one when the file is missing or not one this command wrote."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return LastAsk()
    if not isinstance(doc, dict):
        return LastAsk()
    brokers = doc.get("brokers")
    offers = doc.get("offers")
    found = []
    for item in offers if isinstance(offers, list) else []:
        if isinstance(item, dict) and all(isinstance(item.get(k), str) for k in ("broker", "url", "uuid")):
            found.append(AskedOffer(item["broker"], item["url"], item["uuid"]))
    names = [b for b in brokers if isinstance(b, str)] if isinstance(brokers, list) else []
    return LastAsk(tuple(names), tuple(found))


def save_last_ask(path: Path, ask: LastAsk) -> None:
    """Replace the remembered ask (written to a temporary file, then renamed: never half written)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {"brokers": list(ask.brokers),
           "offers": [{"broker": o.broker, "url": o.url, "uuid": o.uuid} for o in ask.offers]}
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, encoding="utf-8") as f:
        json.dump(doc, f, indent=1)
    os.replace(f.name, path)


def offers_of(broker: str, offerset: Any) -> list[AskedOffer]:
    """The offers of one hub's offer set, as remembered."""
    offers = offerset.get("offers") if isinstance(offerset, dict) else None
    found = []
    for offer in offers if isinstance(offers, list) else []:
        meta = offer.get("meta") if isinstance(offer, dict) else None
        if isinstance(meta, dict) and isinstance(meta.get("url"), str) and isinstance(meta.get("uuid"), str):
            found.append(AskedOffer(broker, meta["url"], meta["uuid"]))
    return found


def siblings(offers: Sequence[AskedOffer], accepted: str) -> list[AskedOffer]:
    """The offers of the same ask on the other hubs than the accepted one's (``accepted``: its URL
    or uuid); none when it is not one of the remembered ask's offers. The accepted offer's own hub
    rejects its siblings there itself."""
    chosen = next((o for o in offers if accepted in (o.url, o.uuid)), None)
    if chosen is None:
        return []
    return [o for o in offers if o.broker != chosen.broker]


def is_prefix(ref: str) -> bool:
    """Whether ``ref`` is a shortened uuid (not a URL, not a whole uuid)."""
    return not ref.startswith(("http://", "https://")) and len(ref.strip()) < UUID_LENGTH


def match_prefix(prefix: str, uuids: Iterable[str]) -> str:
    """The one uuid among ``uuids`` that starts with ``prefix`` (case does not matter)."""
    wanted = prefix.strip().lower()
    if len(wanted) < MIN_PREFIX:
        raise PrefixError(f"{prefix!r} is too short: give at least {MIN_PREFIX} characters of the uuid")
    found = sorted({u for u in uuids if u.lower().startswith(wanted)})
    if not found:
        raise PrefixError(f"no session or open offer of yours starts with {prefix!r} on this hub")
    if len(found) > 1:
        raise PrefixError(f"{prefix!r} is ambiguous; it starts {len(found)} uuids: {', '.join(found)}")
    return found[0]
