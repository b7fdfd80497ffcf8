"""Live cluster capacity: list-and-watch of nodes and pods with ``kubernetes_asyncio`` (I/O).

A :class:`Reflector` lists one kind cluster-wide (paged, ``limit``/``continue``), then watches it
from the list's ``resourceVersion`` with bookmarks, as KubeSpawner's reflector and client-go do:

* a watch that ends cleanly (its ``timeoutSeconds``, a third of ``stale_after``) is opened again
  from the last ``resourceVersion`` seen, without a new list;
* ``410 Gone`` (an ``ERROR`` event, or the status of a list page whose ``continue`` expired) means
  the version is too old: the reflector lists again;
* any other failure (connection refused or dropped, a timeout, an HTTP error) is retried from the
  last version after a back-off that doubles from 0.1 s up to ``backoff_max``.

Every event updates a :class:`~.kubecapacity.ClusterState` in memory; nothing is listed when the
planner asks. :class:`KubeCapacity` is the :class:`~.capacity.CapacityProvider`: ``totals()`` reads
the state, ``on_change(totals)`` is called (debounced, ``debounce`` seconds after a burst of events)
when the totals change, and :meth:`KubeCapacity.stale_reason` says why the cache cannot be trusted:
a kind never listed, or not heard from (a list, a watch opened, an event, a watch ended cleanly)
for more than ``stale_after`` seconds. The service answers NO with that reason meanwhile.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from kubernetes_asyncio import client, config, watch
from kubernetes_asyncio.client.exceptions import ApiException

from .capacity import CapacityProvider, Totals
from .kubecapacity import (
    Amounts,
    ClusterState,
    PoolFree,
    PoolSpec,
    node_from_json,
    pod_from_json,
    pod_key,
)

log = logging.getLogger(__name__)

ListCall = Callable[..., Awaitable[Any]]
CONNECT_TIMEOUT = 10.0
LIST_READ_TIMEOUT = 60.0
WATCH_READ_GRACE = 15.0


class _RawWatch(watch.Watch):
    """Watch events as the API sends them (dicts): no model objects are built."""

    def unmarshal_event(self, data: str | bytes, response_type: str | None) -> Any:
        return super().unmarshal_event(data, None)


def _describe(error: BaseException) -> str:
    if isinstance(error, ApiException):
        reason = str(error.reason or "").strip()
        return f"HTTP {error.status} {reason}".strip()
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


class Reflector:
    """Keeps one kind (``nodes`` or ``pods``) current through ``on_list`` and ``on_event``."""

    def __init__(
        self,
        kind: str,
        list_call: ListCall,
        *,
        on_list: Callable[[list[dict[str, Any]]], None],
        on_event: Callable[[str, dict[str, Any]], None],
        watch_timeout: int = 10,
        backoff_max: float = 10.0,
        page_size: int = 500,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.kind, self.list_call = kind, list_call
        self.on_list, self.on_event = on_list, on_event
        self.watch_timeout, self.backoff_max, self.page_size = watch_timeout, backoff_max, page_size
        self.clock = clock
        self.resource_version: str | None = None
        self.listed = False
        self.last_ok: float | None = None
        self.error = ""
        self.lists = self.watches = 0  # counters, for tests and logs
        self._delay = 0.1

    def _ok(self) -> None:
        self.last_ok = self.clock()
        self.error = ""
        self._delay = 0.1  # in touch again: the next failure is retried soon

    async def run(self) -> None:
        self._delay, expired_twice = 0.1, False
        while True:
            try:
                if self.resource_version is None:
                    self.resource_version = await self._list()
                    self.listed = True
                    self._ok()
                await self._watch()
                self._ok()
            except asyncio.CancelledError:
                raise
            except ApiException as e:
                if e.status == 410:
                    log.info("Watching %s: version %s expired (410 Gone); listing again",
                             self.kind, self.resource_version)
                    self.resource_version = None
                    if expired_twice:  # a fresh list expired at once: do not spin
                        await self._pause()
                    expired_twice = True
                    continue
                await self._failed(e)
            except Exception as e:  # connection refused or dropped, timeouts, bad JSON
                await self._failed(e)
            expired_twice = False

    async def _failed(self, error: BaseException) -> None:
        self.error = _describe(error)
        log.warning("Watching %s failed (%s); retrying in %.1f s", self.kind, self.error, self._delay)
        await self._pause()

    async def _pause(self) -> None:
        delay = self._delay
        await asyncio.sleep(delay)
        self._delay = min(2 * delay, self.backoff_max)

    async def _list(self) -> str:
        items: list[dict[str, Any]] = []
        token = ""
        while True:
            kwargs: dict[str, Any] = {
                "limit": self.page_size,
                "_preload_content": False,
                "_request_timeout": (CONNECT_TIMEOUT, LIST_READ_TIMEOUT),
            }
            if token:
                kwargs["_continue"] = token
            response = await self.list_call(**kwargs)
            try:
                body = await response.read()
                if response.status != 200:
                    raise ApiException(status=response.status, reason=_status_message(body))
            finally:
                response.release()
            doc = json.loads(body)
            if self.listed:  # a page of a new list is news too (a first list is not enough yet)
                self._ok()
            items.extend(doc.get("items") or ())
            meta = doc.get("metadata") or {}
            token = meta.get("continue") or ""
            if not token:
                break
        self.lists += 1
        self.on_list(items)
        return str(meta["resourceVersion"])

    async def _connect(self, **kwargs: Any) -> Any:
        """Open the watch; an open one proves the API server answers."""
        response = await self.list_call(**kwargs)
        if response.status == 200:
            self.watches += 1
            self._ok()
        return response

    async def _watch(self) -> None:
        stream = _RawWatch(return_type="object").stream(
            self._connect,
            resource_version=self.resource_version,
            allow_watch_bookmarks=True,
            timeout_seconds=self.watch_timeout,
            _request_timeout=(CONNECT_TIMEOUT, self.watch_timeout + WATCH_READ_GRACE),
        )
        async with stream:
            async for event in stream:
                obj = event["raw_object"]
                version = (obj.get("metadata") or {}).get("resourceVersion")
                if event["type"] in ("ADDED", "MODIFIED", "DELETED"):
                    self.on_event(event["type"], obj)
                if version:
                    self.resource_version = str(version)
                self._ok()


def _parsed(parse: Callable[[dict[str, Any]], Any], obj: dict[str, Any], what: str) -> Any:
    """The record, or None (logged) for an object the API server should never send."""
    try:
        return parse(obj)
    except (ValueError, TypeError, AttributeError) as e:
        name = (obj.get("metadata") or {}).get("name", "?") if isinstance(obj, dict) else "?"
        log.warning("Ignoring %s %s that cannot be read: %s", what, name, e)
        return None


def _status_message(body: bytes) -> str:
    try:
        return str(json.loads(body).get("message", ""))[:200]
    except (ValueError, AttributeError):
        return body[:200].decode("utf-8", "replace")


async def api_client(path: str = "") -> client.ApiClient:
    """A client for ``path`` (a kubeconfig file), else the pod's service account when running in a
    cluster, else ``$KUBECONFIG`` or ``~/.kube/config``."""
    configuration = client.Configuration()
    if path:
        await config.load_kube_config(
            config_file=path, client_configuration=configuration, persist_config=False
        )
    elif os.environ.get("KUBERNETES_SERVICE_HOST"):
        config.load_incluster_config(client_configuration=configuration)
    else:
        await config.load_kube_config(
            config_file=os.environ.get("KUBECONFIG", "~/.kube/config"),
            client_configuration=configuration,
            persist_config=False,
        )
    return client.ApiClient(configuration)


class KubeCapacity(CapacityProvider):
    """Per pool, what the cluster's nodes have free; see the module docstring."""

    def __init__(
        self,
        pools: Sequence[PoolSpec],
        *,
        kube_config: str = "",
        stale_after: float = 30.0,
        backoff_max: float | None = None,
        page_size: int = 500,
        debounce: float = 0.05,
        clock: Callable[[], float] = time.monotonic,
    ):
        if stale_after <= 0:
            raise ValueError(f"stale_after must be positive seconds, not {stale_after!r}")
        self.state = ClusterState(pools)
        self.kube_config, self.stale_after, self.debounce = kube_config, stale_after, debounce
        self.backoff_max = backoff_max if backoff_max is not None else min(10.0, max(0.5, stale_after / 3))
        self.watch_timeout = int(max(1, min(300, stale_after // 3)))
        self.page_size, self.clock = page_size, clock
        self.on_change: Callable[[dict[str, Totals]], None] | None = None
        self.reflectors: list[Reflector] = []
        self.setup_error = ""
        self._api: client.ApiClient | None = None
        self._tasks: list[asyncio.Task] = []
        self._flush_handle: asyncio.TimerHandle | None = None
        self._sent: dict[str, Totals] | None = None

    # -- what the planner reads (never the network) ----------------------------------------------

    def totals(self) -> dict[str, Totals]:
        return self.state.totals()

    def pool_free(self) -> dict[str, PoolFree]:
        return self.state.pool_free()

    def node_fit(
        self, pool: str, need: Mapping[str, float], want: Mapping[str, float]
    ) -> Amounts | None:
        return self.state.node_fit(pool, need, want)

    def stale_reason(self) -> str | None:
        """None while the cache is current; else why not, as a clause for a message."""
        if self.setup_error:
            return f"it cannot reach the Kubernetes API ({self.setup_error})"
        if not self.reflectors:
            return "it has not started reading the cluster's nodes and pods yet"
        now = self.clock()
        for r in self.reflectors:
            error = f" (last error: {r.error})" if r.error else ""
            if not r.listed or r.last_ok is None:
                return f"it has not yet read the cluster's {r.kind} from the Kubernetes API{error}"
            age = now - r.last_ok
            if age > self.stale_after:
                return (
                    f"it has not heard from the Kubernetes API about {r.kind} for {age:.0f} s, "
                    f"so it does not know what the cluster can fit{error}"
                )
        return None

    @property
    def stale(self) -> bool:
        return self.stale_reason() is not None

    # -- running ------------------------------------------------------------------------------------

    async def start(self, api: client.ApiClient | None = None) -> None:
        """Start the reflectors (returns at once; the cache is stale until both have listed)."""
        try:
            self._api = api or await api_client(self.kube_config)
        except Exception as e:  # no kubeconfig, no service account
            self.setup_error = _describe(e)
            log.error("No Kubernetes configuration, so no cluster capacity: %s", self.setup_error)
            return
        core = client.CoreV1Api(self._api)
        common: dict[str, Any] = {
            "watch_timeout": self.watch_timeout,
            "backoff_max": self.backoff_max,
            "page_size": self.page_size,
            "clock": self.clock,
        }
        self.reflectors = [
            Reflector("nodes", core.list_node, on_list=self._nodes_listed,
                      on_event=self._node_event, **common),
            Reflector("pods", core.list_pod_for_all_namespaces, on_list=self._pods_listed,
                      on_event=self._pod_event, **common),
        ]
        self._tasks = [asyncio.create_task(r.run(), name=f"watch-{r.kind}") for r in self.reflectors]

    async def wait_synced(self, timeout: float) -> bool:
        """Wait until the cache is current (for tests and start-up); False after ``timeout``."""
        deadline = time.monotonic() + timeout
        while self.stale:
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.02)
        return True

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
        self._tasks = []
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        if self._api is not None:
            await self._api.close()
            self._api = None

    # -- events -------------------------------------------------------------------------------------

    def _nodes_listed(self, items: list[dict[str, Any]]) -> None:
        nodes = (_parsed(node_from_json, obj, "node") for obj in items)
        self.state.replace_nodes(n for n in nodes if n is not None)
        self._changed()

    def _pods_listed(self, items: list[dict[str, Any]]) -> None:
        pods = (_parsed(pod_from_json, obj, "pod") for obj in items)
        self.state.replace_pods(p for p in pods if p is not None)
        self._changed()

    def _node_event(self, kind: str, obj: dict[str, Any]) -> None:
        node = None if kind == "DELETED" else _parsed(node_from_json, obj, "node")
        if node is None:  # deleted, or unreadable: its capacity is not counted
            self.state.delete_node(str((obj.get("metadata") or {}).get("name", "")))
        else:
            self.state.set_node(node)
        self._changed()

    def _pod_event(self, kind: str, obj: dict[str, Any]) -> None:
        pod = None if kind == "DELETED" else _parsed(pod_from_json, obj, "pod")
        if pod is None:
            self.state.delete_pod(pod_key(obj))
        else:
            self.state.set_pod(pod)
        self._changed()

    def _changed(self) -> None:
        if self._flush_handle is None:
            loop = asyncio.get_running_loop()
            self._flush_handle = loop.call_later(self.debounce, self.flush)

    def flush(self) -> None:
        """Tell ``on_change`` the totals, if they changed since it was last told."""
        self._flush_handle = None
        totals = self.state.totals()
        if totals == self._sent:
            return
        self._sent = totals
        if self.on_change is not None:
            try:
                self.on_change(totals)
            except Exception:
                log.exception("Applying the cluster's totals failed")
