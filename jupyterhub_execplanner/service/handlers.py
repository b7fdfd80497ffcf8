"""The broker's HTTP handlers: parse, authorize, call the manager, serialise. Nothing else.

Routes are listed in :data:`default_handlers` at the bottom, relative to the service prefix.
"""

from __future__ import annotations

import time
from typing import Any

from jupyterhub.services.auth import HubOAuthCallbackHandler, HubOAuthenticated
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from tornado import web
from tornado.log import app_log

from .. import launch
from .._version import __version__
from ..broker import DRAFT_2023, V1, Answer, Broker, Call
from ..errors import error_message
from ..federation.merge import PEERS_HEADER, TIMEOUT_HEADER, VIA_HEADER
from ..federation.peers import FederationError
from ..model import codec, draft2023
from ..model.codec import BodyError
from ..model.kinds import understood_kinds
from ..model.phases import Phase
from ..model.update import UpdateError, parse_update
from ..planning.eligibility import runnable_executables
from ..platform.profiles import profile_summary
from ..platform.throughput import reported_transfer
from ..sessions.limits import LimitExceeded
from ..sessions.manager import Conflict, Identity, NotFound, SessionManager
from ..sessions.store import StoreUnavailable
from ..worker.decide import ReportError, parse_report
from . import scopes
from .openapi import load_openapi

METHODS = ("GET", "HEAD", "POST", "DELETE", "PATCH", "PUT", "OPTIONS")


