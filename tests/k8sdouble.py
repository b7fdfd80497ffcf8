"""A Kubernetes API server double on loopback, for the capacity tests (aiohttp, plain HTTP).

It serves what ``kubernetes_asyncio``'s ``CoreV1Api.list_node`` and
``CoreV1Api.list_pod_for_all_namespaces`` ask for, as a real API server answers them:

* ``GET /api/v1/nodes`` and ``GET /api/v1/pods``: ``NodeList``/``PodList`` documents with
  ``metadata.resourceVersion``, paged with ``limit``/``continue`` (each paged list is a snapshot;
  a ``continue`` token that :meth:`KubeDouble.compact` expired answers ``410 Expired``);
* the same paths with ``watch=true``: chunked JSON lines ``{"type": ADDED|MODIFIED|DELETED|BOOKMARK,
  "object": ...}``, from ``resourceVersion`` (the events after it; none or ``0``: ``ADDED`` for
  every object), then live; a version older than the last :meth:`KubeDouble.compact` gets the real
  server's ``ERROR`` event (a ``Status`` with ``code: 410``, ``reason: Expired``); ``timeoutSeconds``
  ends the stream, with a ``BOOKMARK`` first when ``allowWatchBookmarks`` is set;
* ``/version``, ``/api`` and ``/api/v1`` (discovery), and ``Status`` JSON for errors;
* every request must carry the kubeconfig's bearer token (``401`` otherwise).

Not served (a ``400``/``404``/``405`` ``Status`` says so): label and field selectors, namespaced
paths, single objects, writes. The test plays the cluster: :meth:`KubeDouble.put_node`,
``put_pod``, ``delete_node``, ``delete_pod`` (``notify=False``: a change the open watches miss),
:meth:`KubeDouble.drop_watches` (connections cut without the last chunk), ``compact``, ``stop`` and
``start`` (same port, same state). The server runs in its own thread and event loop, so tests on
any loop (or none) can script it.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import json
import secrets
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web

KINDS = {"nodes": "Node", "pods": "Pod"}
_DROP = object()


def status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}


def _true(value: str | None) -> bool:
    return (value or "").lower() in ("true", "1")


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
        self._pages: dict[str, tuple[int, list[dict[str, Any]]]] = {}
        self._watchers: dict[str, set[asyncio.Queue]] = {k: set() for k in KINDS}
        self._uids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="kube-double", daemon=True)
        self._thread.start()

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
        app.router.add_get("/api/v1/{kind:nodes|pods}", self._collection)
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

    def put_node(self, obj: dict[str, Any], *, notify: bool = True) -> None:
        self._call(self._put, "nodes", obj, notify)

    def put_pod(self, obj: dict[str, Any], *, notify: bool = True) -> None:
        self._call(self._put, "pods", obj, notify)

    def delete_node(self, name: str, *, notify: bool = True) -> None:
        self._call(self._delete, "nodes", name, notify)

    def delete_pod(self, name: str, namespace: str = "default", *, notify: bool = True) -> None:
        self._call(self._delete, "pods", f"{namespace}/{name}", notify)

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
    def _key(kind: str, obj: Mapping[str, Any]) -> str:
        meta = obj["metadata"]
        return meta["name"] if kind == "nodes" else f"{meta.get('namespace', 'default')}/{meta['name']}"

    def _put(self, kind: str, obj: dict[str, Any], notify: bool) -> None:
        obj = copy.deepcopy(obj)
        key = self._key(kind, obj)
        old = self.objects[kind].get(key)
        self.rv += 1
        meta = obj.setdefault("metadata", {})
        if kind == "pods":
            meta.setdefault("namespace", "default")
        meta["resourceVersion"] = str(self.rv)
        meta["uid"] = old["metadata"]["uid"] if old else f"00000000-0000-0000-0000-{next(self._uids):012d}"
        meta.setdefault("creationTimestamp", "2026-11-24T12:00:00Z")
        obj["kind"], obj["apiVersion"] = KINDS[kind], "v1"
        self.objects[kind][key] = obj
        self._record(kind, "MODIFIED" if old else "ADDED", obj, notify)

    def _delete(self, kind: str, key: str, notify: bool) -> None:
        obj = self.objects[kind].pop(key)
        self.rv += 1
        obj = copy.deepcopy(obj)
        obj["metadata"]["resourceVersion"] = str(self.rv)
        self._record(kind, "DELETED", obj, notify)

    def _record(self, kind: str, type_: str, obj: dict[str, Any], notify: bool) -> None:
        self.history[kind].append((self.rv, type_, obj))
        if notify:
            for queue in self._watchers[kind]:
                queue.put_nowait((type_, obj))

    # -- handlers -----------------------------------------------------------------------------------

    def _denied(self, request: web.Request) -> web.Response | None:
        self.requests.append(f"{request.method} {request.path_qs}")
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return web.json_response(status(401, "Unauthorized", "Unauthorized"), status=401)
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
            {"name": kind, "singularName": KINDS[kind].lower(), "namespaced": kind == "pods",
             "kind": KINDS[kind], "verbs": ["list", "watch"]}
            for kind in KINDS
        ]
        return self._denied(request) or web.json_response(
            {"kind": "APIResourceList", "groupVersion": "v1", "resources": resources}
        )

    async def _unknown(self, request: web.Request) -> web.Response:
        denied = self._denied(request)
        if denied:
            return denied
        if request.method != "GET":
            message = f"the double serves only list and watch, not {request.method} {request.path}"
            return web.json_response(status(405, "MethodNotAllowed", message), status=405)
        message = f"the double does not serve {request.path}"
        return web.json_response(status(404, "NotFound", message), status=404)

    async def _collection(self, request: web.Request) -> web.StreamResponse:
        denied = self._denied(request)
        if denied:
            return denied
        kind, query = request.match_info["kind"], request.query
        for unsupported in ("labelSelector", "fieldSelector"):
            if query.get(unsupported):
                message = f"the double does not implement {unsupported}"
                return web.json_response(status(400, "BadRequest", message), status=400)
        if _true(query.get("watch")):
            return await self._watch(request, kind)
        return self._list(kind, query)

    def _list(self, kind: str, query: Mapping[str, str]) -> web.Response:
        token = query.get("continue", "")
        if token:
            if token not in self._pages:
                message = "The provided continue parameter is too old to display a consistent list result."
                return web.json_response(status(410, "Expired", message), status=410)
            rv, items = self._pages.pop(token)
        else:
            rv, items = self.rv, [self.objects[kind][k] for k in sorted(self.objects[kind])]
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

    async def _watch(self, request: web.Request, kind: str) -> web.StreamResponse:
        query = request.query
        since = query.get("resourceVersion", "")
        timeout = float(query.get("timeoutSeconds") or 1800)
        bookmarks = _true(query.get("allowWatchBookmarks"))
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)

        async def send(type_: str, obj: Mapping[str, Any]) -> None:
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


def node(
    name: str,
    *,
    cpu: str = "8",
    memory: str = "32Gi",
    gpus: int = 0,
    labels: Mapping[str, str] | None = None,
    taints: Iterable[Mapping[str, str]] = (),
    ready: bool = True,
    unschedulable: bool = False,
) -> dict[str, Any]:
    allocatable = {"cpu": cpu, "memory": memory, "pods": "110", "ephemeral-storage": "100Gi"}
    if gpus:
        allocatable["nvidia.com/gpu"] = str(gpus)
    spec: dict[str, Any] = {"podCIDR": "10.244.0.0/24"}
    if taints:
        spec["taints"] = [dict(t) for t in taints]
    if unschedulable:
        spec["unschedulable"] = True
    return {
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
        "spec": spec,
        "status": {
            "capacity": dict(allocatable),
            "allocatable": allocatable,
            "conditions": [
                {"type": "MemoryPressure", "status": "False"},
                {"type": "Ready", "status": "True" if ready else "False",
                 "reason": "KubeletReady" if ready else "KubeletNotReady"},
            ],
        },
    }


def container(name: str, cpu: str | None = None, memory: str | None = None, gpus: int = 0,
              **extra: Any) -> dict[str, Any]:
    requests: dict[str, str] = {}
    if cpu is not None:
        requests["cpu"] = cpu
    if memory is not None:
        requests["memory"] = memory
    resources: dict[str, Any] = {"requests": requests}
    if gpus:
        requests["nvidia.com/gpu"] = str(gpus)
        resources["limits"] = {"nvidia.com/gpu": str(gpus)}
    return {"name": name, "image": "busybox", "resources": resources, **extra}


def pod(
    name: str,
    node_name: str = "",
    *,
    cpu: str | None = "1",
    memory: str | None = "1Gi",
    gpus: int = 0,
    namespace: str = "default",
    phase: str = "Running",
    containers: Iterable[dict[str, Any]] | None = None,
    init: Iterable[dict[str, Any]] = (),
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "containers": list(containers) if containers is not None
        else [container("main", cpu, memory, gpus)],
    }
    if init:
        spec["initContainers"] = list(init)
    if node_name:
        spec["nodeName"] = node_name
    meta: dict[str, Any] = {"name": name, "namespace": namespace, "labels": dict(labels or {})}
    if annotations:
        meta["annotations"] = dict(annotations)
    return {"metadata": meta, "spec": spec,
            "status": {"phase": phase if node_name else "Pending"}}
