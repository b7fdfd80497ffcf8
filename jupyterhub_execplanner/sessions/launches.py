"""Launches: the nonce the phase driver issued for the latest start of each session's server, whether
the hub has used it, and which hub start the broker saw last.

A launch is valid once. The driver records the nonce of a start (:meth:`LaunchStore.issue`) before it
asks the hub to start the server; the hub's pre-spawn hook claims it (``POST sessions/{uuid}/launch``)
before applying the launch, and :meth:`LaunchStore.claim` marks it used in one conditional ``UPDATE``,
so two claims of one nonce can never both succeed. Issuing a new nonce replaces the old one, which
can then no longer be claimed.

The hub boot id (``$EXECPLANNER_HUB_BOOT``, new at every hub start) is kept in a small key/value
table here: when the service finds another one than it kept, the hub has restarted since (and, with
JupyterHub's default ``cleanup_servers``, stopped every server).

Rows live in the broker's database (the store's engine), like the snapshots; nonces are kept as they
are, since a nonce alone is not enough to claim a launch (the claim needs the launch secret).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, DateTime, MetaData, String, Table, Text, delete, insert, select, update
from sqlalchemy.engine import Engine

from ..model.offer import SessionRecord
from ..model.phases import Phase
from ..owners import hub_name, is_user

metadata = MetaData()

launches = Table(
    "execplanner_launches",
    metadata,
    Column("session", String(36), primary_key=True),
    Column("nonce", String(64), nullable=False),
    Column("issued", DateTime(timezone=True), nullable=False),
    Column("claimed", DateTime(timezone=True)),  # NULL until the hub used it
)

hub_state = Table(
    "execplanner_hub_state",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

BOOT_KEY = "hub_boot"

USED = "this launch was already used"
SUPERSEDED = "this launch is not the session's current one (the broker issued a newer one)"
NOT_ISSUED = "the broker issued no launch for this session"


def refusal(record: SessionRecord | None, user: str, server: str) -> str | None:
    """Why the hub may not start ``user``'s server ``server`` for this session now, or None. The
    nonce is checked (and claimed) by :meth:`LaunchStore.claim`."""
    if record is None:
        return "the broker has no such session"
    if not is_user(record.owner) or hub_name(record.owner) != user or record.server_name != server:
        return f"the session's server is not {user}/{server}"
    if record.phase is not Phase.PREPARING:
        return f"the session is {record.phase.value}"
    return None


class LaunchStore:
    """Launch nonces and the last hub boot id, in the broker's database; ``engine`` is the store's."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        metadata.create_all(engine)

    def issue(self, session: str, nonce: str, now: datetime) -> None:
        """``nonce`` is the session's current launch, not claimed yet (any earlier one is void)."""
        with self.engine.begin() as conn:
            conn.execute(delete(launches).where(launches.c.session == session))
            conn.execute(insert(launches), [{"session": session, "nonce": nonce, "issued": now}])

    def claim(self, session: str, nonce: str, now: datetime) -> str | None:
        """Mark ``nonce`` used if it is the session's current launch and unused: None. Otherwise
        the reason it cannot be used, and nothing changes."""
        with self.engine.begin() as conn:
            claimed = conn.execute(
                update(launches)
                .where(launches.c.session == session, launches.c.nonce == nonce,
                       launches.c.claimed.is_(None))
                .values(claimed=now)
            ).rowcount
            if claimed == 1:
                return None
            row = conn.execute(select(launches).where(launches.c.session == session)).first()
        if row is None:
            return NOT_ISSUED
        return USED if row.nonce == nonce else SUPERSEDED

    def current(self, session: str) -> str | None:
        """The session's current nonce, or None."""
        with self.engine.connect() as conn:
            return conn.execute(
                select(launches.c.nonce).where(launches.c.session == session)
            ).scalar()

    def hub_boot(self) -> str | None:
        """The hub boot id the service kept, or None before the first."""
        with self.engine.connect() as conn:
            return conn.execute(select(hub_state.c.value).where(hub_state.c.key == BOOT_KEY)).scalar()

    def set_hub_boot(self, boot: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(hub_state).where(hub_state.c.key == BOOT_KEY))
            conn.execute(insert(hub_state), [{"key": BOOT_KEY, "value": boot}])
