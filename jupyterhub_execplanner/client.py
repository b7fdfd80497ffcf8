"""An async client for an Execution Broker: this service on any hub, or another v1.0 broker.

:class:`BrokerClient` talks to one broker; :func:`ask_many` sends one request to many at once and
waits for each no longer than a timeout. Used by the ``execplanner`` command, the lab server
extension and federation.

A broker is addressed by its hub (``http://host:8000`` or ``http://host:8000/hub/``; the broker is
then ``{hub}/services/execplanner/``) or by its own URL (anything with ``/services/`` in the path,
used as given). Requests are JSON with ``Authorization: token <token>``. Answers that are not
2xx raise :class:`BrokerError` with the server's message, except that ``POST direct`` answers a
request it cannot serve with ``400`` and a FAILED session, which :meth:`BrokerClient.direct`
returns.

Redirects are not followed blindly: a ``303 See Other`` with a body (what the v1.0 reference broker
sends for ``POST requests`` and ``POST direct``) is read as the answer; one without a body is
followed with a GET, once. Any other redirect is an error (often a login page: check the token).
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import ssl
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import urljoin, urlsplit, urlunsplit

import certifi
import httpx

from ._version import __version__
from .model.codec import BodyError, load_json, load_yaml
from .model.timing import format_instant

SERVICE_NAME = "execplanner"
MAX_ANSWER = 4 * 1024 * 1024  # bytes of a broker's answer this client reads at most
MAX_YAML_ANSWER = 256 * 1024  # YAML is parsed in pure Python: larger YAML answers are not parsed
ENUM_VALUE_UPDATE = "uri:enum-value-update"

__all__ = [
    "BrokerClient",
    "BrokerError",
    "HubAnswer",
    "ask_many",
    "broker_url",
    "parse_document",
    "split_session_url",
]


class BrokerError(Exception):
    """A broker answered with a status that is not 2xx (``status`` 0: no usable answer at all)."""

    def __init__(self, status: int, message: str, body: Any = None) -> None:
        super().__init__(f"HTTP {status}: {message}" if status else message)
        self.status = status
        self.message = message
        self.body = body


# -- documents ------------------------------------------------------------------------------------


def parse_document(text: str | bytes) -> Any:
    """Parse a JSON or YAML document (JSON first), with the service's own limits on what a hostile
    document may do: nesting at most ``codec.MAX_DEPTH`` deep, no YAML anchors or aliases (no alias
    bombs), no unusual tags. Raises ``ValueError`` when it is neither, or breaks a limit."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    try:
        return load_json(text)
    except BodyError as e:
        if "nested more than" in str(e):
            raise ValueError(str(e)) from e
    try:
        return load_yaml(text)  # the service's own reader: YAML 1.2 booleans, no timestamps
    except BodyError as e:
        raise ValueError(f"neither JSON nor YAML: {e}") from e


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):  # the standard's form: UTC, to the second, with Z
        return format_instant(value)
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"cannot send a {type(value).__name__} in a JSON document")


def _encode(doc: Any) -> bytes:
    return json.dumps(doc, default=_json_default).encode("utf-8")


# -- URLs -----------------------------------------------------------------------------------------


def broker_url(url: str, service: str = SERVICE_NAME) -> str:
    """The broker's base URL (with a trailing slash) for a hub URL or a broker URL.

    ``http://h:8000``, ``http://h:8000/``, ``http://h:8000/hub`` and ``http://h:8000/hub/`` all give
    ``http://h:8000/services/execplanner/``; a URL whose path has ``/services/`` is the broker.
    """
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"not an http(s) URL: {url!r}")
    path = parts.path.rstrip("/")
    head, found, tail = path.partition("/services/")
    if found and tail:
        path = f"{path}/"  # already a broker (service) URL
    elif path.endswith("/services"):
        path = f"{path}/{service}/"
    else:
        if path.endswith("/hub"):
            path = path[: -len("/hub")]
        path = f"{path}/services/{service}/"
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def split_session_url(url: str) -> tuple[str, str]:
    """Split a session URL (``…/sessions/{uuid}``) into the broker's base URL and the uuid."""
    parts = urlsplit(url.strip())
    segments = parts.path.rstrip("/").split("/")
    if parts.scheme not in ("http", "https") or len(segments) < 3 or segments[-2] != "sessions":
        raise ValueError(f"not a session URL (…/sessions/<uuid>): {url!r}")
    base = "/".join(segments[:-2]) + "/"
    return urlunsplit((parts.scheme, parts.netloc, base, "", "")), segments[-1]


