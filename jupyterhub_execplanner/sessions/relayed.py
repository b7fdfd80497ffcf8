"""The offers and sessions of peer brokers that this broker relays (federation), as the manager keeps
them: who may see each, which merged offerset it belongs to, and the peer's last known document; and
this broker's own id.

The session manager owns this book (``manager.relayed``) as it owns its own sessions: the federation
asks the peers and hands back what they answered; only the book writes it. Its rows live in a table of
their own in the broker's database, apart from the sessions on purpose: a relayed offer holds no
capacity here and is never driven, the peer that made it owns it.
"""

from __future__ import annotations

import uuid as uuidlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, MetaData, String, Table, Text, select, update

from ..federation.merge import NOT_SESSIONS
from ..model.offer import OfferSetRecord, RelayedSession
from ..model.timing import utc as _utc
from .store import Store, _guarded, offersets

metadata = MetaData()

relayed = Table(
    "execplanner_relayed",
    metadata,
    Column("uuid", String(36), primary_key=True),  # the peer's session uuid
    Column("offerset", String(36), nullable=False, index=True),  # our merged offerset
    Column("owner", String(255), nullable=False, index=True),
    Column("peer", String(64), nullable=False),
    Column("remote_url", Text, nullable=False),
    Column("phase", String(16), nullable=False),
    Column("doc", JSON, nullable=False),  # the peer's last known document
    Column("created", DateTime(timezone=True), nullable=False),
    Column("modified", DateTime(timezone=True), nullable=False),
)

# the relayed offers a peer made for the owner's linked account there (not for this hub's own): their
# reads and changes go to the peer with that account's token (docs/linked-accounts.md)
relayed_as = Table(
    "execplanner_relayed_as",
    metadata,
    Column("uuid", String(36), primary_key=True),  # the peer's session uuid
    Column("remote_user", String(255), nullable=False),  # the owner's name on the peer
)

federation_meta = Table(
    "execplanner_federation",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)


class RelayedBook:
    @_guarded
    def __init__(self, store: Store, clock: Callable[[], datetime]) -> None:
        self.engine, self.clock = store.engine, clock
        metadata.create_all(self.engine)
        with self.engine.connect() as conn:  # no table reads on the hot path of a hub without peers
            self._any = conn.execute(select(relayed.c.uuid).limit(1)).first() is not None
        self._broker_id: str | None = None

    @property
    def broker_id(self) -> str:
        """This broker's id in ``X-Execplanner-Via``: made once, kept in the database."""
        if self._broker_id is None:
            self._broker_id = self._stored_id(lambda: str(uuidlib.uuid4()))
        return self._broker_id

    @_guarded
    def _stored_id(self, make: Callable[[], str]) -> str:
        query = select(federation_meta.c.value).where(federation_meta.c.key == "broker_id")
        with self.engine.begin() as conn:
            found = conn.execute(query).scalar()
            if found is None:
                found = make()
                conn.execute(federation_meta.insert(), [{"key": "broker_id", "value": found}])
        return str(found)

    # -- writes -----------------------------------------------------------------------------------

    @_guarded
    def record(self, offerset: OfferSetRecord, rows: Sequence[RelayedSession],
               linked: Mapping[str, str] | None = None) -> None:
        """Keep a merged offerset (its result, messages and offer order) and the peers' offers in it,
        in one transaction; ``linked`` (peer: the owner's name there) names the peers asked as the
        owner's linked account."""
        linked = linked or {}
        with self.engine.begin() as conn:
            identities = [{"uuid": r.uuid, "remote_user": linked[r.peer]} for r in rows if r.peer in linked]
            if identities:
                conn.execute(relayed_as.insert(), identities)
            conn.execute(
                update(offersets)
                .where(offersets.c.uuid == offerset.uuid)
                .values(result=offerset.result, messages=[m.to_dict() for m in offerset.messages],
                        sessions=list(offerset.sessions))
            )
            if rows:
                conn.execute(relayed.insert(), [_row(r) for r in rows])
        self._any = self._any or bool(rows)

    @_guarded
    def remember(self, row: RelayedSession, doc: Any) -> None:
        """The peer's newest document of a relayed session (ignored unless it is a session)."""
        if not (isinstance(doc, dict) and isinstance(doc.get("phase"), str)):
            return
        row.doc, row.phase, row.modified = doc, doc["phase"], self.clock()
        with self.engine.begin() as conn:
            conn.execute(update(relayed).where(relayed.c.uuid == row.uuid)
                         .values(phase=row.phase, doc=row.doc, modified=row.modified))

    # -- reads ------------------------------------------------------------------------------------

    @_guarded
    def get(self, uuid: str) -> RelayedSession | None:
        if not self._any:
            return None
        with self.engine.connect() as conn:
            row = conn.execute(select(relayed).where(relayed.c.uuid == uuid)).first()
        return _record(row) if row else None

    @_guarded
    def linked_as(self, uuids: Iterable[str]) -> dict[str, str]:
        """Of these relayed offers, those made for a linked account: uuid -> the owner's name there."""
        wanted = list(uuids)
        if not self._any or not wanted:
            return {}
        with self.engine.connect() as conn:
            rows = conn.execute(select(relayed_as).where(relayed_as.c.uuid.in_(wanted))).all()
        return {r.uuid: r.remote_user for r in rows}

    @_guarded
    def of(self, offerset: str) -> list[RelayedSession]:
        """The relayed offers of one merged offerset."""
        if not self._any:
            return []
        with self.engine.connect() as conn:
            return _records(conn.execute(select(relayed).where(relayed.c.offerset == offerset)).all())

    @_guarded
    def listed(self, owner: str | None, include_offers: bool, limit: int = 500) -> list[RelayedSession]:
        """``owner``'s relayed sessions (everybody's for None), newest first; offers only when asked."""
        if not self._any:
            return []
        query = select(relayed)
        if owner is not None:
            query = query.where(relayed.c.owner == owner)
        if not include_offers:
            query = query.where(relayed.c.phase.not_in(list(NOT_SESSIONS)))
        query = query.order_by(relayed.c.created.desc()).limit(limit)
        with self.engine.connect() as conn:
            return _records(conn.execute(query).all())


def _row(r: RelayedSession) -> dict[str, Any]:
    return {"uuid": r.uuid, "offerset": r.offerset, "owner": r.owner, "peer": r.peer,
            "remote_url": r.remote_url, "phase": r.phase, "doc": r.doc, "created": r.created,
            "modified": r.modified}


def _record(row: Any) -> RelayedSession:
    return RelayedSession(uuid=row.uuid, offerset=row.offerset, owner=row.owner, peer=row.peer,
                          remote_url=row.remote_url, phase=row.phase, doc=dict(row.doc),
                          created=_utc(row.created), modified=_utc(row.modified))


def _records(rows: Iterable[Any]) -> list[RelayedSession]:
    return [_record(r) for r in rows]
