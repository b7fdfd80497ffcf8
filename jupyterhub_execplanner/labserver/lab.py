"""What the panel's handlers do: the user's hubs, snapshots, asking many hubs, and their sessions.

:class:`Lab` holds the extension's settings, the hubs file and the server's contents manager. Each
call that reaches brokers makes its own clients (one per hub, with that hub's token) and closes
them. Failures come out as :class:`LabError` with the HTTP status the handler answers and a message
that names the hub; nothing here answers 500 for a broker that misbehaves.
"""

from __future__ import annotations

import asyncio
import posixpath
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import httpx
from jupyter_core.utils import ensure_async
from tornado import web

from ..client import BrokerClient, BrokerError, NotASession, ask_many, describe_error
from ..model.messages import utcnow
from . import shapes
from .asking import Ask, build_request, parse_ask, parse_request_ask
from .checking import check_hub
from .hubs import NAME_PATTERN, FieldError, Hub, HubsStore, UntrustedHost, own_broker_url, parse_hub
from .links import PEERS_HEADER, Found, fetch_links, link_state, unlink
from .notebooks import clear_outputs, output_count
from .settings import ExecPlannerLab

ACTIONS = {"accept": "accept", "reject": "reject", "cancel": "cancel"}
PEERS_FRESH = 30.0  # seconds a listing of the linked hubs serves lookups by name (a session's polls)
REQUIREMENTS = "requirements.txt"


class LabError(web.HTTPError):
    """An answer other than success: ``status`` and a message for the panel."""

    def __init__(
        self, status: int, message: str, field: str | None = None, link: str | None = None
    ) -> None:
        super().__init__(status, "%s", message)
        self.status = status
        self.message = message
        self.field = field  # the panel's form field it is about, when there is one
        self.link = link  # a linked hub's relay said the account there is not linked (or expired)


class LabBrokerClient(BrokerClient):
    """A broker client that can also upload snapshots (``POST snapshots``), and that remembers
    when a linked hub's relay answered that the account there is not linked (``link``)."""

    link: str | None = None

    async def _call(self, method: str, url: str, doc: Any = None, *, direct: bool = False) -> Any:
        try:
            return await super()._call(method, url, doc, direct=direct)
        except BrokerError as e:
            self.link = link_state(e) or self.link
            raise

    async def snapshot(self, files: dict[str, str]) -> dict[str, Any]:
        return await self._call("POST", self.url_for("snapshots"), {"files": files})


def _broker_failure(hub: str, error: BaseException, timeout: float | None = None) -> LabError:
    if isinstance(error, LabError):
        return error
    if isinstance(error, (asyncio.TimeoutError, httpx.TimeoutException)):
        within = f" within {timeout:g} s" if timeout is not None else ""
        return LabError(504, f"{hub}: no answer{within}; the hub is slow or unreachable, try again later.")
    if isinstance(error, BrokerError) and error.status in (404, 409, 413):
        return LabError(error.status, f"{hub}: {error.message}", link=link_state(error))
    return LabError(502, f"{hub}: {describe_error(error, timeout)}")


def _what(answer: Any) -> str:
    if answer is None:
        return "an empty answer"
    if isinstance(answer, str):
        return "text, not JSON (a login page?)"
    if isinstance(answer, dict):
        return "an object without a 'phase'"
    return f"a JSON {type(answer).__name__}" if isinstance(answer, (list, int, float, bool)) else "no object"


def _not_a_session(hub: Hub, answer: Any) -> LabError:
    return LabError(
        502,
        f"{hub.name}: the answer is not a session ({_what(answer)}); check that {hub.url} is the "
        "hub's execution broker and that its token is valid.",
    )


async def _profiles(client: BrokerClient, timeout: float) -> dict[str, Any]:
    """The hub's profile summaries by slug (its ``GET /``); empty when it does not say."""
    try:
        info = await asyncio.wait_for(client.info(), timeout)
    except (asyncio.TimeoutError, BrokerError, httpx.HTTPError, ValueError):
        return {}
    items = info.get("profiles") if isinstance(info, dict) else None
    return {
        p["slug"]: p
        for p in (items if isinstance(items, list) else [])
        if isinstance(p, dict) and isinstance(p.get("slug"), str)
    }