def _is_url(text: str) -> bool:
    return text.startswith(("http://", "https://"))


def _default_name(base: str) -> str:
    """A short label for a broker: its host[:port], and the hub's base path when it has one."""
    parts = urlsplit(base)
    prefix = parts.path.split("/services/", 1)[0].strip("/")
    return f"{parts.netloc}/{prefix}" if prefix else parts.netloc


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc.lower()


def _error_message(response: httpx.Response, body: Any) -> str:
    if isinstance(body, dict) and isinstance(body.get("message"), str) and body["message"]:
        return body["message"]
    text = response.text.strip()
    if text and not text.lstrip().startswith("<"):
        return text[:500]
    return response.reason_phrase or "no message"


# -- the client -----------------------------------------------------------------------------------


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One TLS context for every client: building one (loading the CA bundle) takes ~16 ms, which
    each new client would otherwise pay, even for ``http://`` brokers. Honours ``$SSL_CERT_FILE`` and
    ``$SSL_CERT_DIR`` as httpx does, else certifi's bundle."""
    cafile, capath = os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR")
    if cafile or capath:
        return ssl.create_default_context(cafile=cafile or None, capath=capath or None)
    return ssl.create_default_context(cafile=certifi.where())


_Client = TypeVar("_Client", bound="BrokerClient")

