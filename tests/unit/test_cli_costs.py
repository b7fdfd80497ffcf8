"""``execplanner ask``: the COST and DATA columns and the ``cost`` and ``proximity`` sort orders."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from jupyterhub_execplanner.client import HubAnswer
from jupyterhub_execplanner.cliformat import OFFER_COLUMNS, format_data, offer_rows

NOW = datetime(2026, 11, 24, 15, 0, tzinfo=timezone.utc)
COST = "urn:ivoa:calycopis:cost:monetary"
M = "urn:execplanner:metric:"


def offer(name: str, start: str, money: float | None, seconds: float | None, local: float | None,
          size: float = 0.0) -> dict[str, Any]:
    costs = [] if money is None else [{"type": COST, "min": money, "max": money, "unit": "EUR"}]
    metrics = []
    if seconds is not None:
        metrics += [{"type": M + "data-bytes", "min": size, "max": size, "unit": "bytes"},
                    {"type": M + "data-transfer-time", "min": seconds, "max": seconds, "unit": "s"}]
    if local is not None:
        metrics.append({"type": M + "data-local", "min": local, "max": local, "unit": "fraction"})
    return {"meta": {"uuid": name * 8}, "profile": {"slug": name}, "compute": {},
            "schedule": {"available": {"start": start, "duration": "PT1H"}},
            "costs": costs, "metrics": metrics}


def answers() -> list[HubAnswer]:
    offers = [
        offer("a", "2026-11-24T15:00:10Z", 0.2, 0.0, 1.0),
        offer("b", "2026-11-24T15:00:20Z", 0.02, 5.0, 0.0, 250_000),
        offer("c", "2026-11-24T15:00:05Z", None, None, None),
        offer("d", "2026-11-24T15:00:30Z", 0.05, 5.0, 0.5, 250_000),
    ]
    return [HubAnswer("hub", True, {"result": "YES", "offers": offers}, None, 0.1)]


def order(sort: str) -> list[str]:
    return [row[2] for row in offer_rows(answers(), sort=sort, now=NOW)]


def test_sort_orders() -> None:
    assert order("start") == ["c", "a", "b", "d"]
    assert order("cost") == ["b", "d", "a", "c"]  # cheapest first, no price last
    assert order("proximity") == ["a", "d", "b", "c"]  # 0 s; then 5 s with half local; no data last


def test_columns() -> None:
    assert OFFER_COLUMNS[-2:] == ("COST", "DATA")
    rows = {row[2]: row[-2:] for row in offer_rows(answers(), now=NOW)}
    assert rows == {"a": ["0.2 EUR", "local"], "b": ["0.02 EUR", "250 kB ~5s"], "c": ["-", "-"],
                    "d": ["0.05 EUR", "50% local, 250 kB ~5s"]}
    assert format_data(offer("x", "", None, None, 0.0)) == "size unknown"
