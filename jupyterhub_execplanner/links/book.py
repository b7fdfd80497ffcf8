"""The linked accounts this broker holds: one row per (user of this hub, peer), in the broker's
database, the peer's token sealed (:mod:`.sealing`). Rows are written whole, in one transaction each.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, MetaData, String, Table, Text, delete, select

from ..model.timing import utc as _utc
from ..sessions.store import Store, _guarded

metadata = MetaData()

links = Table(
    "execplanner_links",
    metadata,
    Column("owner", String(255), primary_key=True),  # the user on this hub
    Column("peer", String(64), primary_key=True),  # the peer's name in ExecPlanner.peers
    Column("remote_user", String(255), nullable=False),  # the user's name on the peer
    Column("token", Text, nullable=False),  # sealed
    Column("token_id", String(64)),
    Column("scopes", JSON, nullable=False),
    Column("created", DateTime(timezone=True), nullable=False),
    Column("expires", DateTime(timezone=True)),
    Column("broken", Text),  # why the peer refused the token (expired, revoked): link again
)

LINKED, UNLINKED, EXPIRED = "linked", "unlinked", "expired"


@dataclass(frozen=True)
class Link:
    owner: str
    peer: str
    remote_user: str
    token: str  # sealed
    token_id: str | None
    scopes: tuple[str, ...]
    created: datetime
    expires: datetime | None
    broken: str | None = None

    def state(self, now: datetime) -> str:
        """``linked``, or ``expired`` (past its expiry, or refused by the peer: link again)."""
        if self.broken or (self.expires is not None and self.expires <= now):
            return EXPIRED
        return LINKED


class LinkBook:
    @_guarded
    def __init__(self, store: Store, clock: Callable[[], datetime]) -> None:
        self.engine, self.clock = store.engine, clock
        metadata.create_all(self.engine)

    @_guarded
    def get(self, owner: str, peer: str) -> Link | None:
        query = select(links).where(links.c.owner == owner, links.c.peer == peer)
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return _link(row) if row else None

    @_guarded
    def of(self, owner: str | None) -> list[Link]:
        """``owner``'s links (everybody's for None), by user then peer."""
        query = select(links).order_by(links.c.owner, links.c.peer)
        if owner is not None:
            query = query.where(links.c.owner == owner)
        with self.engine.connect() as conn:
            return [_link(r) for r in conn.execute(query).all()]

    @_guarded
    def put(self, link: Link) -> None:
        """Keep ``link``, replacing the user's earlier link to the same peer."""
        with self.engine.begin() as conn:
            conn.execute(delete(links).where(links.c.owner == link.owner, links.c.peer == link.peer))
            conn.execute(links.insert(), [_row(link)])

    @_guarded
    def forget(self, owner: str, peer: str) -> Link | None:
        """Remove the user's link to ``peer``; the link it was (None when there was none)."""
        condition = (links.c.owner == owner) & (links.c.peer == peer)
        with self.engine.begin() as conn:
            row = conn.execute(select(links).where(condition)).first()
            if row is None:
                return None
            conn.execute(delete(links).where(condition))
        return _link(row)

    @_guarded
    def mark_broken(self, link: Link, reason: str) -> Link:
        """The peer refused the link's token: kept (so the user sees "link again"), not used."""
        with self.engine.begin() as conn:
            conn.execute(links.update().where(links.c.owner == link.owner, links.c.peer == link.peer,
                                              links.c.token == link.token).values(broken=reason[:500]))
        return replace(link, broken=reason[:500])


def _row(link: Link) -> dict[str, Any]:
    return {"owner": link.owner, "peer": link.peer, "remote_user": link.remote_user, "token": link.token,
            "token_id": link.token_id, "scopes": list(link.scopes), "created": link.created,
            "expires": link.expires, "broken": link.broken}


def _link(row: Any) -> Link:
    return Link(owner=row.owner, peer=row.peer, remote_user=row.remote_user, token=row.token,
                token_id=row.token_id, scopes=tuple(row.scopes or ()), created=_utc(row.created),
                expires=_utc(row.expires) if row.expires is not None else None, broken=row.broken)
