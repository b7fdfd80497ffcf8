"""Fixtures shared by the test layers. The real hub is started once per session and reused."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from brokers import E2E_SETTINGS, Broker
from hubprocess import RealHub


@pytest.fixture(scope="session")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealHub]:
    """A real JupyterHub with the broker as a hub-managed service, as an admin would run it."""
    hub = RealHub.start(tmp_path_factory.mktemp("hub"), settings=E2E_SETTINGS)
    try:
        yield hub
    finally:
        hub.stop()


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
