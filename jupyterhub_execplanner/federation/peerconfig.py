"""The ``peers`` setting: what each declared peer must look like, with messages that name the fix.

A peer is ``{name, url, token | token_env | forward_token: true}``. Exactly one way to authenticate:
``token`` (the token itself), ``token_env`` (the name of an environment variable of the service that
holds it) or ``forward_token: true`` (send each caller's own ``Authorization`` header on).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

KEYS = ("name", "url", "token", "token_env", "forward_token")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
_ENV = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class PeerConfigError(ValueError):
    """A wrong ``peers`` entry; the message names the peer, the field and the fix."""


@dataclass(frozen=True)
class PeerSpec:
    name: str
    url: str
    token: str | None = None
    token_env: str | None = None
    forward_token: bool = False

    @property
    def auth(self) -> str:
        """How this peer is authenticated, in words (for logs and docs; never the token)."""
        if self.forward_token:
            return "the caller's own token"
        if self.token_env:
            return f"the token in ${self.token_env}"
        return "a configured token"


def check_peers(value: Any, setting: str = "ExecPlanner.peers") -> list[PeerSpec]:
    """The peers, checked. Raises :class:`PeerConfigError` naming the first wrong peer and field."""
    if not isinstance(value, (list, tuple)):
        raise PeerConfigError(
            f"{setting} must be a list of peers like [{{'name': 'hub-b', 'url': "
            f"'https://hub-b.example.org', 'token_env': 'HUB_B_TOKEN'}}], not {type(value).__name__}"
        )
    peers: list[PeerSpec] = []
    for index, item in enumerate(value):
        peer = _check_one(item, f"{setting}[{index}]")
        if any(p.name == peer.name for p in peers):
            raise PeerConfigError(
                f"{setting}[{index}] (peer {peer.name!r}): the name is used by another peer; "
                "give each peer a name of its own"
            )
        peers.append(peer)
    return peers


def _check_one(item: Any, where: str) -> PeerSpec:
    if not isinstance(item, dict):
        raise PeerConfigError(
            f"{where} must be a dict with 'name', 'url' and one of 'token', 'token_env' or "
            f"'forward_token', not {type(item).__name__}"
        )
    name = item.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise PeerConfigError(
            f"{where}: 'name' must be a short name of letters, digits, '.', '_' or '-' "
            f"(it appears in messages), not {name!r}"
        )
    where = f"{where} (peer {name!r})"
    unknown = sorted(set(item) - set(KEYS))
    if unknown:
        raise PeerConfigError(
            f"{where}: unknown field {unknown[0]!r}; a peer has only {', '.join(KEYS)}"
        )
    url = item.get("url")
    parts = urlsplit(url) if isinstance(url, str) else None
    if not isinstance(url, str) or parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        raise PeerConfigError(
            f"{where}: 'url' must be the peer's hub or broker URL, like https://hub-b.example.org "
            f"or https://hub-b.example.org/services/execplanner/, not {url!r}"
        )
    token, token_env, forward = item.get("token"), item.get("token_env"), item.get("forward_token", False)
    if not isinstance(forward, bool):
        raise PeerConfigError(f"{where}: 'forward_token' must be true or false, not {forward!r}")
    if token is not None and (not isinstance(token, str) or not token.strip()):
        raise PeerConfigError(f"{where}: 'token' must be a non-empty string")
    if token_env is not None and (not isinstance(token_env, str) or not _ENV.match(token_env)):
        raise PeerConfigError(
            f"{where}: 'token_env' must be the name of an environment variable (like HUB_B_TOKEN), "
            f"not {token_env!r}"
        )
    given = [k for k, v in (("token", token), ("token_env", token_env), ("forward_token", forward)) if v]
    if len(given) != 1:
        told = f"both {given[0]!r} and {given[1]!r}" if len(given) > 1 else "none of them"
        raise PeerConfigError(
            f"{where}: give exactly one of 'token', 'token_env' or 'forward_token: true' "
            f"(it has {told})"
        )
    return PeerSpec(name=name, url=url.strip(), token=token, token_env=token_env, forward_token=forward)