class BrokerClient:
    """One Execution Broker. Use as ``async with BrokerClient(url, token) as broker: ...``."""

    def __init__(
        self,
        url: str,
        token: str | None = None,
        *,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
        name: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """``headers`` are sent with every call (federation: the Via header, or the caller's own
        ``Authorization`` when a peer is declared with ``forward_token``)."""
        self.url = broker_url(url)
        self.name = name or _default_name(self.url)
        headers = {
            "Accept": "application/json",
            "User-Agent": f"jupyterhub-execplanner/{__version__}",
            **dict(headers or {}),
        }
        if token:
            headers["Authorization"] = f"token {token}"
        self._http = httpx.AsyncClient(
            headers=headers,
            timeout=timeout,
            transport=transport,
            follow_redirects=False,
            verify=tls_context(),
        )

    def __repr__(self) -> str:
        return f"BrokerClient({self.url!r}, name={self.name!r})"

    # -- URLs --

    def url_for(self, path: str) -> str:
        """An endpoint of this broker (``path`` relative to the base URL)."""
        return urljoin(self.url, path.lstrip("/"))

    def _item_url(self, collection: str, uuid_or_url: str) -> str:
        """``{base}{collection}/{uuid}``; a full URL on this broker's host is used as it is.

        A full URL on another host is reduced to its uuid and read from this broker, so the token
        is only ever sent to the host it was given for.
        """
        text = uuid_or_url.strip()
        if not text:
            raise ValueError(f"empty {collection} uuid")
        if _is_url(text):
            if _origin(text) == _origin(self.url):
                return text
            text = urlsplit(text).path.rstrip("/").rsplit("/", 1)[-1]
        if "/" in text:
            raise ValueError(f"not a uuid or URL: {uuid_or_url!r}")
        return self.url_for(f"{collection}/{text}")

    def session_url(self, uuid_or_url: str) -> str:
        return self._item_url("sessions", uuid_or_url)

    def offerset_url(self, uuid_or_url: str) -> str:
        return self._item_url("offersets", uuid_or_url)

    # -- HTTP --

    async def _send(self, method: str, url: str, doc: Any = None) -> tuple[httpx.Response, Any]:
        """Send, and read the answer: at most :data:`MAX_ANSWER` bytes (a larger one is a
        BrokerError, read no further), parsed only when small enough to parse without holding up
        the event loop (JSON up to the cap, YAML up to :data:`MAX_YAML_ANSWER`)."""
        content = None
        headers = {}
        if doc is not None:
            content = _encode(doc)
            headers["Content-Type"] = "application/json"
        response = await self._exchange(method, url, content, headers)
        data = response.content
        body = None
        if data:
            looks_json = data.lstrip()[:1] in (b"{", b"[")
            if looks_json or len(data) <= MAX_YAML_ANSWER:
                try:
                    body = parse_document(data)
                except ValueError:
                    body = None
        return response, body

    async def _exchange(self, method: str, url: str, content: bytes | None,
                        headers: Mapping[str, str]) -> httpx.Response:
        """One call; the answer read whole, but never past :data:`MAX_ANSWER` bytes (a larger one is
        a BrokerError, read no further)."""
        request = self._http.build_request(method, url, content=content, headers=dict(headers))
        response = await self._http.send(request, stream=True)
        try:
            chunks, size = [], 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > MAX_ANSWER:
                    raise BrokerError(
                        0, f"{self.name} answered more than {MAX_ANSWER // (1024 * 1024)} MiB; not read"
                    )
                chunks.append(chunk)
        finally:
            await response.aclose()
        response._content = b"".join(chunks)  # what httpx's read() sets: .content and .text work
        return response

    async def passthrough(self, method: str, path: str, content: bytes | None = None,
                          headers: Mapping[str, str] | None = None) -> httpx.Response:
        """``method`` on ``path`` (relative to the broker; a query included) with ``content`` sent as
        it is, and the answer as it came, unparsed, whatever its status (a relay passes both on).
        At most :data:`MAX_ANSWER` bytes are read: a larger answer is a BrokerError."""
        return await self._exchange(method, self.url_for(path), content, headers or {})

    async def _call(self, method: str, url: str, doc: Any = None, *, direct: bool = False) -> Any:
        response, body = await self._send(method, url, doc)
        status = response.status_code
        if status == 303:
            if isinstance(body, dict):
                return body
            location = response.headers.get("Location")
            if not location:
                raise BrokerError(status, "303 See Other without a body or a Location", body)
            target = urljoin(str(response.request.url), location)
            if _origin(target) != _origin(self.url):
                raise BrokerError(status, f"redirected to another host: {target}", body)
            response, body = await self._send("GET", target)
            status = response.status_code
        if 200 <= status < 300:
            if body is None and response.content:
                raise BrokerError(status, "the answer is neither JSON nor YAML", response.text)
            return body
        if direct and status == 400 and isinstance(body, dict) and "phase" in body:
            return body  # POST direct: no offer; the FAILED session says why
        if 300 <= status < 400:
            location = response.headers.get("Location", "?")
            raise BrokerError(
                status, f"redirected to {location} (is the token valid for this hub?)", body
            )
        raise BrokerError(status, _error_message(response, body), body)

    # -- the API --

    async def request(self, doc: dict[str, Any]) -> dict[str, Any]:
        """``POST requests``: an ExecutionRequest in, the OfferSetResponse out."""
        return await self._call("POST", self.url_for("requests"), doc)

    async def direct(self, doc: dict[str, Any]) -> dict[str, Any]:
        """``POST direct``: the accepted session, or (on 400) the FAILED session with messages."""
        return await self._call("POST", self.url_for("direct"), doc, direct=True)

    async def offerset(self, uuid_or_url: str) -> dict[str, Any]:
        """``GET offersets/{uuid}``."""
        return await self._call("GET", self.offerset_url(uuid_or_url))

    async def session(self, uuid_or_url: str) -> dict[str, Any]:
        """``GET sessions/{uuid}``; a session's ``meta.url`` is accepted as well as its uuid."""
        return _session(await self._call("GET", self.session_url(uuid_or_url)), self.name, "GET")

    async def update(self, uuid_or_url: str, phase: str) -> dict[str, Any]:
        """``POST sessions/{uuid}`` with an enum-value update of ``phase``; the updated session."""
        doc = {"kind": ENUM_VALUE_UPDATE, "path": "phase", "value": phase}
        return _session(await self._call("POST", self.session_url(uuid_or_url), doc), self.name, "POST")

    async def accept(self, uuid_or_url: str) -> dict[str, Any]:
        return await self.update(uuid_or_url, "ACCEPTED")

    async def reject(self, uuid_or_url: str) -> dict[str, Any]:
        return await self.update(uuid_or_url, "REJECTED")

    async def cancel(self, uuid_or_url: str) -> dict[str, Any]:
        return await self.update(uuid_or_url, "CANCELLED")

    async def sessions(
        self, *, owner: str | None = None, offers: bool = False
    ) -> list[dict[str, Any]]:
        """``GET sessions``: the caller's sessions, newest first."""
        params = []
        if owner:
            params.append(("owner", owner))
        if offers:
            params.append(("offers", "true"))
        url = self.url_for("sessions")
        if params:
            url = str(httpx.URL(url, params=params))
        body = await self._call("GET", url)
        if not isinstance(body, dict) or not isinstance(body.get("sessions"), list):
            raise BrokerError(200, "the answer to GET sessions has no 'sessions' list", body)
        return body["sessions"]

    async def info(self) -> dict[str, Any]:
        """``GET /``: the service info."""
        return await self._call("GET", self.url)

    async def request_2023(self, doc: dict[str, Any]) -> dict[str, Any]:
        """``POST request``: a 2023 draft ``request:`` document in, its ``response:`` out."""
        return await self._call("POST", self.url_for("request"), doc)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self: _Client) -> _Client:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


