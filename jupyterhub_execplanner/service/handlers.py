"""The broker's HTTP handlers: parse, authorize, call the manager, serialise. Nothing else.

Routes are listed in :data:`default_handlers` at the bottom, relative to the service prefix.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from jupyterhub.services.auth import HubOAuthCallbackHandler, HubOAuthenticated
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from tornado import web

from .. import launch
from .._version import __version__
from ..errors import error_message
from ..federation.merge import TIMEOUT_HEADER, budget, parse_timeout
from ..federation.peers import Federation, FederationError, newest_first
from ..model import codec, draft2023, render
from ..model.codec import BodyError
from ..model.kinds import understood_kinds
from ..model.parse import ParseResult, parse_request
from ..model.phases import Phase
from ..model.update import UpdateError, parse_update
from ..platform.datasets import Probe
from ..platform.profiles import profile_summary
from ..sessions.manager import Conflict, Identity, NotFound, SessionManager
from ..worker.decide import ReportError, parse_report
from . import scopes
from .openapi import load_openapi


class BaseHandler(HubOAuthenticated, web.RequestHandler):
    """JSON/YAML in and out, JupyterHub token or OAuth cookie, errors as ``{status, message}``."""

    endpoint = "other"
    _request_format: str | None = None

    @property
    def hub_auth(self):  # type: ignore[override]
        return self.settings["hub_auth"]

    @property
    def manager(self) -> SessionManager:
        return self.settings["manager"]

    @property
    def config(self) -> Any:
        return self.settings["execplanner"]

    @property
    def federation(self) -> Federation | None:
        return self.settings.get("federation")

    def check_hub_user(self, model: dict[str, Any]) -> dict[str, Any]:
        """Authentication only: which scope an endpoint needs is checked by :meth:`require`."""
        model.setdefault("kind", "user")
        return model

    def wants_html(self) -> bool:
        """A browser navigating here (not an API client): it may be sent through the hub's OAuth."""
        return self.request.method == "GET" and "text/html" in self.request.headers.get("Accept", "")

    def require(self, scope: str) -> Identity:
        """The caller, if their token or cookie carries ``scope``; else 401 or 403 with the fix.
        A browser without the service's cookie is sent to log in with the hub (OAuth)."""
        model = self.current_user
        if model is None and self.wants_html():
            self.redirect(self.get_login_url())
            raise web.Finish()
        if model is None:
            raise web.HTTPError(
                401,
                "A JupyterHub token is needed: send the header 'Authorization: token <token>' "
                "(make a token on the hub's /hub/token page).",
            )
        admin = bool(model.get("admin")) or bool(self.hub_auth.check_scopes({scopes.ADMIN}, model))
        if not admin and not self.hub_auth.check_scopes({scope}, model):
            raise web.HTTPError(
                403,
                f"The {model['kind']} {model['name']} lacks the scope {scope}: use a token made "
                "without explicit scopes, or ask the hub admin to grant it.",
            )
        return Identity(name=model["name"], kind=model["kind"], admin=admin)

    # -- formats --------------------------------------------------------------------------------

    def body(self) -> Any:
        try:
            doc, self._request_format = codec.decode_body(
                self.request.body,
                self.request.headers.get("Content-Type"),
                max_size=self.config.max_body_size,
            )
        except BodyError as e:
            try:  # answer an unreadable YAML body in YAML, as a readable one would be
                self._request_format = codec.declared_format(self.request.headers.get("Content-Type"))
            except BodyError:
                pass
            raise web.HTTPError(e.status, str(e)) from e
        return doc

    def answer(self, doc: Any, status: int = 200) -> None:
        fmt = codec.choose_format(self.request.headers.get("Accept"), self._request_format)
        data, content_type = codec.encode(doc, fmt)
        self.set_status(status)
        self.set_header("Content-Type", content_type)
        self.finish(data)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        message = error_message(self._reason, kwargs.get("exc_info"),
                                "Internal error; the service log has the details.")
        if status_code == 405:
            message = f"{self.request.method} is not allowed on this endpoint."
        self.clear_header("Content-Type")
        try:
            self.answer({"status": status_code, "message": message}, status_code)
        except Exception:  # never fail while reporting a failure
            self.set_header("Content-Type", "application/json")
            self.finish({"status": status_code, "message": message})

    def base_url(self) -> str:
        if self.config.public_url:
            return self.config.public_url
        return f"{self.request.protocol}://{self.request.host}{self.settings['service_prefix']}"

    # -- metrics --------------------------------------------------------------------------------

    async def prepare(self) -> None:
        self._started = time.perf_counter()
        # Identify the caller here, awaiting the hub: HubAuthenticated's get_current_user would
        # otherwise run the lookup synchronously on a helper thread and block the event loop.
        model = await self.hub_auth.get_user(self, sync=False)
        self._hub_auth_user_cache = self.check_hub_user(model) if model else None

    def on_finish(self) -> None:
        metrics = self.settings["metrics"]
        metrics.requests.labels(self.endpoint, self.request.method, str(self.get_status())).inc()
        metrics.latency.labels(self.endpoint).observe(time.perf_counter() - self._started)

    def not_found(self, error: NotFound) -> web.HTTPError:
        return web.HTTPError(404, f"{str(error).capitalize()}.")


