"""An async client of the hub's REST API, with the service's own token.

What the service needs of the hub, every call through it: the phase driver starts, reads and stops a
user's named server and follows its start's progress events; the capacity poll reads every active
user's servers (:meth:`HubAPI.active_users`, all pages). JupyterHub 6 takes ``{display_name,
user_options}`` as the body of a start; JupyterHub 5 takes the bare options dict. The version is read
once from ``GET /hub/api/`` and kept.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Mapping
from typing import Any
from urllib.parse import quote

import httpx

# statuses after which the same call may succeed later (no answer, hub busy, restarting): any other
# error is the hub's answer (a 500 from a start means the server did not start)
TRANSIENT = frozenset({0, 429, 502, 503, 504})
# JupyterHub (2+) answers a list call as pages ({items, _pagination}) only when asked with this type;
# without it, it answers at most api_page_max_limit items (200 by default) and drops the rest
PAGINATION = "application/jupyterhub-pagination+json"
PAGE_SIZE = 200  # items asked for per page: the hub gives at most its api_page_max_limit


class HubAPIError(Exception):
    """A failed call to the hub. ``status`` is the HTTP status (0: the hub did not answer) and
    ``message`` the hub's own message when it gave one."""

    def __init__(self, status: int, message: str):
        super().__init__(f"{status}: {message}" if status else message)
        self.status = status
        self.message = message

    @property
    def transient(self) -> bool:
        return self.status in TRANSIENT


def _hub_message(response: httpx.Response) -> str:
    try:
        doc = response.json()
    except ValueError:
        doc = None
    if isinstance(doc, Mapping) and doc.get("message"):
        return str(doc["message"])
    text = response.text.strip()
    return text[:500] if text else response.reason_phrase or f"HTTP {response.status_code}"


def _major(version: str) -> int:
    try:
        return int(version.split(".", 1)[0])
    except ValueError:
        return 0


