"""The broker without its database: the hub stays up, the broker says why it cannot answer.

When the broker's database cannot be opened at start (a damaged file, a full or read-only disk, a
database server that is down), the service does not exit -- JupyterHub stops at start when a managed
service does not come up, and a fault of the broker must never take the hub down. It serves every
route with ``503`` and ``Retry-After``, logs what the admin can do, and tries the database again every
:data:`RECHECK` seconds; once it opens, the broker starts as usual, without a restart.
"""

from __future__ import annotations

from typing import Any

from tornado import web

RECHECK = 15.0  # seconds between attempts to open the database again
RETRY_AFTER = 30  # what clients are told to wait


def recovery_steps(db_url: str, reason: str) -> str:
    """What the admin reads in the log: what is wrong and how to recover (docs/security.md)."""
    return (
        f"The execution broker cannot use its database {db_url}: {reason}. The hub keeps running; "
        "the broker answers 503 until the database can be used, and tries again every "
        f"{RECHECK:g} s. To recover: restore the file from a backup (see docs/security.md, 'Backup "
        "and restore'), or move it aside to start with an empty database (offers and sessions in it "
        "are then forgotten; running servers are left as they are), or fix what makes it unreadable "
        "(permissions, a full disk, the database server)."
    )


@web.stream_request_body
class DegradedHandler(web.RequestHandler):
    """Every route, every method: 503 with ``Retry-After`` and a message (no details for callers:
    the database's location and the error are in the service's log). A body is read and dropped
    before the answer, so the connection stays usable (see ``BaseHandler.body_pending``)."""

    SUPPORTED_METHODS = ("GET", "HEAD", "POST", "DELETE", "PATCH", "PUT", "OPTIONS")

    def data_received(self, chunk: bytes) -> None:
        pass

    def _unavailable(self, *args: Any) -> None:  # answered once the body is read (not from prepare)
        self.set_status(503)
        self.set_header("Retry-After", str(RETRY_AFTER))
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(
            {
                "status": 503,
                "message": "This hub's execution broker is unavailable: its database cannot be used "
                f"now. The hub's admin finds the reason in the broker's log. Try again in {RETRY_AFTER} s.",
            }
        )

    get = head = post = put = delete = patch = options = _unavailable

    def write_error(self, status_code: int, **kwargs: Any) -> None:  # never a stack trace
        self.finish({"status": status_code, "message": self._reason})


def degraded_app(log_function: Any = None) -> web.Application:
    return web.Application([(r".*", DegradedHandler)], log_function=log_function)
