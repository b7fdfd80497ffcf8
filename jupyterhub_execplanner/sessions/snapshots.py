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
from datetime import datetime, timezone

from sqlalchemy import JSON, Column, DateTime, MetaData, String, Table, delete, select
from sqlalchemy.engine import Engine

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
)

TOKEN_BYTES = 32


def new_token() -> str:
    """A capability token: 32 random bytes, URL-safe base64 (43 characters)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


@dataclass(frozen=True)
class Snapshot:
    uuid: str
    owner: str
    created: datetime
    expires: datetime
    files: dict[str, str]


class SnapshotStore:
    """Snapshots in the broker's database; ``engine`` is the session store's."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        metadata.create_all(engine)

    def add(
        self, owner: str, files: dict[str, str], now: datetime, expires: datetime
    ) -> tuple[Snapshot, str]:
        """Keep ``files`` for ``owner`` until ``expires``; the snapshot and its (only) token."""
        token = new_token()
        snapshot = Snapshot(str(uuidlib.uuid4()), owner, now, expires, dict(files))
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
                    }
                ],
            )
        return snapshot, token

    def by_token(self, token: str, now: datetime) -> Snapshot | None:
        """The snapshot a capability token opens, unless it has expired."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(snapshots).where(snapshots.c.token_hash == token_hash(token))
            ).first()
        if row is None or _utc(row.expires) <= now:
            return None
        return self._from_row(row)

    def get(self, uuid: str) -> Snapshot | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(snapshots).where(snapshots.c.uuid == uuid)).first()
        return None if row is None else self._from_row(row)

    def delete(self, uuid: str) -> bool:
        with self.engine.begin() as conn:
            return conn.execute(delete(snapshots).where(snapshots.c.uuid == uuid)).rowcount > 0

    def expire(self, now: datetime) -> int:
        """Delete every snapshot whose time is up; how many were deleted."""
        with self.engine.begin() as conn:
            return conn.execute(delete(snapshots).where(snapshots.c.expires <= now)).rowcount

    @staticmethod
    def _from_row(row: object) -> Snapshot:
        return Snapshot(
            uuid=row.uuid,  # type: ignore[attr-defined]
            owner=row.owner,  # type: ignore[attr-defined]
            created=_utc(row.created),  # type: ignore[attr-defined]
            expires=_utc(row.expires),  # type: ignore[attr-defined]
            files=dict(row.files),  # type: ignore[attr-defined]
        )
