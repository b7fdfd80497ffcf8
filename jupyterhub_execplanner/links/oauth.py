"""The OAuth 2 authorization-code flow with a peer's JupyterHub as the provider, and the calls a
link makes to the peer: who the token belongs to, and revoking it.

The flow follows OAuth 2.0 Security BCP (RFC 9700): PKCE with S256 on every request (JupyterHub 6
checks it), a ``state`` of 256 random bits used once, an exact redirect URL, and the token
exchanged server to server with the client secret; no token or code ever reaches a page script.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import httpx

from .._version import __version__
from ..client import tls_context

USER_AGENT = f"jupyterhub-execplanner/{__version__} (linked accounts)"


class LinkFlowError(Exception):
    """A step of linking or unlinking that failed: ``status`` to answer and a sentence for the user."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def hub_root(broker_url: str) -> str:
    """The peer hub's root URL (ending with ``/``, before ``hub/``) from its broker's URL
    (``https://hub-b.example.org/services/execplanner/`` gives ``https://hub-b.example.org/``)."""
    parts = urlsplit(broker_url)
    path = parts.path
    index = path.rfind("/services/")
    root = path[: index + 1] if index >= 0 else (path if path.endswith("/") else path + "/")
    return urlunsplit((parts.scheme, parts.netloc, root, "", ""))


def challenge_for(verifier: str) -> str:
    """PKCE's S256 challenge of ``verifier`` (RFC 7636)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Pending:
    """A link being made: who asked, for which peer, bound to the browser that asked (``binding``
    is the digest of a cookie set on it), with the PKCE verifier and the redirect URL sent."""

    owner: str
    peer: str
    verifier: str
    redirect_uri: str
    binding: str
    started: datetime


def new_secret(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def authorize_url(root: str, client_id: str, redirect_uri: str, state: str, verifier: str) -> str:
    query = urlencode({
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "state": state,
        "code_challenge": challenge_for(verifier),
        "code_challenge_method": "S256",
    })
    return f"{root}hub/api/oauth2/authorize?{query}"


@dataclass(frozen=True)
class Granted:
    """What the peer's hub gave: the token, its scopes and expiry, and whose it is there."""

    token: str
    user: str
    token_id: str | None
    scopes: tuple[str, ...]
    expires: datetime | None


def _client(timeout: float) -> httpx.AsyncClient:
    # the peer is one the admin declared: it is reached as the federation and the relay reach it
    # (BrokerClient), through the HTTP(S) proxy of the hub's environment when there is one (the
    # fetches of URLs users give never are); redirects are not followed (a token must go only where
    # it was sent)
    return httpx.AsyncClient(timeout=httpx.Timeout(timeout), follow_redirects=False,
                             headers={"User-Agent": USER_AGENT}, verify=tls_context())


def _reason(response: httpx.Response) -> str:
    try:
        doc = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    if isinstance(doc, dict):
        text = doc.get("error_description") or doc.get("message") or doc.get("error")
        if isinstance(text, str) and text:
            return f"HTTP {response.status_code}: {text[:300]}"
    return f"HTTP {response.status_code}"


async def exchange(root: str, client_id: str, secret: str, code: str, pending: Pending, *,
                   peer: str, timeout: float, now: datetime) -> Granted:
    """Trade the code for a token at the peer's hub, then ask the hub whose token it is."""
    form = {"grant_type": "authorization_code", "code": code, "client_id": client_id,
            "client_secret": secret, "redirect_uri": pending.redirect_uri,
            "code_verifier": pending.verifier}
    async with _client(timeout) as http:
        try:
            response = await http.post(f"{root}hub/api/oauth2/token", data=form)
        except httpx.HTTPError as e:
            raise LinkFlowError(502, f"{peer} did not answer the token exchange: {e}.") from e
        if response.status_code != 200:
            raise LinkFlowError(502, f"{peer} refused the token exchange ({_reason(response)}); "
                                "start linking again, and if it lasts tell this hub's admin (the "
                                "client id, secret or redirect URL may not match the peer's).")
        try:
            doc = response.json()
            token = doc["access_token"]
            assert isinstance(token, str) and token
        except (ValueError, KeyError, TypeError, AssertionError) as e:
            raise LinkFlowError(502, f"{peer}'s token answer has no access_token.") from e
        expires_in = doc.get("expires_in")
        expires = now + timedelta(seconds=int(expires_in)) if isinstance(expires_in, (int, float)) \
            and not isinstance(expires_in, bool) and expires_in > 0 else None
        scopes = tuple(str(doc.get("scope") or "").split())
        user, token_id = await whoami(http, root, token, peer)
    return Granted(token=token, user=user, token_id=token_id, scopes=scopes, expires=expires)


async def whoami(http: httpx.AsyncClient, root: str, token: str, peer: str) -> tuple[str, str | None]:
    try:
        response = await http.get(f"{root}hub/api/user", headers={"Authorization": f"Bearer {token}"})
        doc: Any = response.json() if response.status_code == 200 else None
    except (httpx.HTTPError, ValueError) as e:
        raise LinkFlowError(502, f"{peer} did not say whose the new token is: {e}.") from e
    name = doc.get("name") if isinstance(doc, dict) else None
    if not isinstance(name, str) or not name:
        raise LinkFlowError(502, f"{peer} did not say whose the new token is "
                            f"(GET hub/api/user answered {response.status_code}).")
    token_id = doc.get("token_id")
    return name, token_id if isinstance(token_id, str) else None


async def revoke(broker_url: str, token: str, *, peer: str, timeout: float) -> None:
    """Ask the peer's broker to revoke ``token`` (``POST links/revoke``). A token the peer no longer
    knows (401, 403) is revoked already."""
    async with _client(timeout) as http:
        try:
            response = await http.post(f"{broker_url}links/revoke",
                                       headers={"Authorization": f"Bearer {token}"})
        except httpx.HTTPError as e:
            raise LinkFlowError(502, f"{peer} did not answer: {e}") from e
    if response.status_code not in (200, 204, 401, 403):
        raise LinkFlowError(502, f"{peer} did not revoke the token ({_reason(response)})")
