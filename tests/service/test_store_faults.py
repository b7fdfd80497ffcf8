"""A database that cannot be written, is locked or is damaged: nothing lost, nothing oversubscribed, no
500, and the hub's broker keeps answering what it can (reads) and says why it cannot (503)."""

from __future__ import annotations

import asyncio
import json
import sqlite3

import pytest
from faults import capacity_invariant, damage, locked_database, read_only_database, sqlite_path
from service_support import PROFILES
from test_service import ACCEPT, request

from jupyterhub_execplanner.service import degraded


def snapshot(manager) -> list:
    return [(r.key, r.start, r.end, dict(r.amounts)) for r in manager.calendar.reservations()]


async def test_a_failed_accept_changes_nothing_and_the_sibling_still_holds(start_service, client) -> None:
    """The issue's case: an accept that cannot be written, then the sibling accepted once the
    database is back. Before the fix the first accept released the sibling's reservation in memory."""
    twins = [PROFILES[0], {**PROFILES[0], "slug": "twin", "display_name": "Two cores too"}]
    service = await start_service(max_offers=2, profiles=twins,
                                  capacity={"default": {"cores": 4, "memory": 8}})
    manager = service.app.manager
    answer = (await client.post(service.base + "requests", json=request(cores=2))).json()
    first, second = (o["meta"]["uuid"] for o in answer["offers"])
    before = snapshot(manager)
    with read_only_database(sqlite_path(service.app.db_url)):
        refused = await client.post(service.base + f"sessions/{first}", json=ACCEPT)
        assert refused.status_code == 503, refused.text
        assert refused.headers["Retry-After"].isdigit()
        assert "nothing was changed" in refused.json()["message"]
        assert snapshot(manager) == before, "a failed write changed the calendar"
        # reads still work on a read-only database
        listing = await client.get(service.base + "sessions", params={"offers": "true"})
        assert listing.status_code == 200
        assert (await client.get(service.base + f"sessions/{first}")).json()["phase"] == "OFFERED"
    accepted = await client.post(service.base + f"sessions/{second}", json=ACCEPT)
    assert accepted.status_code == 200, accepted.text
    assert (await client.get(service.base + f"sessions/{first}")).json()["phase"] == "REJECTED"
    capacity_invariant(manager)
    # the two remaining 2-core slots now are offered once, and no more: 4 cores in all
    later = (await client.post(service.base + "requests", json=request(cores=2))).json()
    capacity_invariant(manager)
    assert later["result"] == "YES"


async def test_requests_on_a_read_only_database_are_503_and_reserve_nothing(start_service, client) -> None:
    service = await start_service()
    manager = service.app.manager
    await client.post(service.base + "requests", json=request())  # the files exist
    before = snapshot(manager)
    with read_only_database(sqlite_path(service.app.db_url)):
        for path, body in (("requests", request()), ("direct", request())):
            answer = await client.post(service.base + path, json=body)
            assert answer.status_code == 503, (path, answer.text)
            assert int(answer.headers["Retry-After"]) > 0
        assert snapshot(manager) == before
        snap = await client.post(service.base + "snapshots", json={"files": {"a.ipynb": "{}"}})
        assert snap.status_code == 503, snap.text
    capacity_invariant(manager)
    assert (await client.post(service.base + "requests", json=request())).json()["result"] == "YES"


async def test_offers_expire_once_the_database_is_writable_again(start_service, client) -> None:
    """Expiry that cannot be written is retried: the offer keeps its reservation until it is stored
    as EXPIRED, never released in memory only."""
    from service_support import Clock

    clock = Clock()
    service = await start_service(clock, offer_expiry=60)
    manager = service.app.manager
    uuid = (await client.post(service.base + "requests", json=request())).json()["offers"][0]["meta"]["uuid"]
    clock.advance(61)
    with read_only_database(sqlite_path(service.app.db_url)):
        await asyncio.sleep(1.5)  # the expiry loop runs and fails to write
        assert manager.calendar.has(uuid)
        capacity_invariant(manager)
    await asyncio.sleep(1.5)
    assert not manager.calendar.has(uuid)
    assert manager.store.session(uuid).phase.value == "EXPIRED"
    capacity_invariant(manager)


async def test_a_locked_database_is_503_within_seconds(start_service, client) -> None:
    service = await start_service()
    await client.post(service.base + "requests", json=request())
    with locked_database(sqlite_path(service.app.db_url)):
        answer = await client.post(service.base + "requests", json=request())
        assert answer.status_code == 503, answer.text
        assert "locked" in answer.json()["message"]
    capacity_invariant(service.app.manager)


