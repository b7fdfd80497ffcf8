"""Persistence of offersets and sessions with SQLAlchemy (SQLite by default, PostgreSQL by URL).

The store only reads and writes rows; it holds no policy. Every row keeps what is needed to rebuild
the record exactly after a restart of the service: the request as a canonical v1.0 document, the offer
as a plain dict, messages and connectors as lists.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Index,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    func,
    select,
    update,
)
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Engine

from ..model.messages import Message, format_time, parse_time
from ..model.offer import (
    DataPlacement,
    Figure,
    OfferPlan,
    OfferSetRecord,
    SessionRecord,
)
from ..model.phases import Phase
from ..model.render import request_from_doc, request_to_doc
from ..model.timing import utc as _utc  # SQLite gives back naive datetimes; we store UTC

metadata = MetaData()

offersets = Table(
    "execplanner_offersets",
    metadata,
    Column("uuid", String(36), primary_key=True),
    Column("owner", String(255), nullable=False, index=True),
    Column("name", String(255), nullable=False),
    Column("created", DateTime(timezone=True), nullable=False),
    Column("result", String(8), nullable=False),
    Column("messages", JSON, nullable=False),
    Column("sessions", JSON, nullable=False),
)

sessions = Table(
    "execplanner_sessions",
    metadata,
    Column("uuid", String(36), primary_key=True),
    Column("offerset", String(36), nullable=False, index=True),
    Column("owner", String(255), nullable=False, index=True),
    Column("name", String(255), nullable=False),
    Column("phase", String(16), nullable=False),
    Column("created", DateTime(timezone=True), nullable=False),
    Column("modified", DateTime(timezone=True), nullable=False),
    Column("expires", DateTime(timezone=True), nullable=False),
    Column("request", JSON, nullable=False),
    Column("offer", JSON, nullable=False),
    Column("messages", JSON, nullable=False),
    Column("connectors", JSON, nullable=False),
    Column("server_name", String(64)),
    Column("remote_url", Text),
    Index("ix_execplanner_sessions_phase", "phase"),
)


_INSERT_OFFERSET = offersets.insert()
_INSERT_SESSION = sessions.insert()

log = logging.getLogger(__name__)

# seconds a statement waits for a lock held by another connection before it gives up (SQLite). The
# manager is synchronous: a long wait would hold every request of the service, so keep it short
BUSY_TIMEOUT = 2.0
RETRY_AFTER = 5  # seconds a client is asked to wait when the database cannot be used


class StoreUnavailable(RuntimeError):
    """The database cannot be read or written now (read-only, locked, full, damaged, gone).
    Nothing was changed: every write is one transaction. ``str()`` says why, for the log and for a
    503 answer; ``retry_after`` is how long to wait before trying again."""

    def __init__(self, reason: str, retry_after: int = RETRY_AFTER):
        super().__init__(reason)
        self.retry_after = retry_after


def unavailable_reason(error: BaseException) -> str:
    """A one-line reason for a database error, without SQL or parameters (they may hold user data)."""
    orig = getattr(error, "orig", None)
    text = str(orig if orig is not None else error).splitlines()[0] if str(orig or error) else ""
    return text[:200] or type(error).__name__


_T = TypeVar("_T")


_DRIVER_ERRORS = (sa_exc.OperationalError, sa_exc.DatabaseError, sa_exc.InterfaceError)


def _guarded(method: Callable[..., _T]) -> Callable[..., _T]:
    """Turn the driver's errors of a store method into StoreUnavailable (the caller answers 503).

    SQLite opens a database it cannot write read-only, without saying so, and such a connection stays
    read-only in the pool after the file is writable again. So a "readonly database" error drops
    the pool's connections and tries the call once more on a fresh one (the failed transaction
    changed nothing): after a read-only spell the first write succeeds instead of answering 503."""

    @functools.wraps(method)
    def guarded(*args: Any, **kwargs: Any) -> _T:
        try:
            return method(*args, **kwargs)
        except _DRIVER_ERRORS as e:
            engine = getattr(args[0], "engine", None) if args else None
            if not isinstance(engine, Engine) or "readonly" not in unavailable_reason(e).lower():
                raise StoreUnavailable(unavailable_reason(e)) from e
            engine.dispose()
        try:
            return method(*args, **kwargs)
        except _DRIVER_ERRORS as e:
            raise StoreUnavailable(unavailable_reason(e)) from e

    return guarded


def offer_to_dict(offer: OfferPlan) -> dict[str, Any]:
    return {
        "profile": offer.profile,
        "profile_name": offer.profile_name,
        "cores": offer.cores,
        "memory": offer.memory,
        "accelerators": dict(offer.accelerators),
        "start": format_time(offer.start),
        "duration": offer.duration.total_seconds(),
        "preparing": offer.preparing.total_seconds(),
        "releasing": offer.releasing.total_seconds(),
        "pool": offer.pool,
        "image": offer.image,
        "notes": [m.to_dict() for m in offer.notes],
        "options": dict(offer.options),
        "costs": [asdict(f) for f in offer.costs],
        "metrics": [asdict(f) for f in offer.metrics],
        "data": [asdict(d) for d in offer.data],
    }


def offer_from_dict(doc: dict[str, Any]) -> OfferPlan:
    return OfferPlan(
        profile=doc["profile"],
        profile_name=doc["profile_name"],
        cores=int(doc["cores"]),
        memory=int(doc["memory"]),
        accelerators={str(k): int(v) for k, v in (doc.get("accelerators") or {}).items()},
        start=parse_time(doc["start"]),
        duration=timedelta(seconds=doc["duration"]),
        preparing=timedelta(seconds=doc["preparing"]),
        releasing=timedelta(seconds=doc["releasing"]),
        pool=doc.get("pool") or "default",
        image=doc.get("image"),
        notes=tuple(Message.from_dict(m) for m in doc.get("notes") or ()),
        options={str(k): str(v) for k, v in (doc.get("options") or {}).items()},
        costs=tuple(Figure(**f) for f in doc.get("costs") or ()),
        metrics=tuple(Figure(**f) for f in doc.get("metrics") or ()),
        data=tuple(DataPlacement(**d) for d in doc.get("data") or ()),
    )


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_time(value)
    raise TypeError(f"cannot store {type(value).__name__} as JSON")


def _dumps(value: Any) -> str:
    return json.dumps(value, default=_json_default, separators=(",", ":"))


class Store:
    """Rows in, records out. One instance per service process."""

    def __init__(self, url: str, *, echo: bool = False, background_checkpoints: bool = False):
        """``background_checkpoints``: SQLite does not fold its write-ahead log into the database
        inside a commit (which stalls that request); the owner calls :meth:`checkpoint` off the
        request path instead. Without it, SQLite checkpoints by itself as usual."""
        kwargs: dict[str, Any] = {"echo": echo, "json_serializer": _dumps, "future": True}
        self.sqlite = url.startswith("sqlite")
        if self.sqlite:
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": BUSY_TIMEOUT}
        self.engine: Engine = create_engine(url, **kwargs)
        if self.sqlite:
            auto = 0 if background_checkpoints else 1000  # 1000 pages is SQLite's default

            def pragmas(dbapi_connection: Any, _record: Any) -> None:
                _sqlite_pragmas(dbapi_connection, auto)

            event.listen(self.engine, "connect", pragmas)
        self._damaged: set[str] = set()  # uuids of rows already logged as unreadable
        try:
            metadata.create_all(self.engine)
        except (sa_exc.OperationalError, sa_exc.DatabaseError, sa_exc.InterfaceError) as e:
            self.engine.dispose()
            raise StoreUnavailable(unavailable_reason(e)) from e

    @_guarded
    def checkpoint(self) -> None:
        """Fold the write-ahead log into the database without waiting for readers or writers."""
        if self.sqlite:
            with self.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")

    def close(self) -> None:
        self.engine.dispose()

    # -- writes ---------------------------------------------------------------------------------

    @_guarded
    def add_offerset(self, offerset: OfferSetRecord, records: Sequence[SessionRecord]) -> None:
        """Insert an offerset and its offers in one transaction (prebuilt statements, executed
        with parameter lists: the hot path of ``POST requests``)."""
        request_docs: dict[int, dict[str, Any]] = {}  # the offers of a set share one request
        rows = []
        for r in records:
            doc = request_docs.get(id(r.request))
            if doc is None:
                doc = request_docs[id(r.request)] = request_to_doc(r.request)
            rows.append(self._session_row(r, doc))
        with self.engine.begin() as conn:
            conn.execute(_INSERT_OFFERSET, [self._offerset_row(offerset)])
            if rows:
                conn.execute(_INSERT_SESSION, rows)

    @_guarded
    def save_sessions(self, records: Iterable[SessionRecord]) -> None:
        """Write the mutable columns of existing sessions, in one transaction."""
        rows = list(records)
        if not rows:
            return
        with self.engine.begin() as conn:
            for r in rows:
                conn.execute(update(sessions).where(sessions.c.uuid == r.uuid).values(**self._changing(r)))

    # -- reads ----------------------------------------------------------------------------------

    @_guarded
    def offerset(self, uuid: str) -> OfferSetRecord | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(offersets).where(offersets.c.uuid == uuid)).first()
        if row is None:
            return None
        try:
            return self._offerset_from_row(row)
        except Exception as e:  # noqa: BLE001 (a damaged row reads as no offerset)
            log.error("Offerset %s in the database cannot be read (%s: %s)", uuid, type(e).__name__, e)
            return None

    @_guarded
    def session(self, uuid: str) -> SessionRecord | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(sessions).where(sessions.c.uuid == uuid)).first()
        found = self._records([row]) if row else []
        return found[0] if found else None

    @_guarded
    def sessions_of(self, offerset: str) -> list[SessionRecord]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(sessions).where(sessions.c.offerset == offerset)).all()
        return self._records(rows)

    @_guarded
    def sessions_in(self, phases: Iterable[Phase]) -> list[SessionRecord]:
        wanted = [p.value for p in phases]
        with self.engine.connect() as conn:
            rows = conn.execute(select(sessions).where(sessions.c.phase.in_(wanted))).all()
        return self._records(rows)

    @_guarded
    def list_sessions(
        self, *, owner: str | None = None, include_offers: bool = False, limit: int = 500
    ) -> list[SessionRecord]:
        query = select(sessions)
        if owner is not None:
            query = query.where(sessions.c.owner == owner)
        if not include_offers:
            excluded = [Phase.OFFERED.value, Phase.REJECTED.value, Phase.EXPIRED.value]
            query = query.where(sessions.c.phase.not_in(excluded))
        query = query.order_by(sessions.c.created.desc()).limit(limit)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return self._records(rows)

    @_guarded
    def phase_counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(sessions.c.phase, func.count()).group_by(sessions.c.phase)
            ).all()
        return {phase: count for phase, count in rows}

    # -- rows -----------------------------------------------------------------------------------

    def _records(self, rows: Iterable[Any]) -> list[SessionRecord]:
        """The records of ``rows``, leaving out (and logging once) any row this version cannot read,
        so that one damaged row never makes a listing, a start or the phase driver fail."""
        records = []
        for row in rows:
            try:
                records.append(self._session_from_row(row))
            except Exception as e:  # noqa: BLE001 (whatever is wrong with the row)
                uuid = str(getattr(row, "uuid", "?"))
                if uuid not in self._damaged:
                    self._damaged.add(uuid)
                    log.error("Session %s in the database cannot be read (%s: %s); it is left out "
                              "of every listing and not driven", uuid, type(e).__name__, e)
        return records

    @staticmethod
    def _offerset_row(o: OfferSetRecord) -> dict[str, Any]:
        return {
            "uuid": o.uuid,
            "owner": o.owner,
            "name": o.name,
            "created": o.created,
            "result": o.result,
            "messages": [m.to_dict() for m in o.messages],
            "sessions": list(o.sessions),
        }

    @staticmethod
    def _changing(r: SessionRecord) -> dict[str, Any]:
        """The columns of a session that change after it is made (what :meth:`save_sessions` writes)."""
        return {
            "phase": r.phase.value,
            "modified": r.modified,
            "messages": [m.to_dict() for m in r.messages],
            "connectors": r.connectors,
            "server_name": r.server_name,
            "remote_url": r.remote_url,
        }

    @classmethod
    def _session_row(cls, r: SessionRecord, request_doc: dict[str, Any] | None = None) -> dict[str, Any]:
        return {
            "uuid": r.uuid,
            "offerset": r.offerset,
            "owner": r.owner,
            "name": r.name,
            "created": r.created,
            "expires": r.expires,
            "request": request_doc if request_doc is not None else request_to_doc(r.request),
            "offer": offer_to_dict(r.offer),
            **cls._changing(r),
        }

    @staticmethod
    def _offerset_from_row(row: Any) -> OfferSetRecord:
        return OfferSetRecord(
            uuid=row.uuid,
            owner=row.owner,
            name=row.name,
            created=_utc(row.created),
            result=row.result,
            messages=[Message.from_dict(m) for m in row.messages],
            sessions=list(row.sessions),
        )

    @staticmethod
    def _session_from_row(row: Any) -> SessionRecord:
        return SessionRecord(
            uuid=row.uuid,
            offerset=row.offerset,
            owner=row.owner,
            name=row.name,
            phase=Phase(row.phase),
            created=_utc(row.created),
            modified=_utc(row.modified),
            expires=_utc(row.expires),
            request=request_from_doc(row.request),
            offer=offer_from_dict(row.offer),
            messages=[Message.from_dict(m) for m in row.messages],
            connectors=list(row.connectors),
            server_name=row.server_name,
            remote_url=row.remote_url,
        )


def _sqlite_pragmas(dbapi_connection: Any, auto_checkpoint: int) -> None:
    """WAL lets readers run during a write; NORMAL sync is durable across a crash of the process."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA wal_autocheckpoint={int(auto_checkpoint)}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
