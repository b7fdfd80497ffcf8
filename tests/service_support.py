"""Helpers for the service-layer tests: the profile they offer and a clock moved by hand."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

PROFILES = [{"display_name": "Two cores", "slug": "two",
             "kubespawner_override": {"cpu_guarantee": 2, "cpu_limit": 2, "mem_guarantee": "2G",
                                      "mem_limit": "2G"}}]


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = datetime.now(timezone.utc).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
