"""The service layer: the broker's Application run in the test process on a real tornado server,
registered with a real hub as an external service, so tests can set the clock, restart the service
on the same database and read the manager, while every token is still checked by the real hub."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hubprocess import RealHub, free_port
from service_support import PROFILES, Clock
from traitlets.config import Config

from jupyterhub_execplanner.service.app import ExecPlannerApp


@pytest.fixture(scope="module")
def service_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RealHub, int, str]]:
    port, token = free_port(), secrets.token_hex(16)
    hub = RealHub.start(tmp_path_factory.mktemp("svc-hub"), settings={},
                        external_service_url=f"http://127.0.0.1:{port}", service_token=token)
    try:
        yield hub, port, token
    finally:
        hub.stop()


class Running:
    def __init__(self, app: ExecPlannerApp, task: asyncio.Task, base: str):
        self.app, self.task, self.base = app, task, base

    async def stop(self) -> None:
        self.task.cancel()
        try:
            await self.task
        except (asyncio.CancelledError, Exception):
            pass
        store = getattr(self.app, "store", None)  # none when it never opened its database
        if store is not None:
            store.close()


@pytest.fixture
async def start_service(service_hub: tuple[RealHub, int, str], tmp_path: Path,
                  monkeypatch: pytest.MonkeyPatch):
    """Start the broker in-process: ``await start_service(**settings)``; stopped after the test."""
    hub, port, token = service_hub
    monkeypatch.setenv("JUPYTERHUB_API_URL", f"{hub.url}/hub/api")
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", token)
    monkeypatch.setenv("JUPYTERHUB_SERVICE_NAME", "execplanner")
    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", "/services/execplanner/")
    monkeypatch.setenv("JUPYTERHUB_SERVICE_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("JUPYTERHUB_CLIENT_ID", "service-execplanner")
    monkeypatch.setenv("JUPYTERHUB_HOST", "")
    monkeypatch.setenv("JUPYTERHUB_OAUTH_CALLBACK_URL", "/services/execplanner/oauth_callback")
    running: list[Running] = []

    async def start(clock: Clock | None = None, **settings: Any) -> Running:
        config = Config()
        config.ExecPlanner.db_url = f"sqlite:///{tmp_path / 'execplanner.sqlite'}"
        config.ExecPlanner.profiles = PROFILES
        config.ExecPlanner.capacity = {"default": {"cores": 8, "memory": 8}}
        config.ExecPlanner.hub_poll_interval = 0
        config.ExecPlanner.driver_interval = 0  # these tests keep accepted sessions ACCEPTED
        for key, value in settings.items():
            setattr(config.ExecPlanner, key, value)
        app = ExecPlannerApp(config=config)
        app.initialize([])
        if clock is not None:
            app.manager.clock = clock
            app.manager.calendar.advance(clock())
        ready = asyncio.Event()
        task = asyncio.create_task(app.serve(ready))
        await asyncio.wait_for(ready.wait(), 10)
        service = Running(app, task, f"http://127.0.0.1:{port}/services/execplanner/")
        running.append(service)
        return service

    yield start
    for service in running:
        if not service.task.done():
            await service.stop()


@pytest.fixture
async def client(service_hub: tuple[RealHub, int, str]) -> AsyncIterator[httpx.AsyncClient]:
    hub, _port, _token = service_hub
    headers = {"Authorization": f"token {hub.user_token('alice')}"}
    async with httpx.AsyncClient(headers=headers, timeout=30) as client:
        yield client
