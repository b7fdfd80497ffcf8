"""A NO for lack of room says what holds the room, yours or others', naming no one (issue 12, item 4)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from jupyterhub_execplanner.planning.holders import (
    OFFER,
    SERVER,
    SESSION,
    Holder,
    holders_from,
    room_held,
)
from jupyterhub_execplanner.platform.calendar import Calendar

NOW = datetime(2026, 12, 7, 14, 0, tzinfo=timezone.utc)
LATER = NOW + timedelta(hours=2)
TOTALS = {"cores": 2.0, "memory": 8.0}
ONE = {"cores": 1.0, "memory": 1.0}


@pytest.mark.parametrize(
    ("holders", "expected"),
    [
        ([Holder(SERVER, True, "default", ONE), Holder(SERVER, False, "default", ONE)],
         "2 of 2 cores of this hub are held now: 1 core and 1 GiB by your running server (with no end); "
         "1 core and 1 GiB by another user's running server (with no end). Yours make room when you "
         "stop a running server, end a session or reject an open offer."),
        ([Holder(SERVER, False, "default", {"cores": 2.0, "memory": 2.0}, count=2),
          Holder(SESSION, False, "default", ONE, LATER - timedelta(hours=1)),
          Holder(SESSION, False, "default", ONE, LATER)],
         "4 of 2 cores of this hub are held now: 2 cores and 2 GiB by 2 running servers of others "
         "(with no end); 2 cores and 2 GiB by 2 sessions of others (until 2026-12-07T16:00:00Z)."),
        ([Holder(OFFER, True, "default", ONE, LATER), Holder(SESSION, True, "default", ONE, LATER),
          Holder(SESSION, True, "gpu", ONE, LATER),  # another pool
          Holder(SESSION, True, "default", ONE, NOW)],  # ended
         "2 of 2 cores of this hub are held now: 1 core and 1 GiB by your session (until "
         "2026-12-07T16:00:00Z); 1 core and 1 GiB by your open offer (until 2026-12-07T16:00:00Z). "
         "Yours make room when you stop a running server, end a session or reject an open offer."),
        ([], None),
    ],
)
def test_what_holds_the_room(holders: list[Holder], expected: str | None) -> None:
    said = room_held(holders, "default", TOTALS, now=NOW)
    assert (said.message if said is not None else None) == expected
    if said is not None:
        assert said.values["path"] == "compute.cores" and said.level == "WARN"


def test_holders_come_from_the_calendar_and_the_hubs_servers() -> None:
    calendar = Calendar({"default": TOTALS}, origin=NOW, horizon=timedelta(days=1),
                        resolution=timedelta(minutes=1))
    calendar.reserve("s-alice", "default", NOW, LATER, ONE)
    calendar.reserve("o-bob", "default", NOW, LATER, ONE)
    calendar.reserve("unknown", "default", NOW, LATER, ONE)  # held by no record: left out
    owners = {"s-alice": ("user:alice", False), "o-bob": ("user:bob", True)}
    servers = [("user:alice", "default", ONE), ("user:bob", "default", {"cores": 1.0}),
               ("user:carol", "default", ONE)]
    found = holders_from("user:alice", calendar.reservations(), owners.get, servers, NOW)
    assert sorted((h.kind, h.mine, h.count, h.until) for h in found) == [
        (OFFER, False, 1, LATER), (SERVER, False, 2, None), (SERVER, True, 1, None),
        (SESSION, True, 1, LATER)]
    others = next(h for h in found if h.kind == SERVER and not h.mine)
    assert others.amounts == {"cores": 2.0, "memory": 1.0}  # bob's and carol's, summed
