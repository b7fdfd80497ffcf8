"""The panel's REST API under ``{base_url}execplanner/``: thin handlers over :class:`~.lab.Lab`.

JSON in and out; errors are ``{status, message}`` (with ``field`` for a form field, and ``link``
when a linked hub's account must be linked again). Authenticated by jupyter-server (the panel's
requests carry the XSRF token); tokens of hubs never appear in an answer.
"""

from __future__ import annotations

import json
from typing import Any

from jupyter_server.base.handlers import APIHandler
from tornado import web

from ..errors import error_message
from ..model.codec import BodyError, load_json
from .lab import Lab, LabError


class LabHandler(APIHandler):
    """Errors as ``{status, message}``; a failure of ours is 500 with a short message (logged)."""

    @property
    def lab(self) -> Lab:
        return self.settings["execplanner_lab"]

    def origin(self) -> str:
        """The scheme and host the browser reached this server at (the hub's proxy)."""
        scheme = self.request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
        if scheme not in ("http", "https"):
            scheme = self.request.protocol
        return f"{scheme}://{self.request.host}"

    def json_body(self) -> Any:
        """The body as JSON, with the broker's limits on nesting (a hostile body is a 400, not a 500)."""
        try:
            return load_json((self.request.body or b"null").decode("utf-8"))
        except UnicodeDecodeError as e:
            raise web.HTTPError(400, f"body: not UTF-8 ({e}); send a JSON object.") from e
        except BodyError as e:
            raise web.HTTPError(e.status, f"body: {e}; send a JSON object.") from e

    def reply(self, doc: Any, status: int = 200) -> None:
        self.set_status(status)
        self.finish(json.dumps(doc))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        message = error_message(
            self._reason, kwargs.get("exc_info"),
            "Internal error of the execplanner extension; the server log has the details.",
        )
        error = (kwargs.get("exc_info") or (None, None))[1]
        doc: dict[str, Any] = {"status": status_code, "message": message}
        if isinstance(error, LabError) and error.field:
            doc["field"] = error.field
        if isinstance(error, LabError) and error.link:
            doc["link"] = error.link  # a linked hub: "unlinked" or "expired" (the panel: Link again)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(doc))


class HubsHandler(LabHandler):
    @web.authenticated
    async def get(self) -> None:
        hubs, links_error = await self.lab.listing(self.origin())
        doc: dict[str, Any] = {"hubs": [h.public() for h in hubs]}
        if links_error:
            doc["links_error"] = links_error
        self.reply(doc)

    @web.authenticated
    async def post(self) -> None:
        hub, user = await self.lab.add_hub(self.json_body(), self.origin())
        self.reply({**hub.public(), "user": user}, 201)


class HubHandler(LabHandler):
    @web.authenticated
    async def delete(self, name: str) -> None:
        await self.lab.remove_hub(name, self.origin())
        self.set_status(204)
        self.finish()


class UnlinkHandler(LabHandler):
    @web.authenticated
    async def post(self, name: str) -> None:
        self.reply(await self.lab.unlink(name, self.origin()))


class AskHandler(LabHandler):
    @web.authenticated
    async def post(self) -> None:
        self.reply(await self.lab.ask(self.json_body(), self.origin()))


class PrepareHandler(LabHandler):
    @web.authenticated
    async def post(self) -> None:
        self.reply(await self.lab.prepare(self.json_body(), self.origin()))


class FilesHandler(LabHandler):
    @web.authenticated
    async def get(self) -> None:
        self.reply(await self.lab.files(self.get_argument("path", "")))


class SessionsHandler(LabHandler):
    @web.authenticated
    async def get(self) -> None:
        self.reply(await self.lab.sessions(self.origin()))


class SessionHandler(LabHandler):
    @web.authenticated
    async def get(self, hub: str, uuid: str) -> None:
        self.reply(await self.lab.session(hub, uuid, self.origin()))

    @web.authenticated
    async def post(self, hub: str, uuid: str) -> None:
        self.reply(await self.lab.act(hub, uuid, self.json_body(), self.origin()))


handlers: list[tuple[str, type[LabHandler]]] = [
    (r"execplanner/hubs/?", HubsHandler),
    (r"execplanner/hubs/([^/]+)/?", HubHandler),
    (r"execplanner/hubs/([^/]+)/unlink/?", UnlinkHandler),
    (r"execplanner/prepare/?", PrepareHandler),
    (r"execplanner/files/?", FilesHandler),
    (r"execplanner/ask/?", AskHandler),
    (r"execplanner/sessions/?", SessionsHandler),
    (r"execplanner/sessions/([^/]+)/([^/]+)/?", SessionHandler),
]
