"""Best-effort progress reports from a session's server to the broker.

``POST <report_url>`` with ``{"level", "message", "failed"}`` (and the ``transfer`` figures of a
finished download) and the header
``Authorization: execplanner-report <token>``. A report never makes the preload fail or wait long:
a short timeout, every error ignored. Each message is also printed to stderr, for the server's log.

A message is cut to :data:`MAX_MESSAGE` characters (what the broker keeps of a report,
``worker.decide.MAX_REPORT_LENGTH``), so a long reason still reaches the session's messages (the
broker answers a body over its ``max_body_size`` with an error, and the reason would be lost).
"""

from __future__ import annotations

import json
import sys
import urllib.request
from typing import Any

from ..launch import REPORT_SCHEME

MAX_MESSAGE = 2000  # characters; the broker keeps no more (worker/decide.py MAX_REPORT_LENGTH)

# the broker is reached directly (its internal URL), never through an HTTP proxy from the environment
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def cut(message: str, limit: int = MAX_MESSAGE) -> str:
    """``message``, at most ``limit`` characters long (the last one an ellipsis when cut)."""
    return message if len(message) <= limit else message[: limit - 1] + "…"


class Reporter:
    def __init__(self, url: str, token: str, *, timeout: float = 3.0) -> None:
        self.url, self.token, self.timeout = url, token, timeout

    def info(self, message: str, *, transfer: dict[str, Any] | None = None) -> None:
        """An INFO message; ``transfer`` is a download's figures (``url``, ``bytes``, ``seconds``,
        ``first_byte``), which the broker adds to its measured access to the source."""
        self._send("INFO", message, failed=False, transfer=transfer)

    def failed(self, message: str) -> None:
        self._send("ERROR", message, failed=True)

    def _send(self, level: str, message: str, *, failed: bool,
              transfer: dict[str, Any] | None = None) -> None:
        message = cut(message)
        print(f"[execplanner] {level} {message}", file=sys.stderr, flush=True)
        if not self.url.startswith(("http://", "https://")):
            return
        doc: dict[str, Any] = {"level": level, "message": message, "failed": failed}
        if transfer is not None:
            doc["transfer"] = transfer
        body = json.dumps(doc).encode()
        request = urllib.request.Request(
            self.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "Authorization": f"{REPORT_SCHEME} {self.token}",
            },
        )
        try:
            with _opener.open(request, timeout=self.timeout) as response:
                response.read(1024)
        except Exception:  # noqa: BLE001 - a report is best effort
            pass
