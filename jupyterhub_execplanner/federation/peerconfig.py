"""The ``peers`` setting: what each declared peer must look like, with messages that name the fix.

A peer is ``{name, url, token | token_env | forward_token: true, link}``. At most one way for this
hub to authenticate as itself: ``token`` (the token itself), ``token_env`` (the name of an
environment variable of the service that holds it) or ``forward_token: true`` (send each caller's own
``Authorization`` header on). ``link`` (``{client_id, secret | secret_env}``) lets users link their
own account on the peer (docs/linked-accounts.md); a peer needs a credential, a link, or both.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

KEYS = ("name", "url", "token", "token_env", "forward_token", "link")
LINK_KEYS = ("client_id", "secret", "secret_env", "redirect_uri")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
_ENV = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class PeerConfigError(ValueError):
    """A wrong ``peers`` entry; the message names the peer, the field and the fix."""


@dataclass(frozen=True)
class LinkClientSpec:
    """How this hub's broker is registered as an OAuth client on the peer's hub: the client id the
    peer's admin gave it, its secret (or the variable holding it), and, when the broker is reached
    at another address than its callers use, the exact redirect URL registered there."""

    client_id: str
    secret: str | None = None
    secret_env: str | None = None
    redirect_uri: str | None = None


@dataclass(frozen=True)
class PeerSpec:
    name: str
    url: str
    token: str | None = None
    token_env: str | None = None
    forward_token: bool = False
    link: LinkClientSpec | None = None

    @property
    def has_credential(self) -> bool:
        """Whether this hub can ask the peer as itself (not only as users who linked an account)."""
        return bool(self.token or self.token_env or self.forward_token)

    @property
    def auth(self) -> str:
        """How this peer is authenticated, in words (for logs and docs; never the token)."""
        if self.forward_token:
            return "the caller's own token"
        if self.token_env:
            return f"the token in ${self.token_env}"
        if self.token:
            return "a configured token"
        return "each user's linked account only"


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
    link = _check_link(item.get("link"), where) if item.get("link") is not None else None
    given = [k for k, v in (("token", token), ("token_env", token_env), ("forward_token", forward)) if v]
    if len(given) > 1 or (not given and link is None):
        told = f"both {given[0]!r} and {given[1]!r}" if len(given) > 1 else "none of them"
        raise PeerConfigError(
            f"{where}: give exactly one of 'token', 'token_env' or 'forward_token: true' "
            f"(it has {told}), or only a 'link' for a peer that users reach by their linked accounts"
        )
    return PeerSpec(name=name, url=url.strip(), token=token, token_env=token_env, forward_token=forward,
                    link=link)


def _check_link(link: Any, where: str) -> LinkClientSpec:
    where = f"{where}, 'link'"
    if not isinstance(link, dict):
        raise PeerConfigError(
            f"{where} must be a dict like {{'client_id': 'service-hub-a-execplanner', "
            f"'secret_env': 'HUB_B_LINK_SECRET'}}, not {type(link).__name__}"
        )
    unknown = sorted(set(link) - set(LINK_KEYS))
    if unknown:
        raise PeerConfigError(
            f"{where}: unknown field {unknown[0]!r}; a link has only {', '.join(LINK_KEYS)}"
        )
    client_id = link.get("client_id")
    if not isinstance(client_id, str) or not client_id.startswith("service-") or any(
        c.isspace() for c in client_id
    ):
        raise PeerConfigError(
            f"{where}: 'client_id' must be the OAuth client id the peer's admin registered for this "
            f"hub (JupyterHub requires it to start with 'service-'), not {client_id!r}"
        )
    secret, secret_env = link.get("secret"), link.get("secret_env")
    if secret is not None and (not isinstance(secret, str) or not secret.strip()):
        raise PeerConfigError(f"{where}: 'secret' must be a non-empty string")
    if secret_env is not None and (not isinstance(secret_env, str) or not _ENV.match(secret_env)):
        raise PeerConfigError(
            f"{where}: 'secret_env' must be the name of an environment variable (like "
            f"HUB_B_LINK_SECRET), not {secret_env!r}"
        )
    if (secret is None) == (secret_env is None):
        raise PeerConfigError(
            f"{where}: give exactly one of 'secret' (the client secret the peer's admin set as the "
            "client's api_token) or 'secret_env' (the variable that holds it)"
        )
    redirect = link.get("redirect_uri")
    if redirect is not None:
        parts = urlsplit(redirect) if isinstance(redirect, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc or not \
                parts.path.endswith("/links/callback"):
            raise PeerConfigError(
                f"{where}: 'redirect_uri' must be this broker's callback URL, exactly as the peer "
                "registered it, like https://hub-a.example.org/services/execplanner/links/callback, "
                f"not {redirect!r}"
            )
    return LinkClientSpec(client_id=client_id, secret=secret, secret_env=secret_env, redirect_uri=redirect)