async def test_a_damaged_database_keeps_the_service_up_and_it_recovers(
    start_service, client, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(degraded, "RECHECK", 0.5)
    monkeypatch.setattr("jupyterhub_execplanner.service.app.RECHECK", 0.5)
    first = await start_service()
    await client.post(first.base + "requests", json=request())
    await first.stop()
    path = tmp_path / "execplanner.sqlite"
    for leftover in (tmp_path / "execplanner.sqlite-wal", tmp_path / "execplanner.sqlite-shm"):
        leftover.unlink(missing_ok=True)
    damage(path)
    service = await start_service()
    assert service.app.degraded is not None
    answer = await client.post(service.base + "requests", json=request())
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == str(degraded.RETRY_AFTER)
    assert "database" in answer.json()["message"]
    assert str(tmp_path) not in answer.text, "callers do not learn where the database is"
    assert (await client.get(service.base)).status_code == 503
    path.unlink()  # the admin moves the damaged file aside: the broker starts with an empty one
    for _ in range(40):
        await asyncio.sleep(0.25)
        if service.app.degraded is None:
            break
    assert service.app.degraded is None
    answer = await client.post(service.base + "requests", json=request())
    assert answer.status_code == 200 and answer.json()["result"] == "YES", answer.text


async def test_rows_an_older_version_stored_with_surrogates_still_list(start_service, client) -> None:
    """A session stored with a lone surrogate (before the body reader refused them) and a row that
    cannot be read at all: the owner's and the admin's listings stay 200."""
    service = await start_service()
    made = (await client.post(service.base + "requests", json=request())).json()
    good = made["offers"][0]["meta"]["uuid"]
    await client.post(service.base + f"sessions/{good}", json=ACCEPT)
    other = (await client.post(service.base + "requests", json=request())).json()
    bad = other["offers"][0]["meta"]["uuid"]
    path = sqlite_path(service.app.db_url)
    with sqlite3.connect(path) as conn:
        row = conn.execute("SELECT request FROM execplanner_sessions WHERE uuid = ?", (good,)).fetchone()
        doc = json.loads(row[0])
        doc["executable"]["location"] = "https://example.org/\ud800.ipynb"
        conn.execute("UPDATE execplanner_sessions SET request = ? WHERE uuid = ?",
                     (json.dumps(doc), good))
        conn.execute("UPDATE execplanner_sessions SET offer = '{\"cores\": \"many\"}' WHERE uuid = ?",
                     (bad,))
    listing = await client.get(service.base + "sessions", params={"offers": "true"})
    assert listing.status_code == 200, listing.text
    uuids = [s["meta"]["uuid"] for s in listing.json()["sessions"]]
    assert good in uuids and bad not in uuids
    shown = await client.get(service.base + f"sessions/{good}")
    assert shown.status_code == 200 and "\ufffd" in shown.text
    assert (await client.get(service.base + f"sessions/{bad}")).status_code == 404


def test_a_connection_opened_while_read_only_does_not_stay_read_only(tmp_path) -> None:
    """SQLite opens a file it cannot write read-only, silently, and such a pooled connection would
    refuse every later write (an intermittent 503 after the spell). The store drops it and writes."""
    from datetime import datetime, timedelta, timezone

    from jupyterhub_execplanner.sessions.snapshots import SnapshotStore
    from jupyterhub_execplanner.sessions.store import Store, StoreUnavailable

    store = Store(f"sqlite:///{tmp_path / 'broker.sqlite'}")
    snapshots = SnapshotStore(store.engine)
    now = datetime.now(timezone.utc)
    snapshots.add("alice", {"a.ipynb": "{}"}, now, now + timedelta(hours=1))
    store.engine.dispose()  # no connection is open: the next one is opened inside the spell
    with read_only_database(tmp_path / "broker.sqlite"):
        with pytest.raises(StoreUnavailable, match="readonly"):
            snapshots.add("alice", {"b.ipynb": "{}"}, now, now + timedelta(hours=1))
        assert snapshots.held("alice", now)[0] == 2  # reads still work: the first snapshot's bytes
    snapshot, _token = snapshots.add("alice", {"c.ipynb": "{}"}, now, now + timedelta(hours=1))
    assert snapshots.get(snapshot.uuid) is not None
    assert snapshots.held("alice", now)[0] == 4
    store.close()
