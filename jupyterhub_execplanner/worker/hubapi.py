"""An async client of the hub's REST API, with the service's own token.

Only what the phase driver needs: start, read and stop a user's named server, and follow its start's
progress events. JupyterHub 6 takes ``{display_name, user_options}`` as the body of a start; JupyterHub 5
takes the bare options dict. The version is read once from ``GET /hub/api/`` and kept.
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


def _event(text: str) -> dict[str, Any] | None:
    try:
        doc = json.loads(text)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None
