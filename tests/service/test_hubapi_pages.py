"""The hub API client reads every active user, page after page, from a real JupyterHub that answers at
most 3 users a page (its ``api_page_max_limit``), with servers run by the light spawner; says why when
the hub does not answer or refuses; and the broker's poll counts every one of those servers, keeps the
last known count when a read fails, and never stops on a failure."""

from __future__ import annotations

import asyncio
import itertools
import logging
import secrets
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hubprocess import RealHub, free_port
from lightspawner import light_config
from loopback import Loopback

from jupyterhub_execplanner.platform.usage import RunningServer, running_servers
from jupyterhub_execplanner.worker.hubapi import HubAPI, HubAPIError

PAGE_MAX = 3
USERS = [f"pager{i}" for i in range(9)]
DEFAULT_SERVERS = USERS[:7]  # 7 active users: three pages of at most 3


@pytest.fixture(scope="module")
def service_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RealHub, int, str]]:
    """This module's hub for ``start_service`` (tests/service/conftest.py): the light spawner, small
    pages, 7 users with a default server, one of them with a second named server."""
    port, token = free_port(), secrets.token_hex(16)
    hub = RealHub.start(
        tmp_path_factory.mktemp("paged-hub"), settings={},
        external_service_url=f"http://127.0.0.1:{port}", service_token=token,
        extra_config=light_config() + f"c.JupyterHub.api_page_max_limit = {PAGE_MAX}\n",
    )
    try:
        hub.api("POST", "users", json={"usernames": USERS}).raise_for_status()
        for name in DEFAULT_SERVERS:
            assert hub.api("POST", f"users/{name}/server", json={}).status_code == 201
        # a second, named server with options, and a stopped one that is not active
        started = hub.api("POST", f"users/{USERS[0]}/servers/extra",
                          json={"user_options": {"profile": "small"}})
        assert started.status_code == 201, started.text
        assert hub.api("POST", f"users/{USERS[8]}/servers/gone", json={}).status_code == 201
        assert hub.api("DELETE", f"users/{USERS[8]}/servers/gone").status_code in (202, 204)
        yield hub, port, token
    finally:
        hub.stop()


@pytest.fixture(scope="module")
def paged_hub(service_hub: tuple[RealHub, int, str]) -> RealHub:
    return service_hub[0]


def api(hub: RealHub, token: str | None = None) -> HubAPI:
    return HubAPI(f"{hub.url}/hub/api", token or hub.admin_token)


def test_the_hub_answers_one_page_to_an_unpaged_read(paged_hub: RealHub) -> None:
    """What the broker read before: a plain ``GET users?state=active`` misses users on this hub."""
    plain = paged_hub.api("GET", "users", params={"state": "active"}).json()
    assert len(plain) == PAGE_MAX < len(DEFAULT_SERVERS)


@pytest.mark.parametrize("page_size", [1, 2, 200])
async def test_every_active_user_over_all_pages(paged_hub: RealHub, page_size: int) -> None:
    hub = api(paged_hub)
    try:
        users = await hub.active_users(page_size=page_size)
    finally:
        await hub.close()
    assert sorted(u["name"] for u in users) == sorted(DEFAULT_SERVERS)
    servers = running_servers(users)
    expected = [RunningServer(name, "", {}) for name in DEFAULT_SERVERS]
    expected.append(RunningServer(USERS[0], "extra", {"profile": "small"}))
    assert sorted(servers, key=lambda s: (s.user, s.name)) == sorted(expected, key=lambda s: (s.user, s.name))


async def test_a_hub_that_does_not_answer() -> None:
    hub = HubAPI(f"http://127.0.0.1:{free_port()}/hub/api", "token", timeout=5)
    try:
        with pytest.raises(HubAPIError) as failure:
            await hub.active_users()
    finally:
        await hub.close()
    assert failure.value.status == 0 and failure.value.transient
    assert "did not answer" in failure.value.message


async def test_a_token_that_may_not_list_users(paged_hub: RealHub) -> None:
    token = paged_hub.user_token(USERS[0], scopes=["read:users:name!user"])
    hub = api(paged_hub, token)
    try:
        with pytest.raises(HubAPIError) as failure:
            await hub.active_users()
    finally:
        await hub.close()
    assert failure.value.status == 403 and not failure.value.transient


async def test_not_a_hub(tmp_path: Path) -> None:
    """A server that answers something other than a page of users: a clear error, not a crash."""
    (tmp_path / "users").write_text('{"users": []}')
    site = Loopback(tmp_path)
    hub = HubAPI(site.url, "token")
    try:
        with pytest.raises(HubAPIError, match="list of users is malformed: neither a list nor a page"):
            await hub.active_users()
    finally:
        await hub.close()
        site.close()


def free_cores(app) -> float:
    now = datetime.now(timezone.utc)
    return app.manager.calendar.free("default", now, now + timedelta(minutes=5))["cores"]


async def settled(app, expected: float, timeout: float = 10) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while free_cores(app) != expected:
        assert loop.time() < deadline, f"free cores {free_cores(app)}, never {expected}"
        await asyncio.sleep(0.1)


async def test_the_poll_counts_every_page_and_survives_failures(
    start_service, monkeypatch: pytest.MonkeyPatch
) -> None:
    """8 servers over three pages: 8 x the footprint (1 core). Then reads that fail, with the hub's
    error or anything else, keep that count and are logged; the next good read counts again."""
    service = await start_service(hub_poll_interval=0.1,
                                  capacity={"default": {"cores": 100, "memory": 100}})
    app = service.app
    warnings: list[logging.LogRecord] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = warnings.append  # type: ignore[method-assign]
    app.log.addHandler(handler)
    try:
        await settled(app, 100 - len(DEFAULT_SERVERS) - 1)
        real = HubAPI.active_users
        failures = itertools.cycle([HubAPIError(503, "the hub is restarting"), KeyError("servers")])

        async def failing(self: HubAPI, **kwargs: object) -> list:
            raise next(failures)

        monkeypatch.setattr(HubAPI, "active_users", failing)
        await asyncio.sleep(1)
        assert free_cores(app) == 100 - len(DEFAULT_SERVERS) - 1, "a failed read keeps the last count"
        messages = [r.getMessage() for r in warnings]
        assert any("503: the hub is restarting" in m for m in messages), messages
        assert any("'servers'" in m for m in messages), messages
        assert not service.task.done()

        # the next good read counts again: here, as if one server had stopped
        async def one_less(self: HubAPI, **kwargs: object) -> list:
            users = await real(self, **kwargs)
            return [u for u in users if u["name"] != DEFAULT_SERVERS[-1]]

        monkeypatch.setattr(HubAPI, "active_users", one_less)
        await settled(app, 100 - len(DEFAULT_SERVERS))
    finally:
        app.log.removeHandler(handler)