class NotASession(BrokerError):
    """A session call answered (2xx) with something else than a session; ``body`` is what came."""


def _session(body: Any, name: str, method: str) -> dict[str, Any]:
    """``body`` when it is a session (an object with a ``phase``), else :class:`NotASession`: a
    foreign answer is not shown or kept as a session with every field missing."""
    if not isinstance(body, dict) or not isinstance(body.get("phase"), str):
        raise NotASession(0, f"{name} answered {method} sessions/{{uuid}} with something else than a "
                          "session (no 'phase'): is it an execution broker?", body)
    return body


# -- many brokers ---------------------------------------------------------------------------------


@dataclass
class HubAnswer:
    """One hub's answer to :func:`ask_many`: ``ok`` with its offer set (YES or NO), or an error."""

    hub: str
    ok: bool
    offerset: dict[str, Any] | None
    error: str | None
    elapsed: float


def describe_error(error: BaseException, timeout: float | None = None) -> str:
    """A one-line account of why a hub gave no answer."""
    if isinstance(error, (asyncio.TimeoutError, TimeoutError, httpx.TimeoutException)):
        return f"timed out after {timeout:g}s" if timeout is not None else "timed out"
    if isinstance(error, BrokerError):
        return str(error)
    if isinstance(error, httpx.ConnectError):
        return f"cannot connect: {error}" if str(error) else "cannot connect"
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


async def _ask_one(client: BrokerClient, doc: dict[str, Any], timeout: float) -> HubAnswer:
    started = time.monotonic()
    try:
        answer = await asyncio.wait_for(client.request(doc), timeout)
    except Exception as e:  # one hub's failure must not hold back the others
        return HubAnswer(client.name, False, None, describe_error(e, timeout), _since(started))
    if not isinstance(answer, dict):
        error = "the answer is not an offer set"
        return HubAnswer(client.name, False, None, error, _since(started))
    return HubAnswer(client.name, True, answer, None, _since(started))


def _since(started: float) -> float:
    return time.monotonic() - started


async def ask_many(
    clients: Sequence[BrokerClient], doc: dict[str, Any], *, timeout: float
) -> list[HubAnswer]:
    """Send ``doc`` to every broker at once; one :class:`HubAnswer` per client, in their order.

    Each hub gets at most ``timeout`` seconds; a hub that is slow, down or answers an error gives
    ``ok=False`` with the reason, and never delays the others' answers beyond the timeout.
    """
    return list(await asyncio.gather(*(_ask_one(c, doc, timeout) for c in clients)))
