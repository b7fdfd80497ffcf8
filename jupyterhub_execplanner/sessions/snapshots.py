"""Snapshots: a few small text files (a notebook and its requirements) kept for a while under a
capability URL, so that a server on any hub can fetch them without a token.

The JupyterLab panel's server extension uploads the notebook a user asks to run elsewhere; the offer
it sends to every hub names the snapshot's URLs as the notebook's ``location`` and ``requirements``.

Rows live in the broker's database (the same one as the sessions), so snapshots survive a restart
of the service. The capability token is never stored: only its SHA-256, so a copy of the database
does not give the URLs away. The store holds no policy (sizes, lifetimes): the handlers do.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid as uuidlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    delete,
    func,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import Engine, Row

from ..model.timing import utc as _utc  # SQLite gives back naive datetimes; we store UTC
from .store import _guarded

metadata = MetaData()

snapshots = Table(
    "execplanner_snapshots",
    metadata,
    Column("uuid", String(36), primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("owner", String(255), nullable=False, index=True),
    Column("created", DateTime(timezone=True), nullable=False),
    Column("expires", DateTime(timezone=True), nullable=False, index=True),
    Column("files", JSON, nullable=False),  # {file name: text}
    Column("size", Integer),  # bytes of the files (UTF-8); NULL in rows of versions before 0.5
)

TOKEN_BYTES = 32


def new_token() -> str:
    """A capability token: 32 random bytes, URL-safe base64 (43 characters)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Snapshot:
    uuid: str
    owner: str
    created: datetime
    expires: datetime
    files: dict[str, str]


class SnapshotStore:
    """Snapshots in the broker's database; ``engine`` is the session store's."""

    @_guarded
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        metadata.create_all(engine)
        columns = {c["name"] for c in inspect(engine).get_columns(snapshots.name)}
        if "size" not in columns:  # a database of an earlier version: add the column, keep the rows
            with engine.begin() as conn:
                conn.execute(text(f"ALTER TABLE {snapshots.name} ADD COLUMN size INTEGER"))

    @_guarded
    def add(
        self, owner: str, files: dict[str, str], now: datetime, expires: datetime
    ) -> tuple[Snapshot, str]:
        """Keep ``files`` for ``owner`` until ``expires``; the snapshot and its (only) token."""
        token = new_token()
        snapshot = Snapshot(str(uuidlib.uuid4()), owner, now, expires, dict(files))
        size = sum(len(t.encode("utf-8")) for t in files.values())
        with self.engine.begin() as conn:
            conn.execute(
                snapshots.insert(),
                [
                    {
                        "uuid": snapshot.uuid,
                        "token_hash": token_hash(token),
                        "owner": owner,
                        "created": now,
                        "expires": expires,
                        "files": snapshot.files,
                        "size": size,
                    }
                ],
            )
        return snapshot, token

    @_guarded
    def by_token(self, token: str, now: datetime) -> Snapshot | None:
        """The snapshot a capability token opens, unless it has expired."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(snapshots).where(snapshots.c.token_hash == token_hash(token))
            ).first()
        if row is None or _utc(row.expires) <= now:
            return None
        return self._from_row(row)

    @_guarded
    def held(self, owner: str, now: datetime) -> tuple[int, datetime | None]:
        """The bytes of ``owner``'s unexpired snapshots, and when the oldest of them expires."""
        size = func.coalesce(snapshots.c.size, func.length(snapshots.c.files))
        query = select(func.coalesce(func.sum(size), 0), func.min(snapshots.c.expires)).where(
            snapshots.c.owner == owner, snapshots.c.expires > now
        )
        with self.engine.connect() as conn:
            total, first = conn.execute(query).one()
        return int(total or 0), _utc(first) if first is not None else None

    @_guarded
    def get(self, uuid: str) -> Snapshot | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(snapshots).where(snapshots.c.uuid == uuid)).first()
        return None if row is None else self._from_row(row)

    @_guarded
    def delete(self, uuid: str) -> bool:
        with self.engine.begin() as conn:
            return conn.execute(delete(snapshots).where(snapshots.c.uuid == uuid)).rowcount > 0

    @_guarded
    def expire(self, now: datetime) -> int:
        """Delete every snapshot whose time is up; how many were deleted."""
        with self.engine.begin() as conn:
            return conn.execute(delete(snapshots).where(snapshots.c.expires <= now)).rowcount

    @staticmethod
    def _from_row(row: Row[Any]) -> Snapshot:
        return Snapshot(
            uuid=row.uuid,
            owner=row.owner,
            created=_utc(row.created),
            expires=_utc(row.expires),
            files=dict(row.files),
        )