class HubAPI:
    """``api_url`` is ``$JUPYTERHUB_API_URL`` (``http://127.0.0.1:8081/hub/api``)."""

    def __init__(
        self,
        api_url: str,
        token: str,
        *,
        timeout: float = 30,
        transport: httpx.AsyncBaseTransport | None = None,
    ):
        self.api_url = api_url.rstrip("/")
        self._client = httpx.AsyncClient(
            headers={"Authorization": f"token {token}"},
            timeout=httpx.Timeout(timeout),
            transport=transport,
        )
        self._major: int | None = None

    @classmethod
    def from_env(cls) -> HubAPI | None:
        """A client from ``$JUPYTERHUB_API_URL`` and ``$JUPYTERHUB_API_TOKEN``; None without them."""
        url, token = os.environ.get("JUPYTERHUB_API_URL"), os.environ.get("JUPYTERHUB_API_TOKEN")
        return cls(url, token) if url and token else None

    async def close(self) -> None:
        await self._client.aclose()

    # -- plumbing -------------------------------------------------------------------------------

    def _url(self, *parts: str) -> str:
        return self.api_url + "/" + "/".join(quote(p, safe="") for p in parts)

    async def _call(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            response = await self._client.request(method, url, **kwargs)
        except httpx.HTTPError as e:
            raise HubAPIError(0, f"the hub did not answer: {e}") from e
        if response.status_code >= 400:
            raise HubAPIError(response.status_code, _hub_message(response))
        return response

    async def major_version(self) -> int:
        """The hub's major version, from ``GET /hub/api/`` (asked once)."""
        if self._major is None:
            response = await self._call("GET", self.api_url + "/")
            self._major = _major(str(response.json().get("version", "")))
        return self._major

    # -- users ----------------------------------------------------------------------------------

    async def active_users(self, *, page_size: int = PAGE_SIZE) -> list[dict[str, Any]]:
        """The model (with its ``servers``) of every user with a running or pending server:
        ``GET users?state=active``, page after page until the hub says there is no next page.

        Pages are read one after the other while users start and stop servers, so a user may show
        up twice (running_servers keeps one) or, when an earlier user stops in between, be missed
        until the next read: each read is as right as the hub's offsets allow."""
        users: list[dict[str, Any]] = []
        offset, limit = 0, max(1, page_size)
        while True:
            response = await self._call(
                "GET",
                self._url("users"),
                params={"state": "active", "offset": str(offset), "limit": str(limit)},
                headers={"Accept": PAGINATION},
            )
            try:
                items, following = read_page(json.loads(response.content), offset)
            except ValueError as e:
                raise HubAPIError(response.status_code, f"the hub's list of users is malformed: {e}") from e
            users.extend(items)
            if following is None:
                return users
            offset, limit = following

    # -- tokens (linked accounts: a peer's broker revokes the token a user's link holds) ----------

    async def token(self, user: str, token_id: str) -> dict[str, Any]:
        """The model of one of ``user``'s tokens (needs the ``read:tokens`` scope)."""
        return dict((await self._call("GET", self._url("users", user, "tokens", token_id))).json())

    async def delete_token(self, user: str, token_id: str) -> None:
        """Revoke one of ``user``'s tokens (needs the ``tokens`` scope). For a token an OAuth client
        got, the hub revokes every token of that client for the user."""
        await self._call("DELETE", self._url("users", user, "tokens", token_id))

    # -- servers --------------------------------------------------------------------------------

    async def start_server(
        self, user: str, name: str, *, display_name: str, user_options: Mapping[str, Any]
    ) -> int:
        """Ask the hub to start ``user``'s server ``name``. Returns 201 (ready) or 202 (pending)."""
        if await self.major_version() >= 6:
            body: dict[str, Any] = {"display_name": display_name, "user_options": dict(user_options)}
        else:
            body = dict(user_options)
        response = await self._call("POST", self._url("users", user, "servers", name), json=body)
        return response.status_code

    async def get_server(self, user: str, name: str) -> dict[str, Any] | None:
        """The server's model, or None when the hub has no such server (or user)."""
        try:
            if await self.major_version() >= 6:
                response = await self._call("GET", self._url("users", user, "servers", name))
                return dict(response.json())
            response = await self._call("GET", self._url("users", user))
        except HubAPIError as e:
            if e.status == 404:
                return None
            raise
        server = (response.json().get("servers") or {}).get(name)
        return dict(server) if isinstance(server, Mapping) else None

    async def stop_server(self, user: str, name: str, remove: bool = True) -> int:
        """Stop (and by default delete) the server. Returns 202 (stopping) or 204 (stopped);
        404 (no such server) is an error with that status."""
        response = await self._call(
            "DELETE",
            self._url("users", user, "servers", name),
            content=json.dumps({"remove": remove}),
            headers={"Content-Type": "application/json"},
        )
        return response.status_code

    async def progress(self, user: str, name: str) -> AsyncIterator[dict[str, Any]]:
        """The start's progress events (``{progress, message, ready?, failed?, url?}``), until the
        hub closes the stream (after the ready or failed event)."""
        url = self._url("users", user, "servers", name, "progress")
        timeout = httpx.Timeout(30, read=60)  # the hub sends a keepalive every 8 s
        try:
            async with self._client.stream("GET", url, timeout=timeout) as response:
                if response.status_code >= 400:
                    await response.aread()
                    raise HubAPIError(response.status_code, _hub_message(response))
                data: list[str] = []
                async for line in response.aiter_lines():
                    if line.startswith("data:"):
                        data.append(line[5:].strip())
                    elif not line.strip() and data:
                        event = _event("\n".join(data))
                        data = []
                        if event is not None:
                            yield event
                if data and (event := _event("\n".join(data))) is not None:
                    yield event
        except httpx.HTTPError as e:
            raise HubAPIError(0, f"the hub's progress stream broke: {e}") from e


def read_page(doc: Any, offset: int) -> tuple[list[dict[str, Any]], tuple[int, int] | None]:
    """The items of one page of a JupyterHub list (asked at ``offset``) and the ``(offset, limit)``
    of the next page, None after the last. A plain list is a hub that does not paginate: all there
    is. Raises ValueError for an answer that is neither, or whose next page would not move on."""
    if isinstance(doc, list):
        return [item for item in doc if isinstance(item, dict)], None
    if not isinstance(doc, Mapping) or not isinstance(doc.get("items"), list):
        raise ValueError("neither a list nor a page with items")
    items = [item for item in doc["items"] if isinstance(item, dict)]
    pagination = doc.get("_pagination")
    following = pagination.get("next") if isinstance(pagination, Mapping) else None
    if not following:
        return items, None
    if not isinstance(following, Mapping):
        raise ValueError(f"the next page is {following!r}")
    next_offset, limit = following.get("offset"), following.get("limit")
    if isinstance(next_offset, bool) or not isinstance(next_offset, int) or next_offset <= offset:
        raise ValueError(f"the next page's offset {next_offset!r} does not follow {offset}")
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValueError(f"the next page's limit is {limit!r}")
    return items, (next_offset, limit)


def _event(text: str) -> dict[str, Any] | None:
    try:
        doc = json.loads(text)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None