class InfoHandler(BaseHandler):
    """``GET /``: what this broker is and offers. No token needed."""

    endpoint = "info"

    def get(self) -> None:
        self.answer(
            {
                "name": self.config.service_name,
                "version": __version__,
                "standard": "IVOA Execution Broker v1.0 (and the 2023 ExecutionPlanner draft)",
                "kinds": understood_kinds(),
                "profiles": [profile_summary(p) for p in self.manager.profiles],
                "endpoints": {
                    "requests": self.base_url() + "requests",
                    "direct": self.base_url() + "direct",
                    "sessions": self.base_url() + "sessions",
                    "openapi": self.base_url() + "openapi.yaml",
                    "request_2023": self.base_url() + "request",
                },
            }
        )


class OpenAPIHandler(BaseHandler):
    endpoint = "openapi"

    def get(self) -> None:
        self._request_format = "yaml"
        self.answer(load_openapi())


class MetricsHandler(BaseHandler):
    endpoint = "metrics"

    def get(self) -> None:
        if self.config.authenticate_prometheus:
            model = self.current_user
            if model is None:
                raise web.HTTPError(401, "A token with the read:metrics scope is needed.")
            if not model.get("admin") and not self.hub_auth.check_scopes({"read:metrics"}, model):
                raise web.HTTPError(403, "The read:metrics scope is needed.")
        self.set_header("Content-Type", CONTENT_TYPE_LATEST)
        self.finish(generate_latest(self.settings["metrics"].registry))


class RequestsHandler(BaseHandler):
    """``POST requests``: an ExecutionRequest in, an OfferSetResponse out."""

    endpoint = "requests"

    async def post(self) -> None:
        who = self.require(scopes.REQUEST)
        parsed = parse_request(self.body(), now=self.manager.clock())
        if self.federation is not None and self.federation.active:  # ask the peers too (and measure)
            offerset, sessions, doc = await self.federation.request(
                who, self.body(), parsed, self.request.headers, self.base_url()
            )
            self._count(offerset.result, len(offerset.sessions))
            self.set_header("Content-Location", doc["meta"]["url"])
            self.answer(doc)
            return
        probes = await self.measure(parsed)  # the size of remote data, before planning
        offerset, sessions = self.manager.request(who, parsed, probes)
        self._count(offerset.result, len(sessions))
        doc = render.render_offerset(offerset, sessions, self.base_url())
        self.set_header("Content-Location", doc["meta"]["url"])
        self.answer(doc)

    async def measure(self, parsed: ParseResult) -> Mapping[str, Probe]:
        """The size of the request's remote data, within the caller's budget (``X-Execplanner-Timeout``
        of an aggregator) when it gives one."""
        caller = parse_timeout(self.request.headers.get(TIMEOUT_HEADER))
        return await self.manager.measure(parsed, budget(self.manager.policy.data.probe_timeout, caller))

    def _count(self, result: str, offers: int) -> None:
        metrics = self.settings["metrics"]
        metrics.offersets.labels(result).inc()
        metrics.offers.inc(offers)


