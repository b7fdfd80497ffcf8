"""``snapshots``: short-lived copies of a notebook and its requirements under capability URLs.

- ``POST snapshots`` (a user with ``custom:execplanner:request``) keeps ``{"files": {name: text}}``
  for ``snapshot_lifetime`` and answers ``201 {uuid, expires, urls}``;
- ``GET snapshots/{token}/{name}`` needs no token: whoever holds the URL may read the file (a server
  on another hub fetching the notebook of an offer); ``404`` once expired;
- ``DELETE snapshots/{uuid}`` (the owner, or an admin) drops it at once.

The store is :class:`~jupyterhub_execplanner.sessions.snapshots.SnapshotStore`; the service's periodic
loop deletes expired snapshots.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from tornado import web

from ..model import codec
from ..model.codec import BodyError
from ..model.messages import format_time
from ..sessions.limits import LimitExceeded
from ..sessions.manager import Identity
from ..sessions.snapshots import SnapshotStore
from . import scopes
from .handlers import BaseHandler

MAX_FILES = 4
MAX_NAME_LENGTH = 255
CONTENT_TYPES = {".ipynb": "application/x-ipynb+json", ".txt": "text/plain; charset=utf-8"}


class SnapshotBodyError(ValueError):
    """A body that is not ``{"files": {name: text}}``; the message names the field and the fix."""


def content_type_for(name: str) -> str:
    """``.ipynb`` application/x-ipynb+json, ``.txt`` text/plain, anything else octet-stream."""
    dot = name.rfind(".")
    return CONTENT_TYPES.get(name[dot:].lower() if dot >= 0 else "", "application/octet-stream")


def check_name(name: str) -> None:
    if not name:
        raise SnapshotBodyError("files: a file name is empty; give plain names like 'analysis.ipynb'.")
    if "/" in name or "\\" in name:
        raise SnapshotBodyError(
            f"files: {name!r} has a slash; give a plain file name without folders, like 'analysis.ipynb'."
        )
    if name in (".", "..") or len(name) > MAX_NAME_LENGTH or any(ord(c) < 32 or c == "\x7f" for c in name):
        raise SnapshotBodyError(
            f"files: {name!r} is not a usable file name; use at most {MAX_NAME_LENGTH} printable "
            "characters, not '.' or '..'."
        )


def parse_files(doc: Any) -> dict[str, str]:
    """The files of a ``POST snapshots`` body, checked; SnapshotBodyError naming the field if wrong."""
    if not isinstance(doc, dict):
        raise SnapshotBodyError('The body must be an object: {"files": {"analysis.ipynb": "<text>"}}.')
    files = doc.get("files")
    if files is None:
        raise SnapshotBodyError('files is missing: send {"files": {"analysis.ipynb": "<text>"}}.')
    if not isinstance(files, dict):
        raise SnapshotBodyError(
            f"files must be an object of file name to text, not {type(files).__name__}."
        )
    if not files:
        raise SnapshotBodyError(f"files is empty: give 1 to {MAX_FILES} files.")
    if len(files) > MAX_FILES:
        raise SnapshotBodyError(f"files has {len(files)} entries: give at most {MAX_FILES}.")
    for name, text in files.items():
        check_name(str(name))
        if not isinstance(text, str):
            raise SnapshotBodyError(
                f"files[{name!r}] must be the file's text (a string), not {type(text).__name__}."
            )
        # lone surrogates ("\ud800" in JSON) never get here: the body reader refuses them
    return {str(k): v for k, v in files.items()}


class SnapshotBase(BaseHandler):
    endpoint = "snapshots"

    @property
    def snapshots(self) -> SnapshotStore:
        return self.settings["snapshots"]

    def too_large(self, size: int) -> web.HTTPError:
        limit = self.config.snapshot_max_size
        return web.HTTPError(
            413,
            f"The snapshot is {size} bytes, over this broker's limit of {limit} bytes "
            f"(ExecPlanner.snapshot_max_size): snapshot a smaller notebook, or ask the hub admin to "
            "raise snapshot_max_size.",
        )


class SnapshotsHandler(SnapshotBase):
    """``POST snapshots``: keep files for a while, answer their capability URLs."""

    body_hint = 'the files as JSON: {"files": {"analysis.ipynb": "<text>"}}'

    def body_limit(self) -> int:
        # JSON escapes may double the text's size; the files themselves are measured in post()
        return 2 * int(self.config.snapshot_max_size) + 65536

    def post(self) -> None:
        who = self.require(scopes.REQUEST)
        self.manager.check_rate(who)
        limit = self.config.snapshot_max_size
        if self._received > self.body_limit():
            raise self.too_large(self._received)
        body = self.raw_body()
        try:
            doc, self._request_format = codec.decode_body(
                body, self.request.headers.get("Content-Type"), max_size=len(body) + 1,
                empty_hint=self.body_hint,
            )
        except BodyError as e:
            raise web.HTTPError(e.status, f"body: {e}") from e
        try:
            files = parse_files(doc)
        except SnapshotBodyError as e:
            raise web.HTTPError(400, str(e)) from e
        size = sum(len(text.encode("utf-8")) for text in files.values())
        if size > limit:
            raise self.too_large(size)
        now = self.manager.clock()
        self.check_held(who, size, now)
        expires = now + timedelta(seconds=float(self.config.snapshot_lifetime))
        snapshot, token = self.snapshots.add(who.owner, files, now, expires)
        base = f"{self.base_url()}snapshots/{token}/"
        self.answer(
            {
                "uuid": snapshot.uuid,
                "expires": format_time(expires),
                "urls": {name: base + quote(name, safe="") for name in files},
            },
            201,
        )


    def check_held(self, who: Identity, size: int, now: datetime) -> None:
        """LimitExceeded (429) when ``size`` more bytes would pass the owner's snapshot limit."""
        allowed = self.config.limit_snapshot_bytes
        if who.admin or not allowed:
            return
        held, first = self.snapshots.held(who.owner, now)
        if held + size > allowed:
            wait = int((first - now).total_seconds()) + 1 if first is not None else 60
            raise LimitExceeded(
                f"You keep {held} bytes of snapshots and this one has {size}, past this hub's limit "
                f"per user (ExecPlanner.limit_snapshot_bytes = {allowed}): delete snapshots you no "
                "longer need (DELETE snapshots/{uuid}), or wait for the oldest to expire.",
                wait,
            )


