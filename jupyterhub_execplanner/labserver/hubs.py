"""The hubs a user asks from the panel: their own hub (found from the environment) and the ones they
added, kept with their tokens in a file only they can read.

The file is JSON, ``{"hubs": [{"name", "url", "token"}]}`` with broker URLs, written whole to a
temporary file (mode 0600) and renamed over the old one. Tokens never leave this module's
:meth:`Hub.public` view except in requests to the hub they belong to.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ..client import broker_url

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class FieldError(ValueError):
    """A bad field of a body sent by the panel; the message names it and the fix (answered 400)."""


@dataclass(frozen=True)
class Hub:
    name: str
    url: str  # the broker's URL, ending with "/"
    token: str | None
    own: bool = False

    def public(self) -> dict[str, Any]:
        """What the browser may see: never the token."""
        return {"name": self.name, "url": self.url, "own": self.own, "has_token": bool(self.token)}


def parse_hub(doc: Any, service_name: str, own_name: str | None) -> Hub:
    """A hub from a ``POST execplanner/hubs`` body ``{name, url, token}``; FieldError if wrong."""
    if not isinstance(doc, dict):
        raise FieldError('The body must be an object: {"name": ..., "url": ..., "token": ...}.')
    name = doc.get("name")
    if not isinstance(name, str) or not name.strip():
        raise FieldError("name is missing: give the hub a short name, like 'other-hub'.")
    name = name.strip()
    if not NAME_PATTERN.match(name):
        raise FieldError(
            f"name {name!r} is not usable: use up to 64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit."
        )
    if own_name is not None and name == own_name:
        raise FieldError(f"name {name!r} is your own hub's: choose another name.")
    url = doc.get("url")
    if not isinstance(url, str) or not url.strip():
        raise FieldError("url is missing: give the hub's URL, like https://hub.example.org/.")
    try:
        url = broker_url(url, service_name)
    except ValueError as e:
        raise FieldError(f"url: {e}; give the hub's URL, like https://hub.example.org/.") from e
    token = doc.get("token")
    if not isinstance(token, str) or not token.strip():
        raise FieldError("token is missing: make one on that hub's /hub/token page and paste it here.")
    if any(c.isspace() for c in token.strip()):
        raise FieldError("token has spaces in it: paste only the token from the hub's /hub/token page.")
    return Hub(name=name, url=url, token=token.strip())


class HubsStore:
    """The user's added hubs, in ``path``."""

    def __init__(self, path: str) -> None:
        self.path = os.path.abspath(os.path.expanduser(path))

    def load(self) -> list[Hub]:
        try:
            with open(self.path, encoding="utf-8") as f:
                doc = json.load(f)
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as e:
            raise OSError(f"cannot read {self.path}: {e}") from e
        hubs = []
        for item in doc.get("hubs", []) if isinstance(doc, dict) else []:
            if isinstance(item, dict) and isinstance(item.get("name"), str) and isinstance(
                item.get("url"), str
            ):
                hubs.append(Hub(item["name"], item["url"], item.get("token") or None))
        return hubs

    def save(self, hubs: list[Hub]) -> None:
        folder = os.path.dirname(self.path)
        os.makedirs(folder, mode=0o700, exist_ok=True)
        doc = {"hubs": [{"name": h.name, "url": h.url, "token": h.token} for h in hubs]}
        fd, temporary = tempfile.mkstemp(prefix=".hubs-", suffix=".json", dir=folder)
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(doc, f, indent=1)
            os.replace(temporary, self.path)
        except BaseException:
            if os.path.exists(temporary):
                os.unlink(temporary)
            raise

    def put(self, hub: Hub) -> None:
        """Add ``hub``, replacing one of the same name (in its place)."""
        hubs = self.load()
        index = next((i for i, h in enumerate(hubs) if h.name == hub.name), None)
        if index is None:
            hubs.append(hub)
        else:
            hubs[index] = hub
        self.save(hubs)

    def remove(self, name: str) -> bool:
        hubs = self.load()
        kept = [h for h in hubs if h.name != name]
        if len(kept) == len(hubs):
            return False
        self.save(kept)
        return True


def _origin(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return urlunsplit((parts.scheme, parts.netloc, "", "", ""))


def own_broker_url(
    env: Mapping[str, str],
    service_name: str,
    *,
    configured: str = "",
    request_origin: str | None = None,
) -> str | None:
    """The URL of the broker on the hub this server runs under; None when not under a hub.

    In order: ``configured`` (``ExecPlannerLab.own_hub_url``); ``$JUPYTERHUB_PUBLIC_HUB_URL``; the
    origin of ``$JUPYTERHUB_PUBLIC_URL`` with ``$JUPYTERHUB_BASE_URL``; ``request_origin`` (the
    scheme and host the browser reached this server at, which is the hub's proxy) with
    ``$JUPYTERHUB_BASE_URL``. ``$JUPYTERHUB_API_URL`` is not used: it is often the hub's internal
    address, where services are not routed.
    """
    if not env.get("JUPYTERHUB_API_TOKEN") or not env.get("JUPYTERHUB_API_URL"):
        return None
    if configured:
        return broker_url(configured, service_name)
    if env.get("JUPYTERHUB_PUBLIC_HUB_URL"):
        return broker_url(env["JUPYTERHUB_PUBLIC_HUB_URL"], service_name)
    base = "/" + env.get("JUPYTERHUB_BASE_URL", "/").strip("/")
    origin = _origin(env.get("JUPYTERHUB_PUBLIC_URL", "")) or (
        _origin(request_origin) if request_origin else None
    )
    if origin is None:
        return None
    return broker_url(origin + base.rstrip("/") + "/", service_name)
