"""The linked-accounts endpoints (docs/linked-accounts.md): thin handlers over
:class:`~jupyterhub_execplanner.links.linker.Linker`.

On the hub users link *from*: ``GET links``, ``DELETE links/{peer}``, the browser's
``GET links/{peer}/authorize`` and ``GET links/callback``, and the relay ``peers/{peer}/...``, which
calls the peer's broker as the caller's linked account. On the hub users link *to*:
``POST links/revoke``, which revokes the linked token it is called with.
"""

from __future__ import annotations

import hashlib
import html
import json
from typing import Any

import httpx
from tornado import web

from ..client import BrokerClient, BrokerError
from ..federation.merge import PEERS_HEADER, VIA_HEADER, format_via, parse_via
from ..links.linker import Linker
from ..links.oauth import LinkFlowError
from ..sessions.manager import Identity
from ..worker.hubapi import HubAPIError
from . import scopes
from .handlers import BaseHandler

NONCE_COOKIE = "execplanner-link-nonce"
RELAY_TIMEOUT_WRITE = 60.0  # seconds a peer gets to accept (it may prepare a server) through the relay
# the broker API paths the relay passes on; a uuid is letters, digits and '-' only (matched on the raw
# path, so an encoded '/' or '.' cannot make the relay call another path of the peer's hub)
RELAY_PATH = r"(|requests/?|direct/?|sessions/?|sessions/[A-Za-z0-9-]{1,64}/?|offersets/[A-Za-z0-9-]{1,64}/?)"
PASSED_HEADERS = ("Content-Type", "Content-Location", "Retry-After", "Location", "Allow")


def relay_methods(path: str) -> tuple[str, ...]:
    """The methods the peer's broker answers on ``path`` (one of :data:`RELAY_PATH`)."""
    first, _, rest = path.strip("/").partition("/")
    if first in ("requests", "direct"):
        return ("POST",)
    if first == "sessions" and rest:
        return ("GET", "POST")
    return ("GET",)


class LinksBase(BaseHandler):
    @property
    def linker(self) -> Linker:
        linker = self.settings.get("linker")
        if linker is None or not linker.active:
            raise web.HTTPError(404, "This broker has no peers that users can link their accounts on "
                                "(no 'link' in ExecPlanner.peers).")
        return linker

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        error = (kwargs.get("exc_info") or (None, None, None))[1]
        if isinstance(error, LinkFlowError):
            self.clear_header("Content-Type")
            self.answer({"status": error.status, "message": str(error)}, error.status)
            return
        super().write_error(status_code, **kwargs)

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if not isinstance(value, LinkFlowError):
            super().log_exception(typ, value, tb)

    def owner(self, who: Identity) -> str:
        """The owner acted for: the caller's own, or (admins) ``?user=NAME``'s."""
        name = self.get_argument("user", None)
        if name is None:
            return who.owner
        self.admin_only(who, "user")
        return Identity(name=name).owner

    def admin_only(self, who: Identity, argument: str) -> None:
        if not who.admin:
            raise web.HTTPError(403, f"Only an admin may give '{argument}': leave it out to see your own.")


class LinksHandler(LinksBase):
    """``GET links``: the caller's link to each peer that can be linked (admins: ``?all=1``)."""

    endpoint = "links"

    def get(self) -> None:
        who = self.require(scopes.REQUEST)
        everybody = self.flag("all")  # the shared true/false reader: 400 for any other value
        if everybody:
            self.admin_only(who, "all")
        self.answer({"links": self.linker.describe(None if everybody else who.owner, self.base_url())})


class LinkHandler(LinksBase):
    """``DELETE links/{peer}``: unlink (revoke the token on the peer, forget it); admins ``?user=``."""

    endpoint = "links"

    async def delete(self, peer: str) -> None:
        who = self.require(scopes.SESSIONS)
        self.answer(await self.linker.unlink(self.owner(who), peer))