class SnapshotFileHandler(SnapshotBase):
    """``GET snapshots/{token}/{name}``: the file, to whoever holds the URL (no token needed)."""

    async def prepare(self) -> None:
        pass  # a capability URL: no hub lookup

    def head(self, token: str, name: str) -> None:
        self.get(token, name)  # tornado sends the headers only (and a probe's 405 would log the token)

    def get(self, token: str, name: str) -> None:
        snapshot = self.snapshots.by_token(token, self.manager.clock())
        text = None if snapshot is None else snapshot.files.get(name)
        if text is None:
            raise web.HTTPError(
                404, "No such snapshot file: it may have expired (snapshots last a day by default)."
            )
        self.set_header("Content-Type", content_type_for(name))
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Cache-Control", "private, no-store")
        self.finish(text.encode("utf-8"))


class SnapshotHandler(SnapshotBase):
    """``DELETE snapshots/{uuid}``: the owner (or an admin) drops a snapshot."""

    def delete(self, uuid: str) -> None:
        who = self.require(scopes.REQUEST)
        snapshot = self.snapshots.get(uuid)
        if snapshot is None or (snapshot.owner != who.owner and not who.admin):
            raise web.HTTPError(404, f"Snapshot {uuid} not found.")
        self.snapshots.delete(uuid)
        self.set_status(204)
        self.finish()


snapshot_handlers: list[tuple[str, type[BaseHandler]]] = [
    (r"snapshots/?", SnapshotsHandler),
    (r"snapshots/([A-Za-z0-9_-]+)/([^/]+)", SnapshotFileHandler),
    (r"snapshots/([^/]+)/?", SnapshotHandler),
]
