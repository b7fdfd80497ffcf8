"""Downloads for the preload: http and https only, a size cap, connect/read timeouts and a deadline.

Redirects are followed at most :data:`MAX_REDIRECTS` times, to http and https only. A data download
(:func:`stream`, :func:`download`) checks its URL and every redirect against the hub's source policy
(``data_denied_sources``, ``data_allowed_sources``, carried by the preload plan and set with
:func:`use_source_policy`), so a redirect cannot lead it to a source the broker would refuse.

Errors are :class:`FetchError` whose message names the URL and what went wrong (the HTTP status, the
limit, the timeout, the policy's rule), ready to be shown to the session's owner.
"""

from __future__ import annotations

import io
import os
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit

from ..platform.datasets import DataConfig, source_allowed

CHUNK = 256 * 1024
USER_AGENT = "jupyterhub-execplanner-preload"
MAX_REDIRECTS = 5
NO_POLICY = DataConfig()
_source_policy = NO_POLICY  # the hub's, for data downloads: set from the plan


class FetchError(RuntimeError):
    """A download that failed; the message names the URL and why."""


def use_source_policy(denied: Sequence[str], allowed: Sequence[str]) -> None:
    """The hub's ``data_denied_sources`` and ``data_allowed_sources``, for every data download."""
    global _source_policy
    _source_policy = DataConfig(denied=tuple(denied), allowed=tuple(allowed))


class _CheckedRedirects(urllib.request.HTTPRedirectHandler):
    max_redirections = MAX_REDIRECTS

    def __init__(self, what: str, policy: DataConfig) -> None:
        super().__init__()
        self.what, self.policy = what, policy

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        if urlsplit(newurl).scheme not in ("http", "https"):
            raise FetchError(f"{req.full_url} redirects to {newurl}: only http and https are fetched")
        rule = source_allowed(newurl, self.policy)
        if rule is not None:
            raise FetchError(f"the {self.what} at {req.full_url} redirects to {newurl}, a source this "
                             f"hub's policy forbids: {rule}")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def check_url(url: str, what: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise FetchError(f"the {what} location {url!r} is not an http or https URL")


def _size_text(size: int) -> str:
    for unit, factor in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if size >= factor:
            return f"{size / factor:g} {unit}"
    return f"{size} bytes"


def stream(url: str, out: BinaryIO, *, max_size: int, timeout: float, what: str,
           policy: DataConfig | None = None) -> int:
    """Copy the data at ``url`` into the binary file ``out``; the number of bytes. ``url`` and every
    redirect are checked against ``policy`` (default: the one :func:`use_source_policy` set).
    Raises FetchError."""
    return _copy(url, out, max_size=max_size, timeout=timeout, what=what,
                 policy=_source_policy if policy is None else policy)


def _copy(url: str, out: BinaryIO, *, max_size: int, timeout: float, what: str, policy: DataConfig) -> int:
    check_url(url, what)
    rule = source_allowed(url, policy)
    if rule is not None:
        raise FetchError(f"the {what} at {url} is at a source this hub's policy forbids: {rule}")
    deadline = time.monotonic() + timeout
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    opener = urllib.request.build_opener(_CheckedRedirects(what, policy))
    try:
        with opener.open(request, timeout=timeout) as response:
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
    """A notebook or a requirements file (not data: the data source policy does not apply)."""
    buffer = io.BytesIO()
    _copy(url, buffer, max_size=max_size, timeout=timeout, what=what, policy=NO_POLICY)
    return buffer.getvalue()


def download(url: str, target: Path, *, max_size: int, timeout: float, what: str) -> int:
    """Download data into ``target`` through a temporary file, so a failed download leaves nothing;
    checked against the source policy as :func:`stream`."""
    partial = target.with_name(target.name + ".part")
    try:
        with open(partial, "wb") as out:
            size = stream(url, out, max_size=max_size, timeout=timeout, what=what)
        os.replace(partial, target)
        return size
    finally:
        partial.unlink(missing_ok=True)
