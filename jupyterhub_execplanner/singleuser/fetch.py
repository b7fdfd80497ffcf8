"""Downloads for the preload: http and https only, a size cap, connect/read timeouts and a deadline.

Errors are :class:`FetchError` whose message names the URL and what went wrong (the HTTP status, the
limit, the timeout), ready to be shown to the session's owner.
"""

from __future__ import annotations

import io
import os
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit

CHUNK = 256 * 1024
USER_AGENT = "jupyterhub-execplanner-preload"


class FetchError(RuntimeError):
    """A download that failed; the message names the URL and why."""


class _HttpOnlyRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        if urlsplit(newurl).scheme not in ("http", "https"):
            raise FetchError(f"{req.full_url} redirects to {newurl}: only http and https are fetched")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


_opener = urllib.request.build_opener(_HttpOnlyRedirects)


def check_url(url: str, what: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise FetchError(f"the {what} location {url!r} is not an http or https URL")


def _size_text(size: int) -> str:
    for unit, factor in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if size >= factor:
            return f"{size / factor:g} {unit}"
    return f"{size} bytes"


def stream(url: str, out: BinaryIO, *, max_size: int, timeout: float, what: str) -> int:
    """Copy ``url`` into the binary file ``out``; the number of bytes. Raises FetchError."""
    check_url(url, what)
    deadline = time.monotonic() + timeout
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        with _opener.open(request, timeout=timeout) as response:
            length = response.headers.get("Content-Length")
            if length and length.isdigit() and int(length) > max_size:
                raise FetchError(
                    f"the {what} at {url} is {_size_text(int(length))}, more than the limit of "
                    f"{_size_text(max_size)}"
                )
            total = 0
            while chunk := response.read(CHUNK):
                total += len(chunk)
                if total > max_size:
                    raise FetchError(
                        f"the {what} at {url} is more than the limit of {_size_text(max_size)}"
                    )
                if time.monotonic() > deadline:
                    raise FetchError(f"downloading the {what} at {url} took more than {timeout:g} s")
                out.write(chunk)
            return total
    except urllib.error.HTTPError as e:
        raise FetchError(f"the {what} at {url} could not be fetched: HTTP {e.code} {e.reason}") from None
    except urllib.error.URLError as e:
        raise FetchError(f"the {what} at {url} could not be fetched: {e.reason}") from None
    except TimeoutError:
        raise FetchError(f"the {what} at {url} did not answer within {timeout:g} s") from None
    except OSError as e:
        raise FetchError(f"the {what} at {url} could not be fetched: {e}") from None


def fetch_bytes(url: str, *, max_size: int, timeout: float, what: str) -> bytes:
    buffer = io.BytesIO()
    stream(url, buffer, max_size=max_size, timeout=timeout, what=what)
    return buffer.getvalue()


def download(url: str, target: Path, *, max_size: int, timeout: float, what: str) -> int:
    """Download into ``target`` through a temporary file, so a failed download leaves nothing."""
    partial = target.with_name(target.name + ".part")
    try:
        with open(partial, "wb") as out:
            size = stream(url, out, max_size=max_size, timeout=timeout, what=what)
        os.replace(partial, target)
        return size
    finally:
        partial.unlink(missing_ok=True)
