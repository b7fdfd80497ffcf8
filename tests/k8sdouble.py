"""A Kubernetes API server double on loopback (aiohttp, plain HTTP), for the capacity and spawn tests.

It serves the core ``v1`` calls that ``kubernetes_asyncio`` makes for the broker's capacity watch
(``list_node``, ``list_pod_for_all_namespaces``) and for a KubeSpawner 7 spawn (its pod and event
reflectors, ``create_namespaced_pod``, ``delete_namespaced_pod``, and the PVC, Service, Secret and
Namespace calls of the options that need them), answering as a real API server does:

* kinds: cluster-scoped ``nodes`` and ``namespaces``; namespaced ``pods``, ``services``,
  ``persistentvolumeclaims``, ``secrets`` and ``events``; the namespace ``default`` exists;
* list: ``GET /api/v1/<kind>`` (every namespace) and ``GET /api/v1/namespaces/<ns>/<kind>``:
  ``<Kind>List`` documents with ``metadata.resourceVersion``, paged with ``limit``/``continue``
  (each paged list is a snapshot; a ``continue`` token that :meth:`KubeDouble.compact` expired
  answers ``410 Expired``), filtered by ``labelSelector`` (equality: ``k=v``, ``k==v``, ``k!=v``,
  ``k``, ``!k``; set-based terms get a ``400``) and ``fieldSelector`` (``=``, ``==``, ``!=`` on
  the fields the real server supports for that kind: ``metadata.name``, ``metadata.namespace``,
  pods' ``spec.nodeName`` and ``status.phase``, events' ``involvedObject.*``, ...; another field
  gets the real server's ``400``);
* watch: the same paths with ``watch=true``: chunked JSON lines ``{"type": ADDED|MODIFIED|DELETED|
  BOOKMARK, "object": ...}`` of the objects the selectors match, from ``resourceVersion`` (the
  events after it; none or ``0``: ``ADDED`` for every object), then live; a version older than the
  last :meth:`KubeDouble.compact` gets the real server's ``ERROR`` event (a ``Status`` with
  ``code: 410``, ``reason: Expired``); ``timeoutSeconds`` ends the stream, with a ``BOOKMARK``
  first when ``allowWatchBookmarks`` is set. (A change that makes an object stop matching the
  selectors is not sent; a real server sends it as ``DELETED``.)
* create: ``POST`` to a collection: the object with ``uid``, ``resourceVersion``,
  ``creationTimestamp`` and, for a pod, ``status.phase: Pending``; ``409 AlreadyExists``; ``404``
  for a missing namespace; ``400`` for a body without ``metadata.name`` or naming another namespace;
* read and delete: ``GET``/``DELETE`` of ``.../<kind>/<name>`` (``404 NotFound`` when missing). The
  delete of a pod bound to a node (``spec.nodeName``) with a grace period (``gracePeriodSeconds``
  of the query, else of the body's ``DeleteOptions``, else 30) only marks it
  (``metadata.deletionTimestamp``, a ``MODIFIED`` event), as a real server does: the kubelet (the
  test) ends the containers and removes it with :meth:`KubeDouble.delete_pod`; any other delete
  removes the object at once (``DELETED``). ``PUT`` and ``PATCH`` are not served (``405``);
* ``/version``, ``/api`` and ``/api/v1`` (discovery), ``Status`` JSON for errors, and a ``401`` for
  a request without the kubeconfig's bearer token.

For assertions: :attr:`KubeDouble.requests` (``"GET /api/v1/nodes?watch=..."``), :attr:`created`
(each object as the client POSTed it) and :attr:`deleted` (kind, namespace/name and grace period).
The test plays the cluster (scheduler and kubelet): :meth:`KubeDouble.put` and :meth:`delete` of any
kind (``put_node``, ``put_pod``, ``delete_node``, ``delete_pod`` for short; ``notify=False``: a change
the open watches miss), :meth:`get` and :meth:`objects_of`, :meth:`drop_watches` (connections cut
without the last chunk), ``compact``, ``stop`` and ``start`` (same port, same state). The server runs
in its own thread and event loop, so tests on any loop (or none) can script it.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import json
import secrets
import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web
from k8sobjects import container, node, pod

__all__ = ["KubeDouble", "container", "node", "pod", "selector", "status"]

CLUSTER_KINDS = {"nodes": "Node", "namespaces": "Namespace"}
NAMESPACED_KINDS = {"pods": "Pod", "services": "Service", "persistentvolumeclaims": "PersistentVolumeClaim",
                    "secrets": "Secret", "events": "Event"}
KINDS = {**CLUSTER_KINDS, **NAMESPACED_KINDS}
_COMMON_FIELDS = {"metadata.name", "metadata.namespace"}
FIELDS = {  # the field selectors a real API server supports, by kind
    "pods": _COMMON_FIELDS | {"spec.nodeName", "spec.restartPolicy", "spec.schedulerName",
                              "spec.serviceAccountName", "status.phase", "status.podIP",
                              "status.nominatedNodeName"},
    "nodes": _COMMON_FIELDS | {"spec.unschedulable"},
    "namespaces": _COMMON_FIELDS | {"status.phase"},
    "secrets": _COMMON_FIELDS | {"type"},
    "events": _COMMON_FIELDS | {f"involvedObject.{f}" for f in (
        "kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")}
    | {"reason", "reportingComponent", "source", "type"},
}
_DROP = object()
Match = Callable[[Mapping[str, Any]], bool]


def status(code: int, reason: str, message: str, **details: Any) -> dict[str, Any]:
    doc = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
           "message": message, "reason": reason, "code": code}
    if details:
        doc["details"] = details
    return doc


def _error(code: int, reason: str, message: str, **details: Any) -> web.Response:
    return web.json_response(status(code, reason, message, **details), status=code)


def _true(value: str | None) -> bool:
    return (value or "").lower() in ("true", "1")


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _field(obj: Mapping[str, Any], path: str) -> str:
    value: Any = obj
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return "" if value is None else str(value).lower() if isinstance(value, bool) else str(value)


def selector(kind: str, labels: str, fields: str) -> Match:
    """What a ``labelSelector`` and a ``fieldSelector`` match; ValueError with the real server's
    complaint for what it (or the double) does not accept."""
    tests: list[Match] = []
    for term in filter(None, (t.strip() for t in labels.split(","))):
        if " in " in term or " notin " in term or "(" in term:
            raise ValueError(f"the double does not implement set-based label selectors: {term!r}")
        if "!=" in term:
            key, value = (s.strip() for s in term.split("!=", 1))
            tests.append(lambda o, k=key, v=value: (o["metadata"].get("labels") or {}).get(k) != v)
        elif "=" in term:
            key, value = (s.strip() for s in term.replace("==", "=").split("=", 1))
            tests.append(lambda o, k=key, v=value: (o["metadata"].get("labels") or {}).get(k) == v)
        elif term.startswith("!"):
            tests.append(lambda o, k=term[1:]: k not in (o["metadata"].get("labels") or {}))
        else:
            tests.append(lambda o, k=term: k in (o["metadata"].get("labels") or {}))
    for term in filter(None, (t.strip() for t in fields.split(","))):
        negate = "!=" in term
        path, _, value = term.replace("!=", "=").replace("==", "=").partition("=")
        if path not in FIELDS.get(kind, _COMMON_FIELDS):
            raise ValueError(f'field label not supported: {path}')
        tests.append(lambda o, p=path, v=value, n=negate: (_field(o, p) == v) != n)
    return lambda obj: all(test(obj) for test in tests)


class KubeDouble:
    """See the module docstring. ``url`` and ``token`` are what a kubeconfig needs."""

    def __init__(self, *, bookmark_interval: float = 0) -> None:
        self.token = secrets.token_hex(16)
        self.bookmark_interval = bookmark_interval
        self.port = 0
        self.rv = 1
        self.objects: dict[str, dict[str, dict[str, Any]]] = {k: {} for k in KINDS}
        self.history: dict[str, list[tuple[int, str, dict[str, Any]]]] = {k: [] for k in KINDS}
        self.compacted = {k: 0 for k in KINDS}
        self.requests: list[str] = []  # "GET /api/v1/nodes?watch=..." for assertions
        self.created: list[tuple[str, dict[str, Any]]] = []  # (kind, the body the client POSTed)
        self.deleted: list[tuple[str, str, int | None]] = []  # (kind, "ns/name", grace period)
        self._pages: dict[str, tuple[int, list[dict[str, Any]]]] = {}
        self._watchers: dict[str, set[asyncio.Queue]] = {k: set() for k in KINDS}
        self._uids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="kube-double", daemon=True)
        self._thread.start()
        self.put("namespaces", {"metadata": {"name": "default"}, "status": {"phase": "Active"}})

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Run ``fn`` (a coroutine function or a plain one) on the double's loop and wait for it."""

        async def run() -> Any:
            result = fn(*args, **kwargs)
            return await result if asyncio.iscoroutine(result) else result

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(timeout=30)

    # -- serving ------------------------------------------------------------------------------------

    def start(self) -> KubeDouble:
        self._call(self._start)
        return self

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_get("/version", self._version)
        app.router.add_get("/api", self._api)
        app.router.add_get("/api/v1", self._api_v1)
        every = "|".join(KINDS)
        namespaced = "|".join(NAMESPACED_KINDS)
        cluster = "|".join(CLUSTER_KINDS)
        app.router.add_get(f"/api/v1/{{kind:{every}}}", self._collection)
        app.router.add_post(f"/api/v1/{{kind:{cluster}}}", self._create)
        app.router.add_get(f"/api/v1/{{kind:{cluster}}}/{{name}}", self._read)
        app.router.add_delete(f"/api/v1/{{kind:{cluster}}}/{{name}}", self._remove)
        app.router.add_get(f"/api/v1/namespaces/{{namespace}}/{{kind:{namespaced}}}", self._collection)
        app.router.add_post(f"/api/v1/namespaces/{{namespace}}/{{kind:{namespaced}}}", self._create)
        app.router.add_get(f"/api/v1/namespaces/{{namespace}}/{{kind:{namespaced}}}/{{name}}", self._read)
        app.router.add_delete(f"/api/v1/namespaces/{{namespace}}/{{kind:{namespaced}}}/{{name}}",
                              self._remove)
        app.router.add_route("*", "/{tail:.*}", self._unknown)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port or 0)
        await site.start()
        if not self.port:
            self.port = self._runner.addresses[0][1]

    def stop(self) -> None:
        """Stop serving (open watches are cut); the state is kept for :meth:`start`."""
        self._call(self._stop)

    async def _stop(self) -> None:
        self._drop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def close(self) -> None:
        self.stop()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()

    def write_kubeconfig(self, path: Path) -> Path:
        doc = {
            "apiVersion": "v1", "kind": "Config", "current-context": "double",
            "clusters": [{"name": "double", "cluster": {"server": self.url}}],
            "users": [{"name": "tester", "user": {"token": self.token}}],
            "contexts": [{"name": "double", "context": {"cluster": "double", "user": "tester"}}],
        }
        path.write_text(yaml.safe_dump(doc))
        return path

    # -- the cluster, scripted by the test ----------------------------------------------------------

    def put(self, kind: str, obj: dict[str, Any], *, notify: bool = True) -> dict[str, Any]:
        """Add or replace an object (as the scheduler or kubelet would); the stored copy."""
        return copy.deepcopy(self._call(self._put, kind, obj, notify))

    def delete(self, kind: str, name: str, namespace: str = "default", *, notify: bool = True) -> None:
        self._call(self._delete, kind, self._key(kind, name, namespace), notify)

    def get(self, kind: str, name: str, namespace: str = "default") -> dict[str, Any] | None:
        found = self._call(lambda: self.objects[kind].get(self._key(kind, name, namespace)))
        return copy.deepcopy(found)

    def objects_of(self, kind: str) -> list[dict[str, Any]]:
        return copy.deepcopy(self._call(lambda: list(self.objects[kind].values())))

    def put_node(self, obj: dict[str, Any], *, notify: bool = True) -> None:
        self.put("nodes", obj, notify=notify)

    def put_pod(self, obj: dict[str, Any], *, notify: bool = True) -> None:
        self.put("pods", obj, notify=notify)

    def delete_node(self, name: str, *, notify: bool = True) -> None:
        self.delete("nodes", name, notify=notify)

    def delete_pod(self, name: str, namespace: str = "default", *, notify: bool = True) -> None:
        self.delete("pods", name, namespace, notify=notify)

    def load(self, nodes: Iterable[dict[str, Any]] = (), pods: Iterable[dict[str, Any]] = ()) -> None:
        """Put many objects at once (a starting cluster)."""

        def put_all() -> None:
            for obj in nodes:
                self._put("nodes", obj, True)
            for obj in pods:
                self._put("pods", obj, True)

        self._call(put_all)

    def drop_watches(self) -> None:
        """Cut every open watch connection, as a failing load balancer would."""
        self._call(self._drop)

    def compact(self) -> None:
        """Forget the history: watches from any earlier version and paged lists get 410."""
        self._call(self._compact)

    def watch_count(self, kind: str) -> int:
        return self._call(lambda: len(self._watchers[kind]))

    def _compact(self) -> None:
        for kind in KINDS:
            self.compacted[kind] = self.rv
            self.history[kind].clear()
        self._pages.clear()

    def _drop(self) -> None:
        for queues in self._watchers.values():
            for queue in queues:
                queue.put_nowait(_DROP)

    @staticmethod
    def _key(kind: str, name: str, namespace: str | None) -> str:
        return name if kind in CLUSTER_KINDS else f"{namespace or 'default'}/{name}"

    def _put(self, kind: str, obj: dict[str, Any], notify: bool) -> dict[str, Any]:
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        if kind in NAMESPACED_KINDS:
            meta.setdefault("namespace", "default")
        key = self._key(kind, meta["name"], meta.get("namespace"))
        old = self.objects[kind].get(key)
        self.rv += 1
        meta["resourceVersion"] = str(self.rv)
        meta["uid"] = old["metadata"]["uid"] if old else f"00000000-0000-0000-0000-{next(self._uids):012d}"
        meta.setdefault("creationTimestamp", "2026-11-24T12:00:00Z")
        obj["kind"], obj["apiVersion"] = KINDS[kind], "v1"
        self.objects[kind][key] = obj
        self._record(kind, "MODIFIED" if old else "ADDED", obj, notify)
        return obj

    def _delete(self, kind: str, key: str, notify: bool) -> dict[str, Any]:
        obj = self.objects[kind].pop(key)
        self.rv += 1
        obj = copy.deepcopy(obj)
        obj["metadata"]["resourceVersion"] = str(self.rv)
        self._record(kind, "DELETED", obj, notify)
        return obj

    def _record(self, kind: str, type_: str, obj: dict[str, Any], notify: bool) -> None:
        self.history[kind].append((self.rv, type_, obj))
        if notify:
            for queue in self._watchers[kind]:
                queue.put_nowait((type_, obj))

    # -- handlers -----------------------------------------------------------------------------------

    def _denied(self, request: web.Request) -> web.Response | None:
        self.requests.append(f"{request.method} {request.path_qs}")
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return _error(401, "Unauthorized", "Unauthorized")
        return None

    async def _version(self, request: web.Request) -> web.Response:
        return self._denied(request) or web.json_response(
            {"major": "1", "minor": "31", "gitVersion": "v1.31.0-double", "platform": "linux/amd64"}
        )

    async def _api(self, request: web.Request) -> web.Response:
        return self._denied(request) or web.json_response(
            {"kind": "APIVersions", "versions": ["v1"],
             "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]}
        )

    async def _api_v1(self, request: web.Request) -> web.Response:
        resources = [
            {"name": kind, "singularName": KINDS[kind].lower(), "namespaced": kind in NAMESPACED_KINDS,
             "kind": KINDS[kind], "verbs": ["create", "delete", "get", "list", "watch"]}
            for kind in KINDS
        ]
        return self._denied(request) or web.json_response(
            {"kind": "APIResourceList", "groupVersion": "v1", "resources": resources}
        )

    async def _unknown(self, request: web.Request) -> web.Response:
        denied = self._denied(request)
        if denied:
            return denied
        if request.method not in ("GET", "POST", "DELETE"):
            message = f"the double does not serve {request.method} (only create, get, delete, list, watch)"
            return _error(405, "MethodNotAllowed", message)
        return _error(404, "NotFound", f"the double does not serve {request.method} {request.path}")

    def _no_namespace(self, namespace: str | None) -> web.Response | None:
        if namespace is not None and namespace not in self.objects["namespaces"]:
            return _error(404, "NotFound", f'namespaces "{namespace}" not found',
                          name=namespace, kind="namespaces")
        return None

    async def _read(self, request: web.Request) -> web.Response:
        denied = self._denied(request)
        if denied:
            return denied
        kind, name = request.match_info["kind"], request.match_info["name"]
        obj = self.objects[kind].get(self._key(kind, name, request.match_info.get("namespace")))
        if obj is None:
            return _error(404, "NotFound", f'{kind} "{name}" not found', name=name, kind=kind)
        return web.json_response(obj)

    async def _create(self, request: web.Request) -> web.Response:
        denied = self._denied(request)
        if denied:
            return denied
        kind, namespace = request.match_info["kind"], request.match_info.get("namespace")
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "BadRequest", "the request body is not JSON")
        meta = body.get("metadata") if isinstance(body, dict) else None
        if not isinstance(meta, dict) or not meta.get("name"):
            return _error(422, "Invalid", f"{KINDS[kind]} is invalid: metadata.name: Required value")
        if namespace is not None and meta.setdefault("namespace", namespace) != namespace:
            message = ("the namespace of the provided object does not match the namespace sent on "
                       "the request")
            return _error(400, "BadRequest", message)
        missing = self._no_namespace(namespace)
        if missing:
            return missing
        if self._key(kind, meta["name"], namespace) in self.objects[kind]:
            return _error(409, "AlreadyExists", f'{kind} "{meta["name"]}" already exists',
                          name=meta["name"], kind=kind)
        self.created.append((kind, copy.deepcopy(body)))
        meta["creationTimestamp"] = _now()
        if kind == "pods":
            body.setdefault("status", {}).setdefault("phase", "Pending")
        if kind == "namespaces":
            body.setdefault("status", {}).setdefault("phase", "Active")
        return web.json_response(self._put(kind, body, True), status=201)

    async def _remove(self, request: web.Request) -> web.Response:
        denied = self._denied(request)
        if denied:
            return denied
        kind, name = request.match_info["kind"], request.match_info["name"]
        key = self._key(kind, name, request.match_info.get("namespace"))
        options: dict[str, Any] = {}
        if request.can_read_body:
            try:
                options = await request.json() or {}
            except ValueError:
                return _error(400, "BadRequest", "the DeleteOptions body is not JSON")
        grace = request.query.get("gracePeriodSeconds", options.get("gracePeriodSeconds"))
        grace = None if grace is None else int(grace)
        obj = self.objects[kind].get(key)
        if obj is None:
            return _error(404, "NotFound", f'{kind} "{name}" not found', name=name, kind=kind)
        self.deleted.append((kind, key, grace))
        graceful = 30 if grace is None else grace
        if kind == "pods" and (obj.get("spec") or {}).get("nodeName") and graceful > 0:
            if "deletionTimestamp" in obj["metadata"]:
                return web.json_response(obj)
            marked = copy.deepcopy(obj)
            until = datetime.now(timezone.utc) + timedelta(seconds=graceful)
            marked["metadata"]["deletionTimestamp"] = until.strftime("%Y-%m-%dT%H:%M:%SZ")
            marked["metadata"]["deletionGracePeriodSeconds"] = graceful
            return web.json_response(self._put(kind, marked, True))  # the kubelet removes it
        return web.json_response(self._delete(kind, key, True))

    async def _collection(self, request: web.Request) -> web.StreamResponse:
        denied = self._denied(request)
        if denied:
            return denied
        kind, query = request.match_info["kind"], request.query
        namespace = request.match_info.get("namespace")
        try:
            match = selector(kind, query.get("labelSelector", ""), query.get("fieldSelector", ""))
        except ValueError as e:
            return _error(400, "BadRequest", str(e))

        def wanted(obj: Mapping[str, Any]) -> bool:
            in_namespace = namespace is None or obj["metadata"].get("namespace") == namespace
            return in_namespace and match(obj)

        if _true(query.get("watch")):
            return await self._watch(request, kind, wanted)
        return self._list(kind, query, wanted)

    def _list(self, kind: str, query: Mapping[str, str], wanted: Match) -> web.Response:
        token = query.get("continue", "")
        if token:
            if token not in self._pages:
                message = "The provided continue parameter is too old to display a consistent list result."
                return _error(410, "Expired", message)
            rv, items = self._pages.pop(token)
        else:
            objects = self.objects[kind]
            rv, items = self.rv, [objects[k] for k in sorted(objects) if wanted(objects[k])]
        limit = int(query.get("limit") or 0)
        meta: dict[str, Any] = {"resourceVersion": str(rv)}
        if limit and len(items) > limit:
            items, rest = items[:limit], items[limit:]
            next_token = secrets.token_hex(8)
            self._pages[next_token] = (rv, rest)
            meta["continue"], meta["remainingItemCount"] = next_token, len(rest)
        stripped = [{k: v for k, v in o.items() if k not in ("kind", "apiVersion")} for o in items]
        return web.json_response(
            {"kind": f"{KINDS[kind]}List", "apiVersion": "v1", "metadata": meta, "items": stripped}
        )

    async def _watch(self, request: web.Request, kind: str, wanted: Match) -> web.StreamResponse:
        query = request.query
        since = query.get("resourceVersion", "")
        timeout = float(query.get("timeoutSeconds") or 1800)
        bookmarks = _true(query.get("allowWatchBookmarks"))
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)

        async def send(type_: str, obj: Mapping[str, Any]) -> None:
            if type_ in ("ERROR", "BOOKMARK") or wanted(obj):
                await response.write(json.dumps({"type": type_, "object": obj}).encode() + b"\n")

        def bookmark() -> dict[str, Any]:
            return {"kind": KINDS[kind], "apiVersion": "v1",
                    "metadata": {"resourceVersion": str(self.rv)}}

        if since not in ("", "0") and int(since) < self.compacted[kind]:
            message = f"too old resource version: {since} ({self.compacted[kind]})"
            await send("ERROR", status(410, "Expired", message))
            await response.write_eof()
            return response
        queue: asyncio.Queue = asyncio.Queue()
        self._watchers[kind].add(queue)
        # taken before the first await: nothing falls between the replay and the queue
        if since in ("", "0"):
            replay = [("ADDED", o) for o in self.objects[kind].values()]
        else:
            replay = [(t, o) for rv, t, o in self.history[kind] if rv > int(since)]
        try:
            for type_, obj in replay:
                await send(type_, obj)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout
            while (remaining := deadline - loop.time()) > 0:
                wait = min(remaining, self.bookmark_interval or remaining)
                try:
                    item = await asyncio.wait_for(queue.get(), wait)
                except asyncio.TimeoutError:
                    if bookmarks and self.bookmark_interval and deadline - loop.time() > 0:
                        await send("BOOKMARK", bookmark())
                    continue
                if item is _DROP:
                    if request.transport is not None:
                        request.transport.abort()  # no last chunk: the client sees a broken stream
                    return response
                await send(*item)
            if bookmarks:
                await send("BOOKMARK", bookmark())
            await response.write_eof()
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self._watchers[kind].discard(queue)
        return response


# -- objects as the API server returns them ---------------------------------------------------------