@web.stream_request_body
class BaseHandler(HubOAuthenticated, web.RequestHandler):
    """JSON/YAML in and out, JupyterHub token or OAuth cookie, errors as ``{status, message}``.

    Bodies are streamed: up to :meth:`body_limit` bytes are kept, the rest is read and dropped, so
    that a body over the limit is answered ``413`` naming the limit (a connection closed early would
    reach the client through the hub's proxy as a ``503``). A database that cannot be used now is a
    ``503`` with ``Retry-After``, a per-user limit a ``429`` with ``Retry-After``; nothing is a 500
    but a bug, whose details stay in the log."""

    endpoint = "other"
    # what an empty body of this endpoint should have been (for the 400 that says so)
    body_hint = "an ExecutionRequest as JSON or YAML"
    _request_format: str | None = None
    _started = 0.0

    def initialize(self) -> None:
        self._started = time.perf_counter()
        self._chunks: list[bytes] = []
        self._received = 0

    def body_limit(self) -> int:
        return int(self.config.max_body_size)

    def data_received(self, chunk: bytes) -> None:
        self._received += len(chunk)
        if self._received <= self.body_limit():
            self._chunks.append(chunk)
        elif self._chunks:
            self._chunks = []  # over the limit: keep reading, keep nothing

    def body_pending(self) -> bool:
        """Whether the request's body is still being read. Tornado reads it after ``prepare`` and
        before the method: an answer sent earlier (from ``prepare``, or tornado's own 405 for a method
        it does not know) makes it close the connection, which the hub's proxy, reusing it, would
        report to the next caller as a 503. So no handler answers from ``prepare``, and such an early
        answer says ``Connection: close``."""
        pending = getattr(self.request, "_body_future", None)
        return pending is not None and not pending.done()

    def raw_body(self) -> bytes:
        """The whole request body; 413 naming the limit when it was larger."""
        limit = self.body_limit()
        if self._received > limit:
            raise web.HTTPError(
                413,
                f"The body is {self._received} bytes, over this service's limit of {limit} bytes "
                "(ExecPlanner.max_body_size): send a smaller document.",
            )
        return b"".join(self._chunks)

    @property
    def hub_auth(self) -> Any:
        return self.settings["hub_auth"]

    @property
    def manager(self) -> SessionManager:
        return self.settings["manager"]

    @property
    def config(self) -> Any:
        return self.settings["execplanner"]

    @property
    def broker(self) -> Broker:
        return self.settings["broker"]

    def call(self) -> Call:
        """What the broker needs of this HTTP request besides its document."""
        headers = self.request.headers
        return Call(base=self.base_url(), auth=headers.get("Authorization"), via=headers.get(VIA_HEADER),
                    timeout=headers.get(TIMEOUT_HEADER), peers=headers.get(PEERS_HEADER))

    def reply(self, answer: Answer) -> None:
        """Write the broker's answer (and count the offersets it made)."""
        if answer.offerset is not None:
            metrics = self.settings["metrics"]
            metrics.offersets.labels(answer.offerset.result).inc()
            metrics.offers.inc(len(answer.offerset.sessions))
        if answer.location and answer.status < 300:
            self.set_header("Content-Location", answer.location)
        self.answer(answer.doc, answer.status)

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
        """The request's document; HTTPError 400, 413 or 415 with a message naming the problem."""
        raw = self.raw_body()
        try:
            doc, self._request_format = codec.decode_body(
                raw,
                self.request.headers.get("Content-Type"),
                max_size=len(raw) + 1,
                empty_hint=self.body_hint,
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

    def allowed_methods(self) -> list[str]:
        """The methods this endpoint answers (for ``Allow``)."""
        cls = type(self)
        return [m for m in METHODS
                if getattr(cls, m.lower(), None) is not getattr(web.RequestHandler, m.lower(), None)]

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if isinstance(value, (NotFound, Conflict, FederationError)):
            return  # an answer, not a fault
        if isinstance(value, StoreUnavailable):
            app_log.warning("%s %s: the database cannot be used now: %s", self.request.method,
                            self.endpoint, value)
        elif isinstance(value, LimitExceeded):
            app_log.info("%s %s: %s", self.request.method, self.endpoint, value)
        else:
            super().log_exception(typ, value, tb)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        error = (kwargs.get("exc_info") or (None, None, None))[1]
        message = error_message(self._reason, kwargs.get("exc_info"),
                                "Internal error; the service log has the details.")
        if isinstance(error, (NotFound, Conflict, FederationError)):  # the broker's answers as HTTP
            status_code = 404 if isinstance(error, NotFound) else 409 if isinstance(error, Conflict) \
                else error.status
            shown = self.not_found(error).log_message if isinstance(error, NotFound) else None
            message = shown or str(error)
            self.set_status(status_code)
        elif isinstance(error, StoreUnavailable):
            status_code = 503
            message = (f"The broker's database cannot be used now ({error}); nothing was changed. "
                       f"Try again in {error.retry_after} s; if it lasts, tell the hub's admin.")
            self.set_status(status_code)
            self.set_header("Retry-After", str(error.retry_after))
        elif isinstance(error, LimitExceeded):
            status_code = 429
            message = str(error)
            self.set_status(status_code)
            self.set_header("Retry-After", str(error.retry_after))
        if self.body_pending():  # an answer before the body was read (a method tornado refuses
            self.set_header("Connection", "close")  # before prepare): the connection closes after it
        if status_code == 405:
            allowed = self.allowed_methods()
            self.set_header("Allow", ", ".join(allowed))
            message = (f"{self.request.method} is not allowed on this endpoint; it answers "
                       f"{', '.join(allowed) or 'nothing'}.")
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
        # Identify the caller here, awaiting the hub: HubAuthenticated's get_current_user would
        # otherwise run the lookup synchronously on a helper thread and block the event loop.
        model = await self.hub_auth.get_user(self, sync=False)
        self._hub_auth_user_cache = self.check_hub_user(model) if model else None

    def on_finish(self) -> None:
        metrics = self.settings["metrics"]
        metrics.requests.labels(self.endpoint, self.request.method, str(self.get_status())).inc()
        metrics.latency.labels(self.endpoint).observe(time.perf_counter() - self._started)

    def flag(self, name: str, default: bool = False) -> bool:
        """A true/false query parameter; 400 naming it for any other value."""
        value = self.get_argument(name, None)
        if value is None:
            return default
        if value.lower() in ("1", "true", "yes"):
            return True
        if value.lower() in ("0", "false", "no"):
            return False
        raise web.HTTPError(400, f"The query parameter {name} is {value[:40]!r}: give true or false.")

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
                "kinds": understood_kinds(runnable_executables(self.manager.profiles)),
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
        self.reply(await self.broker.request(who, self.body(), self.call()))


class DirectHandler(BaseHandler):
    """``POST direct``: request and accept the first offer in one call."""

    endpoint = "direct"

    async def post(self) -> None:
        who = self.require(scopes.SESSIONS)
        try:
            doc = self.body()
        except web.HTTPError as e:
            if e.status_code != 400:
                raise
            # the standard's answer to a direct request that gives no session: 400, a FAILED session
            self.reply(self.broker.direct_failure(e.log_message or "bad body", self.call()))
            return
        self.reply(await self.broker.direct(who, doc, self.call()))


class OffersetHandler(BaseHandler):
    endpoint = "offersets"

    async def get(self, uuid: str) -> None:
        who = self.require(scopes.REQUEST)
        self.reply(await self.broker.offerset(who, uuid, self.call()))


class SessionHandler(BaseHandler):
    endpoint = "sessions"
    body_hint = ("an update as JSON or YAML, e.g. "
                 "{kind: uri:enum-value-update, path: phase, value: ACCEPTED}")
    style = V1

    async def get(self, uuid: str) -> None:
        who = self.require(scopes.REQUEST)
        self.reply(await self.broker.session(who, uuid, self.call(), style=self.style))

    async def post(self, uuid: str) -> None:
        who = self.require(scopes.SESSIONS)
        target = self.target(uuid)
        self.reply(await self.broker.update(who, uuid, target, self.call(), style=self.style))

    def target(self, uuid: str) -> Phase:
        """The phase the body asks for; 400 naming what is wrong."""
        try:
            return parse_update(self.body())
        except UpdateError as e:
            raise web.HTTPError(400, str(e)) from e


class ProgressReportHandler(BaseHandler):
    """``POST sessions/{uuid}/progress``: a session's preload reports what it is doing. Authorized by
    the session's report token (``Authorization: execplanner-report <token>``), not a hub token."""

    endpoint = "progress"
    body_hint = "a report as JSON: {level, message, failed}"

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
        self.measured(uuid)
        self.set_status(204)
        self.finish()

    def measured(self, uuid: str) -> None:
        """A staged download's figures (issue 15): the measured access to its source."""
        access = self.broker.access
        record = self.manager.record(uuid) if access is not None else None
        if access is None or record is None:
            return
        staged = [p.location for p in record.offer.data if p.mode == "stage" and p.location]
        found = reported_transfer(self.body(), staged)
        if found is not None:
            access.report(uuid, *found, now=self.manager.clock())


class SessionsHandler(BaseHandler):
    """``GET sessions``: the caller's sessions (admins: everybody's, or ``?owner=``)."""

    endpoint = "sessions"

    async def get(self) -> None:
        who = self.require(scopes.REQUEST)
        include_offers = self.flag("offers")
        owner = self.get_argument("owner", None)
        self.reply(await self.broker.sessions(who, self.call(), owner=owner, include_offers=include_offers))


class Request2023Handler(BaseHandler):
    """``POST request``: the 2023 ExecutionPlanner draft's ``request:`` document."""

    endpoint = "request2023"
    body_hint = "a 2023 ExecutionPlanner 'request:' document as JSON or YAML"

    async def post(self) -> None:
        who = self.require(scopes.REQUEST)
        self.reply(await self.broker.request(who, self.body(), self.call(), style=DRAFT_2023))


class Offer2023Handler(SessionHandler):
    """``GET/POST offers/{uuid}``: the 2023 draft's ``offer:`` document."""

    endpoint = "offers2023"
    body_hint = "a 2023 ExecutionPlanner 'offer:' update as JSON or YAML, e.g. {offer: {state: ACCEPTED}}"
    style = DRAFT_2023

    def target(self, uuid: str) -> Phase:
        try:
            target, ident = draft2023.parse_offer_update_2023(self.body())
        except ValueError as e:
            raise web.HTTPError(400, str(e)) from e
        if ident is not None and ident != uuid:
            raise web.HTTPError(400, f"offer.ident {ident!r} does not match the URL's {uuid!r}.")
        return target

    def not_found(self, error: NotFound) -> web.HTTPError:
        return web.HTTPError(404, f"Offer {self.path_args[0] if self.path_args else ''} not found.")


class OAuthCallbackHandler(HubOAuthCallbackHandler):
    """The hub's OAuth callback, using this app's HubOAuth (which holds the PKCE verifiers), not
    the process-wide singleton the stock handler would create."""

    @property
    def hub_auth(self) -> Any:
        return self.settings["hub_auth"]


class NotFoundHandler(BaseHandler):
    endpoint = "unknown"

    async def prepare(self) -> None:
        pass  # no hub lookup; the 404 is answered once the body is read (see body_pending)

    def _not_found(self, *args: Any) -> None:
        raise web.HTTPError(
            404,
            f"No endpoint {self.request.path}. See {self.base_url()} for the endpoints of this broker.",
        )

    get = head = post = put = delete = patch = options = _not_found


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
