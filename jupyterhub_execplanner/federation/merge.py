"""The pure rules of federation: hop counting, loop cutting, and merging peers' answers with ours.

Nothing here does I/O. :mod:`.peers` asks the peers and calls these functions with what came back.

A request a broker forwards carries ``X-Execplanner-Via: <id>,<id>,...``: the ids of the brokers it
has passed through, the first one first. Each broker's id is stable (generated once and kept in its
database). A broker that finds its own id in Via is in a loop: it answers NO with a ``loop`` message
and asks nobody (its offers are already being gathered by the first visit). A request whose Via has
``max_hops`` ids is answered from the broker's own offers only. ``X-Execplanner-Timeout`` carries
the seconds the sender will wait; a peer that forwards further waits for its own peers less than
that, so that its answer still arrives in time.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from ..client import HubAnswer
from ..cliformat import session_start
from ..model import messages as msg
from ..model.lookup import section
from ..model.messages import Message, parse_time
from ..model.offer import RelayedSession
from ..model.phases import HOLDING, Phase

VIA_HEADER = "X-Execplanner-Via"
TIMEOUT_HEADER = "X-Execplanner-Timeout"
PEERS_HEADER = "X-Execplanner-Peers"  # "none": answer from this hub alone (the panel asks each hub itself)

LOOP = "urn:execplanner:federation-loop"
HOP_LIMIT = "urn:execplanner:federation-hop-limit"
PEER_TIMEOUT = "urn:execplanner:peer-timeout"
PEER_ERROR = "urn:execplanner:peer-error"
PEER_NO = "urn:execplanner:peer-no"
PEER_MESSAGE = "urn:execplanner:peer-message"
PEER_OFFER_SKIPPED = "urn:execplanner:peer-offer-skipped"
SIBLING_NOT_REJECTED = "urn:execplanner:peer-sibling-not-rejected"
PEER_IDENTITY = "urn:execplanner:peer-identity"  # which account a peer was asked with
PEER_STALE = "urn:execplanner:peer-stale"

MAX_VIA = 32  # ids read from a Via header; more is not a real chain
MIN_BUDGET = 0.25  # seconds: below this, asking peers is pointless
_ID = re.compile(r"^[A-Za-z0-9._:/@+-]{1,200}$")
_FAR = datetime.max.replace(tzinfo=timezone.utc)
_UUID = re.compile(r"^[0-9a-fA-F-]{32,36}$")


# -- hop counting ---------------------------------------------------------------------------------


def parse_via(value: str | None) -> tuple[str, ...]:
    """The broker ids of a Via header, in order; blanks and malformed ids are dropped."""
    if not value:
        return ()
    ids = [part.strip() for part in value.split(",")]
    return tuple(i for i in ids if _ID.match(i))[:MAX_VIA]


def format_via(via: Sequence[str], own_id: str) -> str:
    """The Via header this broker sends on: what it received, then its own id."""
    return ",".join([*via, own_id])


def parse_timeout(value: str | None) -> float | None:
    """The seconds of an ``X-Execplanner-Timeout`` header; None when absent or not a positive number."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds > 0 else None


def budget(peer_timeout: float, caller_timeout: float | None) -> float:
    """How long to wait for peers: ``peer_timeout``, less when the caller waits less than that (a
    margin for our own work and the way back: a fifth of the caller's time plus 0.2 s)."""
    if caller_timeout is None:
        return peer_timeout
    return min(peer_timeout, caller_timeout * 0.8 - 0.2)


@dataclass(frozen=True)
class Route:
    """What to do with one incoming request: ask the peers (``forward``) within ``timeout`` seconds,
    with ``via`` as the Via header; ``message`` says why not, when it is worth saying."""

    forward: bool
    loop: bool = False
    via: str = ""
    timeout: float = 0.0
    message: Message | None = None


