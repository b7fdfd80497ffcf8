"""The hubs a user asks from the panel: their own hub (found from the environment) and the ones they
added, kept with their tokens in a file only they can read (and the own hub's linked peers, listed by
its broker: see :mod:`.links`).

The file is JSON, ``{"hubs": [{"name", "url", "token"}]}`` with broker URLs, written whole to a
temporary file (mode 0600) and renamed over the old one. Tokens never leave this module's
:meth:`Hub.public` view except in requests to the hub they belong to.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ..client import broker_url

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class FieldError(ValueError):
    """A bad field of a body sent by the panel; the message names it and the fix (answered 400).
    ``field`` is the form's field to show it next to (``name``, ``url``, ``token``), when known."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Link:
    """The user's account on a peer of the own hub, as the own broker says (``GET links``)."""

    state: str  # "linked" | "unlinked" | "expired" (expired or revoked: link again)
    user: str | None = None  # the user's name on the peer, when linked
    authorize: str | None = None  # the http(s) URL the browser opens to link (or link again)
    expires_at: str | None = None
    message: str | None = None
    url: str | None = None  # the peer's own broker (shown; calls go through the relay)

    def public(self) -> dict[str, Any]:
        return {"state": self.state, "user": self.user, "authorize": self.authorize,
                "expires_at": self.expires_at, "message": self.message, "url": self.url}


@dataclass(frozen=True)
class Hub:
    name: str
    url: str  # the broker's URL, ending with "/" (a linked peer: the own broker's relay for it)
    token: str | None  # a linked peer: the server's own hub token (the relay holds the link's)
    own: bool = False
    refusal: str | None = None  # why no call may be made to it (the own hub at an untrusted host)
    link: Link | None = None  # a peer of the own hub, reached as the user's linked account there

    @property
    def kind(self) -> str:
        """``own`` (the hub this server runs under), ``linked`` (a peer of it) or ``added``."""
        return "own" if self.own else "linked" if self.link is not None else "added"

    def public(self) -> dict[str, Any]:
        """What the browser may see: never the token."""
        return {"name": self.name, "url": self.url, "own": self.own, "has_token": bool(self.token),
                "kind": self.kind, "link": self.link.public() if self.link else None}


def parse_hub(
    doc: Any, service_name: str, own_name: str | None, peers: Sequence[str] = ()
) -> Hub:
    """A hub from a ``POST execplanner/hubs`` body ``{name, url, token}``; FieldError if wrong.
    ``peers``: the names of the own hub's linkable peers, which an added hub may not take."""
    if not isinstance(doc, dict):
        raise FieldError('The body must be an object: {"name": ..., "url": ..., "token": ...}.')
    name = doc.get("name")
    if not isinstance(name, str) or not name.strip():
        raise FieldError("name is missing: give the hub a short name, like 'other-hub'.", "name")
    name = name.strip()
    if not NAME_PATTERN.match(name):
        raise FieldError(
            f"name {name!r} is not usable: use up to 64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit.",
            "name",
        )
    if own_name is not None and name == own_name:
        raise FieldError(f"name {name!r} is your own hub's: choose another name.", "name")
    if name in peers:
        raise FieldError(
            f"name {name!r} is a hub your own hub links to: use Link account beside it in the list, "
            "or choose another name.",
            "name",
        )
    url = doc.get("url")
    if not isinstance(url, str) or not url.strip():
        raise FieldError("url is missing: give the hub's URL, like https://hub.example.org/.", "url")
    try:
        url = broker_url(url, service_name)
    except ValueError as e:
        raise FieldError(f"url: {e}; give the hub's URL, like https://hub.example.org/.", "url") from e
    token = doc.get("token")
    if not isinstance(token, str) or not token.strip():
        raise FieldError(
            "token is missing: make one on that hub's /hub/token page and paste it here.", "token"
        )
    if any(c.isspace() for c in token.strip()):
        raise FieldError(
            "token has spaces in it: paste only the token from the hub's /hub/token page.", "token"
        )
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


class UntrustedHost(ValueError):
    """The browser reached this server at a host it cannot trust with the server's own hub token;
    ``url`` is the broker URL that host would give (to show, never to call)."""

    def __init__(self, message: str, url: str) -> None:
        super().__init__(message)
        self.url = url


