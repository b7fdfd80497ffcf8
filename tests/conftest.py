"""Fixtures shared by the test layers. The real hub is started once per session and reused."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hubprocess import RealHub

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
}


@pytest.fixture(scope="session")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealHub]:
    """A real JupyterHub with the broker as a hub-managed service, as an admin would run it."""
    hub = RealHub.start(tmp_path_factory.mktemp("hub"), settings=E2E_SETTINGS)
    try:
        yield hub
    finally:
        hub.stop()


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


@pytest.fixture
def alice(hub: RealHub) -> Broker:
    return Broker(hub.broker, hub.user_token("alice"))


@pytest.fixture
def bob(hub: RealHub) -> Broker:
    return Broker(hub.broker, hub.user_token("bob"))


@pytest.fixture(scope="session")
def hub_b(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealHub]:
    """A second hub with a bigger machine, for asking several hubs at once."""
    settings = {
        "profiles": [{"display_name": "Big memory", "slug": "bigmem",
                      "kubespawner_override": {"cpu_limit": 16, "mem_limit": "64G"}}],
        "capacity": {"default": {"cores": 32, "memory": 128}},
    }
    hub = RealHub.start(tmp_path_factory.mktemp("hub-b"), settings=settings)
    try:
        yield hub
    finally:
        hub.stop()
