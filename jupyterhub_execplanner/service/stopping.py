"""Stopping the service: every part within a bounded time, every connection closed."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from tornado.httpserver import HTTPServer

STOP_TIMEOUT = 10.0  # seconds each part of the service gets to stop


async def drop_connections(server: HTTPServer, wait: float = 5.0) -> None:
    """Close every open connection, letting requests in flight finish (for at most ``wait`` s)."""
    try:
        await asyncio.wait_for(server.close_all_connections(), wait)
    except asyncio.TimeoutError:
        pass


async def bounded(work: Any, seconds: float, what: str, log: logging.Logger) -> None:
    """Await ``work`` for at most ``seconds`` (then it is cancelled, and the log says so)."""
    try:
        await asyncio.wait_for(work, seconds)
    except asyncio.TimeoutError:
        log.warning("%s did not stop within %g s; stopping without it", what, seconds)


async def shut(server: HTTPServer) -> None:
    """Stop listening and close every connection (a kept-alive one would reach a stopped broker)."""
    server.stop()
    await drop_connections(server)