LOOPBACK = "loopback"


def _host_key(hostname: str) -> str:
    """A hostname to compare: lowercase, without brackets; every loopback name is the same host."""
    name = hostname.strip().strip("[]").lower().rstrip(".")
    if name == "localhost":
        return LOOPBACK
    try:
        return LOOPBACK if ipaddress.ip_address(name).is_loopback else name
    except ValueError:
        return name


def _split_host(host: str) -> tuple[str, int | None] | None:
    """``host[:port]`` (as in a Host header or a trusted_hosts entry) as (hostname, port); None if
    it is not one."""
    try:
        parts = urlsplit(f"//{host.strip()}")
        return (parts.hostname or "", parts.port) if parts.hostname else None
    except ValueError:
        return None


def host_is_trusted(env: Mapping[str, str], origin: str, trusted_hosts: Sequence[str] = ()) -> bool:
    """Whether the own hub's token may be sent to ``origin`` (the scheme and host the browser used).

    Trusted: a host of ``trusted_hosts`` (``name`` for any port, ``name:port`` for that port only),
    or the host of ``$JUPYTERHUB_API_URL`` on any port (the hub's proxy and its API are on the same
    machine, on other ports; every loopback name counts as the same host). Anything else may be a
    forged ``Host`` header."""
    try:
        parts = urlsplit(origin)
        hostname, port = parts.hostname, parts.port
    except ValueError:
        return False
    if not hostname or parts.scheme not in ("http", "https"):
        return False
    if port is None:
        port = 443 if parts.scheme == "https" else 80
    key = _host_key(hostname)
    for entry in trusted_hosts:
        split = _split_host(entry)
        if split and _host_key(split[0]) == key and split[1] in (None, port):
            return True
    try:
        api_host = urlsplit(env.get("JUPYTERHUB_API_URL", "")).hostname
    except ValueError:
        api_host = None
    return api_host is not None and bool(api_host) and _host_key(api_host) == key


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
    trusted_hosts: Sequence[str] = (),
) -> str | None:
    """The URL of the broker on the hub this server runs under; None when not under a hub.

    In order: ``configured`` (``ExecPlannerLab.own_hub_url``); ``$JUPYTERHUB_PUBLIC_HUB_URL``; the
    origin of ``$JUPYTERHUB_PUBLIC_URL`` with ``$JUPYTERHUB_BASE_URL``; ``request_origin`` (the
    scheme and host the browser reached this server at, which is the hub's proxy) with
    ``$JUPYTERHUB_BASE_URL``, only when :func:`host_is_trusted` (else :class:`UntrustedHost`: the
    ``Host`` header can be forged, and the server's token must not go where it says).
    ``$JUPYTERHUB_API_URL`` is not used for the URL: it is often the hub's internal address, where
    services are not routed.
    """
    if not env.get("JUPYTERHUB_API_TOKEN") or not env.get("JUPYTERHUB_API_URL"):
        return None
    if configured:
        return broker_url(configured, service_name)
    if env.get("JUPYTERHUB_PUBLIC_HUB_URL"):
        return broker_url(env["JUPYTERHUB_PUBLIC_HUB_URL"], service_name)
    base = "/" + env.get("JUPYTERHUB_BASE_URL", "/").strip("/")
    origin = _origin(env.get("JUPYTERHUB_PUBLIC_URL", ""))
    if origin is None and request_origin:
        try:
            origin = _origin(request_origin)
        except ValueError:
            origin = None
        if origin is not None and not host_is_trusted(env, origin, trusted_hosts):
            url = broker_url(origin + base.rstrip("/") + "/", service_name)
            raise UntrustedHost(
                f"This server was reached at {origin}, which is not the host of its hub's API "
                "($JUPYTERHUB_API_URL) nor one of ExecPlannerLab.trusted_hosts, so it will not send "
                "its hub token there (a Host header can be forged). Ask the hub's admin to set "
                "c.JupyterHub.public_url (or c.ExecPlannerLab.own_hub_url, or "
                "c.ExecPlannerLab.trusted_hosts) to the hub's public address.",
                url,
            )
    if origin is None:
        return None
    return broker_url(origin + base.rstrip("/") + "/", service_name)