def decide_route(
    own_id: str,
    via: Sequence[str],
    *,
    has_peers: bool,
    max_hops: int,
    peer_timeout: float,
    caller_timeout: float | None = None,
) -> Route:
    """Whether this broker asks its peers for a request that arrived with ``via``."""
    if own_id in via:
        return Route(False, loop=True, message=loop_message(own_id, via))
    if not has_peers:
        return Route(False)
    if len(via) >= max_hops:
        return Route(False, message=msg.info(
            HOP_LIMIT,
            "This broker did not ask its peers: the request has already passed ${hops} broker(s), "
            "the most this broker forwards (max_hops ${max_hops}).",
            hops=len(via), max_hops=max_hops,
        ))  # fmt: skip
    wait = budget(peer_timeout, caller_timeout)
    if wait < MIN_BUDGET:
        return Route(False, message=msg.info(
            HOP_LIMIT,
            "This broker did not ask its peers: the caller waits only ${seconds}s.",
            seconds=f"{caller_timeout:g}",
        ))  # fmt: skip
    return Route(True, via=format_via(via, own_id), timeout=wait)


def loop_message(own_id: str, via: Sequence[str]) -> Message:
    return msg.warn(
        LOOP,
        "This broker (${broker}) has already handled this request on its way here (via ${via}): "
        "it answers once, on the first visit, and does not forward it again.",
        broker=own_id,
        via=", ".join(via),
    )


# -- what the peers said ----------------------------------------------------------------------------


def is_timeout(answer: HubAnswer) -> bool:
    return not answer.ok and (answer.error or "").startswith("timed out")


def peer_messages(answer: HubAnswer) -> list[Message]:
    """Messages for the merged answer about one peer's answer.

    No answer (timeout, error, not an offer set): WARN naming the peer and the reason. A NO: each of
    its reasons as INFO naming the peer. A YES: its own messages, naming the peer, at their level
    (ERROR at most WARN: the merged answer is not an error because of a peer).
    """
    peer = answer.hub
    if not answer.ok:
        kind = PEER_TIMEOUT if is_timeout(answer) else PEER_ERROR
        return [msg.warn(kind, "Peer ${peer} gave no answer: ${reason}.", peer=peer,
                         reason=answer.error or "no reason")]
    doc = answer.offerset if isinstance(answer.offerset, dict) else {}
    result = doc.get("result")
    if result not in ("YES", "NO"):
        return [msg.warn(PEER_ERROR, "Peer ${peer} gave no answer: its answer has no result "
                         "YES or NO.", peer=peer)]
    said = [m for m in _messages_of(doc)]
    if result == "NO":
        if not said:
            return [msg.info(PEER_NO, "Peer ${peer} said NO (it gave no reason).", peer=peer)]
        return [_relay(peer, m, "INFO", PEER_NO) for m in said]
    return [_relay(peer, m, "WARN" if m.level == "ERROR" else m.level, PEER_MESSAGE) for m in said]


def _messages_of(doc: Mapping[str, Any]) -> list[Message]:
    meta = section(doc, "meta")
    found = []
    for item in meta.get("messages") or []:
        if isinstance(item, dict):
            try:
                found.append(Message.from_dict(item))
            except (ValueError, TypeError):
                continue
    return found


def _relay(peer: str, m: Message, level: str, kind: str) -> Message:
    values = {"peer": peer, "message": m.message, "peer_kind": m.kind}
    return Message(kind, level, "Peer ${peer}: ${message}", values, m.time or msg.utcnow())


# -- merging --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Merged:
    """One offer of a merged answer: ``peer`` None for our own, else the peer's name."""

    doc: dict[str, Any]
    peer: str | None = None

    @property
    def uuid(self) -> str:
        return str(self.doc["meta"]["uuid"])


@dataclass
class MergeResult:
    offers: list[Merged] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)

    @property
    def result(self) -> str:
        return "YES" if self.offers else "NO"