def _hub_error(hub: str, error: Exception, timeout: float) -> dict[str, Any]:
    """The ``errors`` line of a hub that failed in ``GET sessions``; with ``link`` when the account
    there needs linking (again): the panel shows that beside the hub, not as an error."""
    if isinstance(error, LabError):
        line: dict[str, Any] = {"hub": hub, "message": error.message}
        link = error.link
    else:
        line, link = {"hub": hub, "message": describe_error(error, timeout)}, link_state(error)
    return {**line, "link": link} if link else line


class Lab:
    """The panel's server side. ``env`` is the server's environment (``os.environ``)."""

    def __init__(self, settings: ExecPlannerLab, contents_manager: Any, env: Mapping[str, str]) -> None:
        self.settings = settings
        self.contents = contents_manager
        self.env = env
        self.store = HubsStore(settings.hubs_file)
        self._peers: tuple[float, str, Found] | None = None  # the last listing: when, of which broker

    # -- hubs ---------------------------------------------------------------------------------

    def own_hub(self, origin: str | None) -> Hub | None:
        """The own hub; at a host that cannot be trusted with the token (``origin``, the ``Host``
        header, can be forged) it is listed with a ``refusal`` and :meth:`client` makes no call."""
        refusal = None
        try:
            url = own_broker_url(
                self.env,
                self.settings.service_name,
                configured=self.settings.own_hub_url,
                request_origin=origin,
                trusted_hosts=self.settings.trusted_hosts,
            )
        except UntrustedHost as e:
            url, refusal = e.url, str(e)
        if url is None:
            return None
        token = self.env.get("JUPYTERHUB_API_TOKEN")
        return Hub(self.settings.own_hub_name, url, token, own=True, refusal=refusal)

    def _own_name(self) -> str | None:
        under_hub = self.env.get("JUPYTERHUB_API_TOKEN") and self.env.get("JUPYTERHUB_API_URL")
        return self.settings.own_hub_name if under_hub else None

    def _kept(self, own: Hub | None) -> list[Hub]:
        """The own hub first (when under a hub), then the added ones in the order added."""
        try:
            added = self.store.load()
        except OSError as e:
            raise LabError(409, f"{e}: fix or remove the file (ExecPlannerLab.hubs_file).") from e
        added = [h for h in added if own is None or h.name != own.name]
        return ([own] if own else []) + added

    async def listing(self, origin: str | None, fresh: bool = True) -> tuple[list[Hub], str | None]:
        """The own hub, the added ones, then the own hub's linkable peers (``GET {own}links``,
        within ``timeout``); and why some peers could not be listed (None: no problem).
        ``fresh=False``: a listing of the last :data:`PEERS_FRESH` seconds will do."""
        own = self.own_hub(origin)
        kept = self._kept(own)
        key = own.url if own is not None and not own.refusal else ""
        last = self._peers
        if not fresh and last and last[1] == key and time.monotonic() - last[0] < PEERS_FRESH:
            found = last[2]
        else:
            found = await fetch_links(own, self.settings.timeout, [h.name for h in kept])
            self._peers = (time.monotonic(), key, found)
        names = {h.name for h in kept}
        return kept + [p for p in found.peers if p.name not in names], found.error

    async def _find(
        self, names: tuple[str, ...], origin: str | None, status: int = 404
    ) -> tuple[dict[str, Hub], bool]:
        """The hubs named, by name, and whether the own hub has linked peers; the peers are
        listed only when needed (a name not among the kept hubs, or the own hub asked). A name
        not found is a LabError ``status``."""
        kept = self._kept(self.own_hub(origin))
        by_name = {h.name: h for h in kept}
        if all(n in by_name and not by_name[n].own for n in names):
            return by_name, False
        hubs, error = await self.listing(origin, fresh=False)
        if any(n not in {h.name for h in hubs} for n in names):
            hubs, error = await self.listing(origin)  # a peer the listing kept does not have yet
        by_name = {h.name: h for h in hubs}
        unknown = [n for n in names if n not in by_name]
        if unknown:
            why = f" ({error})" if error else ""
            raise LabError(
                status, f"hubs: no hub named {', '.join(map(repr, unknown))}{why}; add it first."
            )
        return by_name, any(h.link for h in hubs)

    async def hub(self, name: str, origin: str | None) -> Hub:
        kept = next((h for h in self._kept(self.own_hub(origin)) if h.name == name), None)
        return kept or (await self._find((name,), origin))[0][name]

    async def add_hub(self, doc: Any, origin: str | None) -> tuple[Hub, str | None]:
        """Keep a hub the user adds, once checked (``check``, default true: the hub answers, runs
        the broker and takes the token); answers it and the name its token belongs to. The same
        hub (its broker URL) cannot be in the list twice; a name already there is replaced."""
        own = self.own_hub(origin)
        found = await fetch_links(own, self.settings.timeout)
        try:
            hub = parse_hub(
                doc, self.settings.service_name, self._own_name(), [p.name for p in found.peers]
            )
        except FieldError as e:
            raise LabError(400, str(e), e.field) from e
        for other in self._kept(own):
            if other.url == hub.url and other.name != hub.name:
                which = "your own hub" if other.own else f"there as {other.name!r}"
                raise LabError(
                    409, f"url: {hub.url} is already in your list ({which}); use that one.", "url"
                )
        user = None
        if not isinstance(doc, dict) or doc.get("check", True) is not False:
            try:
                user = await check_hub(hub, self.settings.timeout)
            except FieldError as e:
                raise LabError(400, str(e), e.field) from e
        self.store.put(hub)
        return hub, user

    async def remove_hub(self, name: str, origin: str | None) -> None:
        if name == self._own_name():
            raise LabError(400, f"{name!r} is your own hub: it cannot be removed.")
        if not self.store.remove(name):
            found = await fetch_links(self.own_hub(origin), self.settings.timeout)
            if any(p.name == name for p in found.peers):
                raise LabError(
                    400, f"{name!r} is linked through your own hub: use Unlink to forget the link."
                )
            raise LabError(404, f"No hub named {name!r}.")

    async def unlink(self, name: str, origin: str | None) -> dict[str, Any]:
        """``POST execplanner/hubs/{name}/unlink``: the own broker revokes the linked account's
        token on that hub and forgets it (``DELETE {own}links/{name}``); its answer."""
        own = self.own_hub(origin)
        if own is None:
            raise LabError(400, "This server does not run under a JupyterHub: there are no links.")
        if own.refusal:
            raise LabError(400, own.refusal)
        if not NAME_PATTERN.match(name):
            raise LabError(404, f"No hub named {name[:64]!r} among your hub's peers.")
        timeout = self.settings.timeout
        try:
            answer = await unlink(own, name, timeout)
        except BrokerError as e:
            if e.status == 404:
                raise LabError(404, f"No hub named {name!r} among your hub's peers.") from e
            raise LabError(502, f"{own.name}: could not unlink {name}: {e.message}") from e
        except (asyncio.TimeoutError, httpx.HTTPError, ValueError) as e:
            failure = _broker_failure(own.name, e, timeout)
            raise LabError(failure.status, f"Could not unlink {name}: {failure.message}") from e
        if not isinstance(answer, dict):
            raise LabError(502, f"{own.name}: the answer to unlinking {name} is {_what(answer)}.")
        return answer

    def client(
        self, hub: Hub, timeout: float | None = None, headers: Mapping[str, str] | None = None
    ) -> LabBrokerClient:
        """A client of ``hub``, carrying its token; LabError 400 for a hub that must not be called."""
        if hub.refusal:
            raise LabError(400, hub.refusal)
        return LabBrokerClient(
            hub.url, hub.token, timeout=timeout or self.settings.timeout, name=hub.name,
            headers=headers,
        )

    # -- asking ---------------------------------------------------------------------------------

    def _without_root(self, error: web.HTTPError) -> str:
        """The contents manager's message, without the server's absolute root folder in it."""
        text = error.log_message or error.reason or "cannot be read"
        try:
            text = text % error.args if error.args else text
        except (TypeError, ValueError):
            pass
        root = str(getattr(self.contents, "root_dir", "") or "").rstrip("/")
        return text.replace(root + "/", "").replace(root, ".") if root else text

    async def _read_text(self, path: str) -> str:
        model = await ensure_async(self.contents.get(path, content=True, type="file", format="text"))
        content = model.get("content")
        if not isinstance(content, str):
            raise LabError(400, f"path {path!r} is not a text file.")
        return content

    async def _files(self, path: str) -> dict[str, str]:
        """The notebook at ``path`` and ``requirements.txt`` beside it (when there is one), as saved
        on this server, by file name."""
        try:
            files = {posixpath.basename(path): await self._read_text(path)}
        except web.HTTPError as e:
            if e.status_code == 404:
                raise LabError(404, f"path: there is no notebook {path!r} on this server.") from e
            raise LabError(400, f"path {path!r}: {self._without_root(e)}") from e
        requirements = posixpath.join(posixpath.dirname(path), REQUIREMENTS)
        try:
            if await ensure_async(self.contents.file_exists(requirements)):
                files[REQUIREMENTS] = await self._read_text(requirements)
        except web.HTTPError as e:  # its message may carry the server's absolute path: not shown
            raise LabError(
                400,
                f"{REQUIREMENTS}: {requirements.lstrip('/')!r} (beside the notebook) cannot be read as "
                "UTF-8 text; save it as UTF-8, or remove it, and ask again.",
            ) from e
        return files

    async def files(self, path: Any) -> dict[str, Any]:
        """``GET execplanner/files?path=``: what an ask of the notebook at ``path`` sends (the
        saved files: the panel says when the open document has unsaved changes)."""
        if not isinstance(path, str) or not path.strip("/ ").endswith(".ipynb"):
            raise LabError(400, "path: give the notebook's path, like 'work/analysis.ipynb'.", "path")
        path = path.strip().strip("/")
        folder = posixpath.dirname(path)
        found = await self._files(path)
        out = []
        for name, text in found.items():
            entry: dict[str, Any] = {"name": name, "path": posixpath.join(folder, name),
                                     "size": len(text.encode("utf-8"))}
            if name.endswith(".ipynb"):
                entry["outputs"] = output_count(text)
            out.append(entry)
        return {"files": out}

    async def snapshot(
        self, path: str, own: Hub, timeout: float, keep_outputs: bool = False
    ) -> dict[str, str]:
        """Upload the notebook at ``path`` (and ``requirements.txt`` beside it) to the own broker,
        the notebook without its outputs unless ``keep_outputs``; the snapshot's URLs by file name."""
        files = await self._files(path)
        if not keep_outputs:
            name = posixpath.basename(path)
            files[name] = clear_outputs(files[name])
        async with self.client(own, timeout) as broker:
            try:
                answer = await asyncio.wait_for(broker.snapshot(files), timeout)
            except (BrokerError, httpx.HTTPError, asyncio.TimeoutError, ValueError) as e:
                failure = _broker_failure(own.name, e, timeout)
                raise LabError(
                    failure.status if failure.status == 413 else 502,
                    f"Could not snapshot the notebook to your hub's broker: {failure.message}",
                ) from e
        urls = answer.get("urls") if isinstance(answer, dict) else None
        if not isinstance(urls, dict) or posixpath.basename(path) not in urls:
            raise LabError(502, f"{own.name}: the answer to POST snapshots has no URLs.")
        return urls

    def _own_for_snapshot(self, hubs: list[Hub]) -> Hub:
        own = next((h for h in hubs if h.own), None)
        if own is None:
            raise LabError(
                400,
                "This server does not run under a JupyterHub with the execution broker, so the "
                "notebook cannot be served to other hubs: run JupyterLab from a hub that has it.",
            )
        return own

    async def _prepared(self, ask: Ask, hubs: list[Hub]) -> dict[str, Any]:
        """The v1.0 request for ``ask``, its notebook snapshotted to the own hub's broker."""
        own = self._own_for_snapshot(hubs)
        urls = await self.snapshot(ask.path, own, ask.timeout, ask.keep_outputs)
        return build_request(
            ask, urls[posixpath.basename(ask.path)], urls.get(REQUIREMENTS), utcnow()
        )

    async def prepare(self, doc: Any, origin: str | None) -> dict[str, Any]:
        """``POST execplanner/prepare``: the snapshot and the request, asking no hub yet; the panel
        then asks each hub on its own (``ask`` with ``request``), showing each answer as it comes."""
        try:
            ask = parse_ask(doc, self.settings.timeout, with_hubs=False)
        except FieldError as e:
            raise LabError(400, str(e)) from e
        return {"request": await self._prepared(ask, self._kept(self.own_hub(origin)))}

    async def ask(self, doc: Any, origin: str | None) -> dict[str, Any]:
        """``POST execplanner/ask``: with the notebook's ``path`` and needs (snapshot, then ask), or
        with a ``request`` made by :meth:`prepare` (ask only)."""
        try:
            if isinstance(doc, dict) and "request" in doc:
                names, request, timeout = parse_request_ask(doc, self.settings.timeout)
                ask = None
            else:
                ask = parse_ask(doc, self.settings.timeout)
                names, timeout = ask.hubs, ask.timeout
        except FieldError as e:
            raise LabError(400, str(e)) from e
        by_name, linked = await self._find(names, origin, 400)
        refused = next((by_name[n].refusal for n in names if by_name[n].refusal), None)
        if refused:
            raise LabError(400, refused)
        if ask is not None:
            request = await self._prepared(ask, list(by_name.values()))
        # the own hub alone when its peers are asked as rows of their own (through its relay)
        alone = {PEERS_HEADER: "none"} if linked else None
        clients = [self.client(by_name[n], timeout, alone if by_name[n].own else None) for n in names]
        try:
            answers, profiles = await asyncio.gather(
                ask_many(clients, request, timeout=timeout),
                asyncio.gather(*(_profiles(c, timeout) for c in clients)),
            )
        finally:
            await asyncio.gather(*(c.aclose() for c in clients), return_exceptions=True)
        by_hub = dict(zip(names, profiles, strict=True))
        links = {c.name: c.link for c in clients}
        return {
            "answers": [shapes.answer_shape(a, by_hub.get(a.hub), links.get(a.hub)) for a in answers],
            "request": request,
        }

    # -- sessions -------------------------------------------------------------------------------

    async def _hub_sessions(self, hub: Hub, timeout: float) -> list[dict[str, Any]]:
        async with self.client(hub, timeout) as broker:
            docs = await asyncio.wait_for(broker.sessions(), timeout)
        return [
            shapes.session_shape(hub.name, d)
            for d in docs
            if isinstance(d, dict) and d.get("phase") != "OFFERED"
        ]

    async def sessions(self, origin: str | None) -> dict[str, Any]:
        """Every hub's sessions at once; a hub that fails is in ``errors``."""
        timeout = self.settings.timeout
        listed, links_error = await self.listing(origin)
        # a peer whose account is not linked (or must be linked again) has nothing to list
        hubs = [h for h in listed if h.token and (h.link is None or h.link.state == "linked")]
        results = await asyncio.gather(
            *(self._hub_sessions(h, timeout) for h in hubs), return_exceptions=True
        )
        sessions: list[dict[str, Any]] = []
        errors = []
        if links_error:
            errors.append({"hub": self.settings.own_hub_name, "message": links_error})
        for hub, result in zip(hubs, results, strict=True):
            if isinstance(result, BaseException):
                if not isinstance(result, Exception):
                    raise result
                errors.append(_hub_error(hub.name, result, timeout))
            else:
                sessions.extend(result)
        return {"sessions": sessions, "errors": errors}

    async def _proxied(
        self, hub: Hub, call: Callable[[LabBrokerClient], Awaitable[Any]], timeout: float
    ) -> dict[str, Any]:
        """One call to ``hub``'s broker, bounded as a whole by ``timeout`` (httpx bounds each read
        only, so a hub that trickles its answer would hold the panel forever); its answer must be a
        session document. LabError 504 on timeout, 502 (or the broker's 404/409) on failure."""
        async with self.client(hub, timeout) as broker:
            try:
                return await asyncio.wait_for(call(broker), timeout)
            except NotASession as e:
                raise _not_a_session(hub, e.body) from e
            except (asyncio.TimeoutError, BrokerError, httpx.HTTPError, ValueError) as e:
                raise _broker_failure(hub.name, e, timeout) from e

    async def session(self, hub_name: str, uuid: str, origin: str | None) -> dict[str, Any]:
        hub = await self.hub(hub_name, origin)
        doc = await self._proxied(hub, lambda broker: broker.session(uuid), self.settings.timeout)
        return shapes.session_shape(hub.name, doc)

    async def act(self, hub_name: str, uuid: str, doc: Any, origin: str | None) -> dict[str, Any]:
        """Accept (within ``max(timeout, accept_timeout)``: a hub may take a while), reject or cancel."""
        action = doc.get("action") if isinstance(doc, dict) else None
        if not isinstance(action, str) or action not in ACTIONS:
            raise LabError(400, f"action must be 'accept', 'reject' or 'cancel', not {action!r}.")
        hub = await self.hub(hub_name, origin)
        timeout = self.settings.timeout
        if action == "accept":
            timeout = max(timeout, self.settings.accept_timeout)
        answer = await self._proxied(hub, lambda broker: getattr(broker, ACTIONS[action])(uuid), timeout)
        return shapes.session_shape(hub.name, answer)
