"""Helpers shared by the test layers: a thin HTTP client for the broker, and the e2e hub's settings.
(Kept out of conftest.py so that test modules can import them by a name no other folder uses.)"""

from __future__ import annotations

from typing import Any

import httpx

# What the e2e hub offers: two profiles on a pool of 8 cores and 16 GiB, so tests can fill it up.
E2E_PROFILES = [
    {
        "display_name": "Small server",
        "slug": "small",
        "default": True,
        "kubespawner_override": {"cpu_guarantee": 1, "cpu_limit": 2, "mem_guarantee": "1G",
                                 "mem_limit": "4G"},
    },
    {
        "display_name": "Large server",
        "slug": "large",
        "kubespawner_override": {"cpu_guarantee": 2, "cpu_limit": 8, "mem_guarantee": "4G",
                                 "mem_limit": "16G"},
        "execplanner": {"max_duration": "PT8H"},
    },
]
E2E_SETTINGS: dict[str, Any] = {
    "profiles": E2E_PROFILES,
    "capacity": {"default": {"cores": 8, "memory": 16}},
    "offer_expiry": 4,
    "prepare_time": 5,
    # the API tests accept offers for example.org notebooks: no servers for them
    "driver_interval": 0,
    # one hub serves every API test, from the same few users, at machine speed: per-user limits off
    # (tests/service/test_user_limits.py tests them)
    "limit_open_offers": 0,
    "limit_sessions": 0,
    "limit_core_hours": 0,
    "limit_requests_per_minute": 0,
}


class Broker:
    """A thin HTTP helper for tests: the broker's base URL and a user's token."""

    def __init__(self, base: str, token: str | None):
        self.base = base
        self.token = token

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {"Authorization": f"token {self.token}"} if self.token else {}
        headers.update(extra or {})
        return headers

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        headers = self.headers(kwargs.pop("headers", None))
        return httpx.get(self.url(path), headers=headers, timeout=30, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        headers = self.headers(kwargs.pop("headers", None))
        return httpx.post(self.url(path), headers=headers, timeout=60, **kwargs)

    def url(self, path: str) -> str:
        return path if path.startswith("http") else self.base + path.lstrip("/")

    def accept(self, uuid: str, phase: str = "ACCEPTED") -> httpx.Response:
        return self.post(f"sessions/{uuid}",
                         json={"kind": "uri:enum-value-update", "path": "phase", "value": phase})
