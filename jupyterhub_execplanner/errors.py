"""The message of a JSON error answer, shared by the service's and the lab server's handlers."""

from __future__ import annotations

from typing import Any

from tornado import web


def error_message(reason: str, exc_info: Any, internal: str) -> str:
    """What went wrong, for ``{status, message}``: an HTTPError's own message (with its arguments
    filled in), ``internal`` for any other exception (its details stay in the log), else ``reason``."""
    if not exc_info:
        return reason
    error = exc_info[1]
    if isinstance(error, web.HTTPError):
        if error.log_message:
            return error.log_message % error.args if error.args else error.log_message
        return reason
    return internal