class LinkPage(LinksBase):
    """Pages for the browser: the answer is HTML, and tells the window that opened it."""

    def page(self, status: int, title: str, text: str, event: dict[str, Any]) -> None:
        data = json.dumps(event).replace("<", "\\u003c")
        self.set_status(status)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.set_header("Referrer-Policy", "no-referrer")
        self.finish(
            "<!doctype html><html><head><meta charset='utf-8'><title>"
            f"{html.escape(title)}</title></head><body style='font-family:sans-serif;margin:2em'>"
            f"<h1>{html.escape(title)}</h1><p id='message'>{html.escape(text)}</p>"
            f"<script>(function(){{var e={data};try{{if(window.opener){{window.opener.postMessage(e,"
            "window.location.origin);setTimeout(function(){window.close();},1500);}}catch(x){}})();"
            "</script></body></html>"
        )

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        error = (kwargs.get("exc_info") or (None, None, None))[1]
        if isinstance(error, (LinkFlowError, web.HTTPError)) and self.wants_html():
            text = str(error) if isinstance(error, LinkFlowError) else (error.log_message or str(error))
            status = error.status if isinstance(error, LinkFlowError) else status_code
            self.page(status, "Your account was not linked", text,
                      {"execplanner": "link-failed", "hub": self.path_args[0] if self.path_args else None,
                       "message": text})
            return
        super().write_error(status_code, **kwargs)

    def wants_html(self) -> bool:
        return self.request.method == "GET"


class AuthorizeHandler(LinkPage):
    """``GET links/{peer}/authorize``: to the peer's login and consent page."""

    endpoint = "links"

    def get(self, peer: str) -> None:
        who = self.require(scopes.REQUEST)
        url, nonce = self.linker.start(who.owner, peer, self.base_url())
        self.set_cookie(NONCE_COOKIE, nonce, path=self.settings["service_prefix"] + "links/",
                        httponly=True, secure=self.request.protocol == "https", samesite="Lax",
                        expires_days=None)
        self.set_header("Cache-Control", "no-store")
        self.redirect(url)


class CallbackHandler(LinkPage):
    """``GET links/callback``: the peer sends the browser back here with a code (or an error)."""

    endpoint = "links"

    async def get(self) -> None:
        who = self.require(scopes.REQUEST)
        state = self.get_argument("state", "")
        nonce = self.get_cookie(NONCE_COOKIE)
        self.clear_cookie(NONCE_COOKIE, path=self.settings["service_prefix"] + "links/")
        link = await self.linker.finish(who.owner, state, self.get_argument("code", None), nonce,
                                        self.get_argument("error_description", None)
                                        or self.get_argument("error", None))
        self.page(200, f"Linked as {link.remote_user} on {link.peer}",
                  f"Your account {link.remote_user} on {link.peer} is linked: the broker acts there as "
                  "you. You can close this window.",
                  {"execplanner": "linked", "hub": link.peer, "user": link.remote_user})