class DirectHandler(RequestsHandler):
    """``POST direct``: request and accept the first offer in one call."""

    endpoint = "direct"

    async def post(self) -> None:
        who = self.require(scopes.SESSIONS)
        parsed = parse_request(self.body(), now=self.manager.clock())
        if self.federation is not None and self.federation.active:  # the first merged offer
            status, doc, offerset = await self.federation.direct(
                who, self.body(), parsed, self.request.headers, self.base_url()
            )
            self._count(offerset.result, len(offerset.sessions))
            if status == 200:
                self.set_header("Content-Location", doc["meta"]["url"])
            self.answer(doc, status)
            return
        session, offerset = self.manager.direct(who, parsed, await self.measure(parsed))
        self._count(offerset.result, len(offerset.sessions))
        if session is None:
            self.answer(render.render_direct_failure(offerset.messages, self.base_url()), 400)
            return
        doc = render.render_session(session, self.base_url())
        self.set_header("Content-Location", doc["meta"]["url"])
        self.answer(doc)


class OffersetHandler(BaseHandler):
    endpoint = "offersets"

    def get(self, uuid: str) -> None:
        who = self.require(scopes.REQUEST)
        try:
            offerset, sessions = self.manager.offerset(who, uuid)
        except NotFound as e:
            raise self.not_found(e) from e
        doc = render.render_offerset(offerset, sessions, self.base_url())
        if self.federation is not None:  # a merged offerset: the peers' offers as last known
            doc["offers"] = self.federation.offerset_offers(offerset, doc["offers"])
        self.answer(doc)


class SessionHandler(BaseHandler):
    endpoint = "sessions"

    async def get(self, uuid: str) -> None:
        who = self.require(scopes.REQUEST)
        try:
            session = self.manager.session(who, uuid)
        except NotFound as e:
            if self.federation is None:
                raise self.not_found(e) from e
            self.answer(await self._relayed(self.federation.session(who, uuid, self._auth())))
            return
        self.answer(render.render_session(session, self.base_url()))

    async def post(self, uuid: str) -> None:
        who = self.require(scopes.SESSIONS)
        doc = self.body()
        try:
            target = parse_update(doc)
        except UpdateError as e:
            raise web.HTTPError(400, str(e)) from e
        fed = self.federation
        if fed is not None and self.manager.record(uuid) is None:  # a peer's offer: the peer does it
            self.answer(await self._relayed(fed.update(who, uuid, target, self._auth())))
            return
        session = self._update(who, uuid, target)
        if fed is not None and target is Phase.ACCEPTED:  # reject the peers' offers of the same set
            await fed.after_local_accept(session, self._auth())
            session = self.manager.session(who, uuid)
        self.answer(render.render_session(session, self.base_url()))

    def _auth(self) -> str | None:
        return self.request.headers.get("Authorization")

    async def _relayed(self, call: Any) -> Any:
        try:
            return await call
        except NotFound as e:
            raise self.not_found(e) from e
        except FederationError as e:
            raise web.HTTPError(e.status, str(e)) from e

    def _update(self, who: Identity, uuid: str, target: Phase) -> Any:
        try:
            return self.manager.update(who, uuid, target)
        except NotFound as e:
            raise self.not_found(e) from e
        except Conflict as e:
            raise web.HTTPError(409, str(e)) from e


class ProgressReportHandler(BaseHandler):
    """``POST sessions/{uuid}/progress``: a session's preload reports what it is doing. Authorized by
    the session's report token (``Authorization: execplanner-report <token>``), not a hub token."""

    endpoint = "progress"

    def post(self, uuid: str) -> None:
        secret = self.settings.get("launch_secret")
        scheme, _, token = self.request.headers.get("Authorization", "").partition(" ")
        if (
            not secret
            or scheme.lower() != launch.REPORT_SCHEME
            or not launch.check_report_token(secret, uuid, token.strip())
        ):
            raise web.HTTPError(
                403, "Progress reports need this session's report token: "
                f"'Authorization: {launch.REPORT_SCHEME} <token>'."
            )
        try:
            message = parse_report(self.body(), self.manager.clock())
        except ReportError as e:
            raise web.HTTPError(400, str(e)) from e
        try:
            kept = self.manager.report(uuid, message)
        except NotFound as e:
            raise self.not_found(e) from e
        if not kept:
            raise web.HTTPError(429, "This session has too many messages; the report was not kept.")
        self.set_status(204)
        self.finish()


