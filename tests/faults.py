"""Faults the tests inject for real: a read-only database file, a database locked by another process,
a damaged database file, and the capacity invariant they must never break."""

from __future__ import annotations

import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from jupyterhub_execplanner.model.phases import HOLDING


def sqlite_path(db_url: str) -> Path:
    return Path(db_url.removeprefix("sqlite:///"))


@contextmanager
def read_only_database(path: Path) -> Iterator[None]:
    """The database file and its write-ahead log made immutable (``chattr +i``): every write of the
    service fails as on a read-only disk, reads still work. (The shared-memory index is left alone:
    SQLite writes it through a memory map, which an immutable file would answer with SIGBUS.)"""
    files = [str(p) for p in (path, path.with_name(path.name + "-wal")) if p.exists()]
    subprocess.run(["chattr", "+i", *files], check=True)
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", *files], check=True)


@contextmanager
def locked_database(path: Path) -> Iterator[None]:
    """Another connection holds SQLite's write lock (``BEGIN IMMEDIATE``) until the block ends."""
    conn = sqlite3.connect(path, timeout=1, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        conn.execute("ROLLBACK")
        conn.close()


def damage(path: Path, length: int = 100) -> None:
    """Overwrite the first bytes of a database file (its header) with garbage."""
    with open(path, "r+b") as f:
        f.write(b"\xde\xad\xbe\xef" * (length // 4))


def capacity_invariant(manager: Any) -> None:
    """What the broker holds never exceeds what it has, and holds exactly what its database says:
    every offer or session in a phase that holds capacity has its reservation, nothing else has one."""
    calendar = manager.calendar
    for pool in calendar.pools:
        totals = calendar.pool_totals(pool)
        for resource, used in calendar.usage(pool).items():
            peak = float(used.max()) if len(used) else 0.0
            assert peak <= totals.get(resource, 0.0) + 1e-9, (
                f"pool {pool}: {peak} {resource} reserved at once, of {totals.get(resource)}"
            )
    now = manager.clock()
    stored = {r.uuid for r in manager.store.sessions_in(HOLDING) if r.offer.release_end > now}
    reserved = {r.key for r in calendar.reservations() if r.end > now}
    assert reserved == stored, (
        f"calendar and database disagree: reserved only {reserved - stored}, stored only {stored - reserved}"
    )