def peer_offers(answer: HubAnswer, taken: set[str], known: Callable[[str], bool] = lambda _: False
                ) -> tuple[list[dict[str, Any]], list[Message]]:
    """A peer's usable offers (with a uuid and a URL, not already taken in this merge nor ``known``
    to this broker from an earlier one), and why any were left out."""
    if not answer.ok or not isinstance(answer.offerset, dict):
        return [], []
    offers, skipped = [], 0
    for offer in answer.offerset.get("offers") or []:
        meta = offer.get("meta") if isinstance(offer, dict) else None
        uuid = meta.get("uuid") if isinstance(meta, dict) else None
        url = meta.get("url") if isinstance(meta, dict) else None
        if (not isinstance(uuid, str) or not _UUID.match(uuid) or uuid in taken or known(uuid)
                or not isinstance(url, str) or not url.startswith(("http://", "https://"))):
            skipped += 1
            continue
        taken.add(uuid)
        offers.append(offer)
    notes = []
    if skipped:
        notes.append(msg.warn(
            PEER_OFFER_SKIPPED,
            "Peer ${peer}: ${count} offer(s) left out (no uuid or URL, or a uuid already used).",
            peer=answer.hub, count=skipped,
        ))  # fmt: skip
    return offers, notes


def merge(local: Sequence[dict[str, Any]], answers: Sequence[HubAnswer],
          known: Callable[[str], bool] = lambda _: False) -> MergeResult:
    """Our offers and the peers' in one list, with messages about the peers. A peer offer whose uuid
    is ``known`` (an offer or session this broker already holds: a peer that repeats uuids) is left
    out with a message.

    Order: earliest start first; offers that start together keep the order of their source (ours
    first, then the peers in the order they are declared) and each source's own order.
    """
    keyed: list[tuple[tuple[datetime, int, int], Merged]] = []
    taken = {str(d["meta"]["uuid"]) for d in local}
    for position, doc in enumerate(local):
        keyed.append(((session_start(doc) or _FAR, 0, position), Merged(doc)))
    messages: list[Message] = []
    for source, answer in enumerate(answers, start=1):
        offers, notes = peer_offers(answer, taken, known)
        messages += [*peer_messages(answer), *notes]
        for position, doc in enumerate(offers):
            keyed.append(((session_start(doc) or _FAR, source, position), Merged(doc, answer.hub)))
    keyed.sort(key=lambda item: item[0])
    return MergeResult([m for _, m in keyed], messages)


def in_order(uuids: Sequence[str], docs: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """``docs`` (offers or sessions) in the order of ``uuids``; the rest after them."""
    order = {u: i for i, u in enumerate(uuids)}
    return sorted(docs, key=lambda d: order.get(str((d.get("meta") or {}).get("uuid")), len(order)))


# -- relayed sessions -----------------------------------------------------------------------------


# a relayed document's phase is a string: the phases whose offer or session is still alive, and
# those that are offers rather than sessions
IN_FLIGHT = frozenset(p.value for p in HOLDING)
NOT_SESSIONS = frozenset(p.value for p in (Phase.OFFERED, Phase.REJECTED, Phase.EXPIRED))


def relayed_from(merged: Merged, offerset: str, owner: str, now: datetime) -> RelayedSession:
    doc = merged.doc
    return RelayedSession(
        uuid=merged.uuid,
        offerset=offerset,
        owner=owner,
        peer=merged.peer or "",
        remote_url=str(doc["meta"]["url"]),
        phase=str(doc.get("phase") or "OFFERED"),
        doc=doc,
        created=now,
        modified=now,
    )


def worth_refreshing(r: RelayedSession, now: datetime) -> bool:
    """A relayed session whose phase may have changed on the peer: in flight, and for an offer,
    not past its expiry (an expired offer's phase is known without asking)."""
    if r.phase not in IN_FLIGHT:
        return False
    if r.phase == "OFFERED":
        try:
            return parse_time(str(r.doc.get("expires"))) > now
        except ValueError:
            return True
    return True


def stale_note(peer: str, reason: str, since: datetime) -> Message:
    return msg.warn(
        PEER_STALE,
        "Peer ${peer} did not answer (${reason}): this is what it said at ${since}.",
        peer=peer, reason=reason, since=since,
    )  # fmt: skip


def with_messages(doc: dict[str, Any], notes: Sequence[Message]) -> dict[str, Any]:
    """A copy of a peer's document with ``notes`` added to its ``meta.messages``."""
    if not notes:
        return doc
    meta = dict(doc.get("meta") or {})
    meta["messages"] = [*(meta.get("messages") or []), *(m.to_dict() for m in notes)]
    return {**doc, "meta": meta}