class SessionsHandler(BaseHandler):
    """``GET sessions``: the caller's sessions (admins: everybody's, or ``?owner=``)."""

    endpoint = "sessions"

    async def get(self) -> None:
        who = self.require(scopes.REQUEST)
        include_offers = self.get_argument("offers", "false").lower() in ("1", "true", "yes")
        owner = self.get_argument("owner", None)
        records = self.manager.sessions(who, owner=owner, include_offers=include_offers)
        base = self.base_url()
        docs = [render.render_session(r, base) for r in records]
        if self.federation is not None:  # and the sessions peers run for the caller through us
            relayed = await self.federation.sessions(
                who, owner=owner, include_offers=include_offers,
                auth=self.request.headers.get("Authorization"),
            )
            docs = newest_first([*docs, *relayed]) if relayed else docs
        self.answer({"sessions": docs})


class Request2023Handler(RequestsHandler):
    """``POST request``: the 2023 ExecutionPlanner draft's ``request:`` document."""

    endpoint = "request2023"

    async def post(self) -> None:
        who = self.require(scopes.REQUEST)
        parsed = draft2023.parse_request_2023(self.body(), now=self.manager.clock())
        probes = await self.measure(parsed)
        offerset, sessions = self.manager.request(who, parsed, probes)
        self._count(offerset.result, len(sessions))
        self.set_header("Content-Location", f"{self.base_url()}offersets/{offerset.uuid}")
        self.answer(draft2023.render_response_2023(offerset, sessions))


class Offer2023Handler(SessionHandler):
    """``GET/POST offers/{uuid}``: the 2023 draft's ``offer:`` document."""

    endpoint = "offers2023"

    def get(self, uuid: str) -> None:
        who = self.require(scopes.REQUEST)
        try:
            session = self.manager.session(who, uuid)
        except NotFound as e:
            raise web.HTTPError(404, f"Offer {uuid} not found.") from e
        self.answer(draft2023.render_offer_2023(session))

    def post(self, uuid: str) -> None:
        who = self.require(scopes.SESSIONS)
        try:
            target, ident = draft2023.parse_offer_update_2023(self.body())
        except ValueError as e:
            raise web.HTTPError(400, str(e)) from e
        if ident is not None and ident != uuid:
            raise web.HTTPError(400, f"offer.ident {ident!r} does not match the URL's {uuid!r}.")
        self.answer(draft2023.render_offer_2023(self._update(who, uuid, target)))


class OAuthCallbackHandler(HubOAuthCallbackHandler):
    """The hub's OAuth callback, using this app's HubOAuth (which holds the PKCE verifiers), not
    the process-wide singleton the stock handler would create."""

    @property
    def hub_auth(self):  # type: ignore[override]
        return self.settings["hub_auth"]


class NotFoundHandler(BaseHandler):
    endpoint = "unknown"

    async def prepare(self) -> None:
        self._started = time.perf_counter()
        raise web.HTTPError(
            404,
            f"No endpoint {self.request.path}. See {self.base_url()} for the endpoints of this broker.",
        )


_UUID = r"([^/]+)"

default_handlers: list[tuple[str, type[BaseHandler]]] = [
    (r"", InfoHandler),
    (r"openapi\.yaml", OpenAPIHandler),
    (r"metrics", MetricsHandler),
    (r"requests/?", RequestsHandler),
    (r"direct/?", DirectHandler),
    (rf"offersets/{_UUID}/?", OffersetHandler),
    (r"sessions/?", SessionsHandler),
    (rf"sessions/{_UUID}/progress/?", ProgressReportHandler),
    (rf"sessions/{_UUID}/?", SessionHandler),
    (r"request/?", Request2023Handler),
    (rf"offers/{_UUID}/?", Offer2023Handler),
    (r"oauth_callback", OAuthCallbackHandler),
]
