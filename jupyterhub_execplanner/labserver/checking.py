"""Checking a hub before the panel keeps it: its address answers, it runs the execution broker, and
the token is valid there (``GET <hub>/hub/api/user`` names the token's owner: "connected as alice").

The check runs on the Jupyter server, which holds the token; the browser only sees the outcome.
Each failure is a :class:`~.hubs.FieldError` naming the field to fix (``url`` or ``token``).
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from ..client import describe_error
from .hubs import FieldError, Hub


def hub_api_url(broker: str) -> str:
    """The hub's ``/hub/api/`` URL for the broker URL ``…/services/<name>/`` of that hub."""
    parts = urlsplit(broker)
    head = parts.path.partition("/services/")[0]
    return urlunsplit((parts.scheme, parts.netloc, f"{head}/hub/api/", "", ""))


def hub_home(broker: str) -> str:
    """The hub's address (``https://hub.example.org/``) for its broker URL, to show in messages."""
    return hub_api_url(broker).removesuffix("api/").removesuffix("hub/")


async def _get(client: httpx.AsyncClient, url: str) -> tuple[int, Any]:
    response = await client.get(url)
    try:
        body = response.json()
    except ValueError:
        body = None
    return response.status_code, body


async def check_hub(hub: Hub, timeout: float) -> str:
    """The name of the user the token of ``hub`` belongs to; FieldError when the hub cannot be
    reached, has no broker, or refuses the token. Bounded as a whole by ``timeout``."""
    home = hub_home(hub.url)
    user_url = hub_api_url(hub.url) + "user"
    headers = {"Authorization": f"token {hub.token}", "Accept": "application/json"}
    try:
        async with httpx.AsyncClient(timeout=timeout, headers=headers) as client:
            status, user = await asyncio.wait_for(_get(client, user_url), timeout)
            if status in (401, 403):
                raise FieldError(
                    f"token: {home} did not accept this token (HTTP {status}); make a new one on "
                    f"{home}hub/token and paste it here.",
                    field="token",
                )
            if status != 200 or not isinstance(user, dict) or not isinstance(user.get("name"), str):
                raise FieldError(
                    f"url: {home} does not answer as a JupyterHub ({user_url} gave HTTP {status}); "
                    "give the address of the hub's home page, like https://hub.example.org/.",
                    field="url",
                )
            status, info = await asyncio.wait_for(_get(client, hub.url), timeout)
    except (httpx.HTTPError, asyncio.TimeoutError, OSError) as e:
        raise FieldError(
            f"url: cannot reach {home} ({describe_error(e, timeout)}); check the address, or try "
            "again when the hub is up.",
            field="url",
        ) from e
    if status != 200 or not isinstance(info, dict) or "profiles" not in info:
        raise FieldError(
            f"url: {home} is a JupyterHub, but it has no execution broker at {hub.url} (HTTP "
            f"{status}); ask its admin for the broker's address.",
            field="url",
        )
    return str(user["name"])
