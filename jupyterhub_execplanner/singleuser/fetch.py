"""Downloads for the preload: http and https only, a size cap, connect/read timeouts and a deadline.

Every fetch (the notebook, the requirements file, each data resource) follows the hub's policy, a
:class:`FetchPolicy` made from the preload plan:

- the source lists (``data_denied_sources``, ``data_allowed_sources``): the URL and every redirect are
  checked against them, so a redirect cannot lead to a source the broker would refuse;
- the address policy (:mod:`..platform.netguard`): each connection resolves the host, checks every
  address (no loopback, private, link-local, reserved or hub address unless ``fetch_allowed_hosts``
  allows it) and connects to a checked one, again at each redirect. The notebook and requirements
  file may also be this broker's snapshot on the hub's own address, which ``data_allowed_sources``
  does not have to list. No HTTP proxy from the environment is used (through one, the address checked
  would be the proxy's).

Redirects are followed at most :data:`MAX_REDIRECTS` times, to http and https only. Errors are
:class:`FetchError` whose message names the URL and what went wrong (the HTTP status code, the limit,
the timeout, the policy's rule), ready to be shown to the session's owner. It never quotes what the
server sent (reason phrase, body, a malformed status line).
"""

from __future__ import annotations

import http.client
import io
import os
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlsplit

from ..platform.datasets import DataConfig, source_allowed
from ..platform.netguard import SETTING, AddressRefused, NetGuard, hub_urls_from_env, is_snapshot_url

CHUNK = 256 * 1024
USER_AGENT = "jupyterhub-execplanner-preload"
MAX_REDIRECTS = 5
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
NO_POLICY = DataConfig()


class FetchError(RuntimeError):
    """A download that failed; the message names the URL and why."""


def default_guard() -> NetGuard:
    """Nothing internal allowed; the hub's own hosts from the server's environment."""
    return NetGuard.build(hub_urls=hub_urls_from_env(os.environ))


@dataclass(frozen=True)
class FetchPolicy:
    """The hub's source lists and address policy, for every fetch of one preload."""

    sources: DataConfig = NO_POLICY
    guard: NetGuard = field(default_factory=default_guard)


def _source_rule(url: str, policy: FetchPolicy, own_snapshots: bool) -> str | None:
    """The source list's rule against ``url``; a snapshot of this broker on the hub (for the notebook
    and requirements) need not be in ``data_allowed_sources``."""
    sources = policy.sources
    if own_snapshots and policy.guard.is_own_snapshot(url):
        sources = replace(sources, allowed=())
    return source_allowed(url, sources)


# -- connections to checked addresses only ----------------------------------------------------------


class _Pinned:
    """Set by the handlers below: the guard, and whether this request is the hub's own snapshot."""

    guard: NetGuard
    own_snapshot: bool = False
    host: str
    port: int
    timeout: float | None
    source_address: tuple[str, int] | None

    def _checked_socket(self) -> socket.socket:
        sock = self.guard.connect(self.host, self.port, self.timeout, self.source_address,
                                  own_snapshot=self.own_snapshot)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:  # as http.client: not every socket has it
            pass
        return sock


class GuardedHTTPConnection(_Pinned, http.client.HTTPConnection):
    """An HTTP connection whose connect() resolves, checks and connects to a checked address."""

    def connect(self) -> None:
        self.sock = self._checked_socket()


class GuardedHTTPSConnection(_Pinned, http.client.HTTPSConnection):
    """As :class:`GuardedHTTPConnection`, then TLS verifying the URL's host name."""

    def connect(self) -> None:
        context = self._context  # type: ignore[attr-defined]  # http.client's verifying default
        self.sock = context.wrap_socket(self._checked_socket(), server_hostname=self.host)


def _maker(cls: type[_Pinned], guard: NetGuard, own_snapshot: bool) -> Callable[..., Any]:
    def make(host: str, **kwargs: Any) -> Any:
        connection = cls(host, **kwargs)  # type: ignore[call-arg]
        connection.guard, connection.own_snapshot = guard, own_snapshot
        return connection

    return make


class _GuardedHandlers:
    def __init__(self, guard: NetGuard, snapshots_allowed: bool) -> None:
        self.guard, self.snapshots_allowed = guard, snapshots_allowed

    def own(self, req: urllib.request.Request) -> bool:
        """Whether the request is for a snapshot file: allowed on the hub's own host or address."""
        return self.snapshots_allowed and is_snapshot_url(req.full_url, self.guard.snapshot_paths)


class _HTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, rules: _GuardedHandlers) -> None:
        super().__init__()
        self.rules = rules

    def http_open(self, req: urllib.request.Request) -> Any:
        return self.do_open(_maker(GuardedHTTPConnection, self.rules.guard, self.rules.own(req)), req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, rules: _GuardedHandlers) -> None:
        super().__init__()
        self.rules = rules

    def https_open(self, req: urllib.request.Request) -> Any:
        return self.do_open(_maker(GuardedHTTPSConnection, self.rules.guard, self.rules.own(req)), req)


