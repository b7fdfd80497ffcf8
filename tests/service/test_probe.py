"""The size probe over real HTTP on loopback: Content-Length, 404, a server that never answers."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from loopback import Loopback

from jupyterhub_execplanner.platform.probe import probe_sizes


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Loopback]:
    (tmp_path / "survey").mkdir()
    (tmp_path / "survey" / "cat.fits").write_bytes(b"x" * 123_456)
    server = Loopback(tmp_path)
    yield server
    server.close()


@pytest.fixture
def silent() -> Iterator[str]:
    """A port that accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/never"
    listener.close()


async def test_probe_sizes(site: Loopback, silent: str) -> None:
    found_url, missing = f"{site.url}/survey/cat.fits", f"{site.url}/survey/none.fits"
    started = time.monotonic()
    probes = await probe_sizes([found_url, missing, silent, found_url], timeout=1.0)
    elapsed = time.monotonic() - started
    assert list(probes) == [found_url, missing, silent]  # each URL once
    assert probes[found_url].size == 123_456 and probes[found_url].status == 200
    assert probes[missing].size is None and probes[missing].status == 404
    assert probes[silent].size is None and "within 1 s" in (probes[silent].error or "")
    assert elapsed < 3  # concurrently, bounded by the timeout


async def test_nothing_to_probe() -> None:
    assert await probe_sizes([]) == {}