class RelayHandler(LinksBase):
    """``peers/{peer}/{path}``: the peer's broker API, called as the caller's linked account there.
    Only with a link (never with the hub's own credential: the peer must see who is asking)."""

    endpoint = "relay"
    body_hint = "the body to send on to the peer's broker"

    def allowed_methods(self) -> list[str]:
        # from the request's path: for a method tornado refuses itself, path_args are not set yet
        rest = self.request.path.split("/peers/", 1)[-1].partition("/")[2]
        return list(relay_methods(rest))

    async def get(self, peer: str, path: str) -> None:
        await self.relay(peer, path, scopes.REQUEST)

    async def post(self, peer: str, path: str) -> None:
        await self.relay(peer, path, scopes.SESSIONS if path.startswith(("sessions/", "direct"))
                         else scopes.REQUEST)

    async def relay(self, name: str, path: str, scope: str) -> None:
        if self.request.method not in relay_methods(path):
            raise web.HTTPError(405)
        who = self.require(scope)
        linker = self.linker
        target = linker.peer(name)
        if linker.sealer is None:
            raise web.HTTPError(503, f"{name} cannot be reached as your linked account now: "
                                f"{linker.sealing_problem}; tell this hub's admin.")
        found = linker.token(who.owner, name)
        if found is None:
            link = linker.link_of(who.owner, name)
            state = "expired" if link is not None else "unlinked"
            why = "the link expired or was revoked: link again" if link else "link it first"
            raise web.HTTPError(409, f"{name}: your account there is not linked ({why}, with 'Link "
                                     f"account' in the panel or {self.base_url()}links/{name}/authorize).",
                                reason=state)
        token, link = found
        headers = {"Accept": self.request.headers.get("Accept", "application/json"),
                   # the relay is a hop: a peer that federates back here sees the loop
                   VIA_HEADER: format_via(parse_via(self.request.headers.get(VIA_HEADER)),
                                          self.manager.relayed.broker_id)}
        if self.request.headers.get(PEERS_HEADER):
            headers[PEERS_HEADER] = self.request.headers[PEERS_HEADER]
        if self.request.headers.get("Content-Type"):
            headers["Content-Type"] = self.request.headers["Content-Type"]
        query = f"?{self.request.query}" if self.request.query else ""
        write = self.request.method != "GET"
        timeout = max(self.config.duration("peer_timeout").total_seconds(),
                      RELAY_TIMEOUT_WRITE if write else 0.0)
        try:
            async with BrokerClient(target.url, token, timeout=timeout, name=name) as peer:
                response = await peer.passthrough(self.request.method or "GET", f"{path}{query}",
                                                  self.raw_body() if write else None, headers)
        except BrokerError as e:  # a larger answer than the client reads
            raise web.HTTPError(502, f"{e.message}.") from e
        except httpx.HTTPError as e:
            raise web.HTTPError(502, f"{name} did not answer: {e or type(e).__name__}.") from e
        if response.status_code == 401:
            linker.refused(link, response.status_code)
            raise web.HTTPError(409, f"{name}: it no longer accepts your linked account "
                                f"{link.remote_user} (revoked or expired): link again.", reason="expired")
        self.set_status(response.status_code)
        for header in PASSED_HEADERS:
            if header in response.headers:
                self.set_header(header, response.headers[header])
        self.finish(response.content)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        error = (kwargs.get("exc_info") or (None, None, None))[1]
        if isinstance(error, web.HTTPError) and error.reason in ("expired", "unlinked"):
            self.clear_header("Content-Type")
            self.answer({"status": 409, "message": error.log_message, "link": error.reason}, 409)
            return
        super().write_error(status_code, **kwargs)


class RevokeHandler(BaseHandler):
    """``POST links/revoke`` (on the peer): revoke the linked token the call carries."""

    endpoint = "links"

    async def post(self) -> None:
        if not self.request.headers.get("Authorization"):
            raise web.HTTPError(401, "Send the linked token to revoke in the 'Authorization' header.")
        model = self.current_user
        if model is None:
            raise web.HTTPError(401, "This token is not valid here (already revoked?).")
        token_id = model.get("token_id")
        clients = self.settings.get("link_client_names") or ()
        hubapi = self.settings.get("hubapi")
        if not isinstance(token_id, str) or hubapi is None:
            raise web.HTTPError(400, "This token cannot be revoked here: only a linked account's token can.")
        try:
            token = await hubapi.token(model["name"], token_id)
            if token.get("oauth_client") not in {f"JupyterHub service {c}" for c in clients}:
                raise web.HTTPError(400, "This token was not made for a linked account: revoke it on "
                                    "the hub's /hub/token page instead.")
            await hubapi.delete_token(model["name"], token_id)
        except HubAPIError as e:
            raise web.HTTPError(502, f"The hub did not revoke the token: {e}") from e
        self.forget_cached(self.hub_auth.get_token(self))
        self.set_status(204)
        self.finish()


    def forget_cached(self, token: str | None) -> None:
        """HubAuth keeps a token's owner for ``cache_max_age``: a revoked token must not outlive
        that here, so its entries go now (keyed ``token:<session>:<sha256 of the token>``)."""
        if not token:
            return
        suffix = ":" + hashlib.sha256(token.encode("utf8", "replace")).hexdigest()
        cache = getattr(self.hub_auth, "cache", None)
        if cache is None:
            return
        for key in [k for k in getattr(cache, "values", {}) if str(k).endswith(suffix)]:
            del cache[key]


links_handlers: list[tuple[str, type[BaseHandler]]] = [
    (r"links/?", LinksHandler),
    (r"links/revoke", RevokeHandler),
    (r"links/callback", CallbackHandler),
    (r"links/([A-Za-z0-9][A-Za-z0-9._-]{0,62})/authorize", AuthorizeHandler),
    (r"links/([A-Za-z0-9][A-Za-z0-9._-]{0,62})/?", LinkHandler),
    (rf"peers/([A-Za-z0-9][A-Za-z0-9._-]{{0,62}})/{RELAY_PATH}", RelayHandler),
]