class _CheckedRedirects(urllib.request.HTTPRedirectHandler):
    max_redirections = MAX_REDIRECTS

    def __init__(self, what: str, policy: FetchPolicy, own_snapshots: bool) -> None:
        super().__init__()
        self.what, self.policy, self.own_snapshots = what, policy, own_snapshots

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        if urlsplit(newurl).scheme not in ("http", "https"):
            raise FetchError(f"{req.full_url} redirects to {newurl}: only http and https are fetched")
        rule = _source_rule(newurl, self.policy, self.own_snapshots)
        if rule is not None:
            raise FetchError(f"the {self.what} at {req.full_url} redirects to {newurl}, a source this "
                             f"hub's policy forbids: {rule}")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def opener_for(what: str, policy: FetchPolicy, own_snapshots: bool) -> urllib.request.OpenerDirector:
    """An opener with no proxy, guarded connections and checked redirects."""
    rules = _GuardedHandlers(policy.guard, own_snapshots)
    return urllib.request.build_opener(
        urllib.request.ProxyHandler({}), _HTTPHandler(rules), _HTTPSHandler(rules),
        _CheckedRedirects(what, policy, own_snapshots),
    )


# -- fetching -------------------------------------------------------------------------------------------


def check_url(url: str, what: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise FetchError(f"the {what} location {url!r} is not an http or https URL")


def _size_text(size: int) -> str:
    for unit, factor in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if size >= factor:
            return f"{size / factor:g} {unit}"
    return f"{size} bytes"


def refused(what: str, url: str, error: AddressRefused) -> FetchError:
    """The message of a connection the address policy refused: the host and the fix, not why."""
    return FetchError(
        f"the {what} at {url} was not fetched: {error.host} is not an address this hub fetches from "
        f"(loopback, private, link-local, reserved and the hub's own addresses are refused unless "
        f"{SETTING} allows them); use a public URL, or ask the hub's administrator to allow the host"
    )


def stream(url: str, out: BinaryIO, *, max_size: int, timeout: float, what: str,
           policy: FetchPolicy | None = None) -> int:
    """Copy the data at ``url`` into the binary file ``out``; the number of bytes. ``url`` and every
    redirect are checked against ``policy`` (default: no source lists, and the default address
    policy of :func:`default_guard`). Raises FetchError."""
    policy = policy or FetchPolicy()
    return _copy(url, out, max_size=max_size, timeout=timeout, what=what, policy=policy, own_snapshots=False)


def _copy(url: str, out: BinaryIO, *, max_size: int, timeout: float, what: str, policy: FetchPolicy,
          own_snapshots: bool) -> int:
    check_url(url, what)
    rule = _source_rule(url, policy, own_snapshots)
    if rule is not None:
        raise FetchError(f"the {what} at {url} is at a source this hub's policy forbids: {rule}")
    deadline = time.monotonic() + timeout
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        with opener_for(what, policy, own_snapshots).open(request, timeout=timeout) as response:
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
    except AddressRefused as e:
        raise refused(what, url, e) from None
    except urllib.error.HTTPError as e:  # the status code only: never the server's reason or body
        if e.code in _REDIRECTS:  # urllib stops a chain past max_redirections, or a loop
            raise FetchError(f"the {what} at {url} was redirected more than {MAX_REDIRECTS} times, or in "
                             "a loop") from None
        raise FetchError(f"the {what} at {url} could not be fetched: HTTP {e.code}") from None
    except urllib.error.URLError as e:
        if isinstance(e.reason, AddressRefused):
            raise refused(what, url, e.reason) from None
        raise FetchError(f"the {what} at {url} could not be fetched: {e.reason}") from None
    except TimeoutError:
        raise FetchError(f"the {what} at {url} did not answer within {timeout:g} s") from None
    except http.client.HTTPException as e:  # its text would quote the server's answer
        raise FetchError(f"the {what} at {url} could not be fetched: the answer is not valid HTTP "
                         f"({type(e).__name__})") from None
    except OSError as e:
        raise FetchError(f"the {what} at {url} could not be fetched: {e}") from None


def fetch_bytes(url: str, *, max_size: int, timeout: float, what: str,
                policy: FetchPolicy | None = None) -> bytes:
    """A notebook or a requirements file, checked as data is (source lists, address policy); it may
    also be this broker's snapshot on the hub's own address."""
    buffer = io.BytesIO()
    _copy(url, buffer, max_size=max_size, timeout=timeout, what=what,
          policy=policy or FetchPolicy(), own_snapshots=True)
    return buffer.getvalue()


def download(url: str, target: Path, *, max_size: int, timeout: float, what: str,
             policy: FetchPolicy | None = None) -> int:
    """Download data into ``target`` through a temporary file, so a failed download leaves nothing;
    checked against the policy as :func:`stream`."""
    partial = target.with_name(target.name + ".part")
    try:
        with open(partial, "wb") as out:
            size = stream(url, out, max_size=max_size, timeout=timeout, what=what, policy=policy)
        os.replace(partial, target)
        return size
    finally:
        partial.unlink(missing_ok=True)
