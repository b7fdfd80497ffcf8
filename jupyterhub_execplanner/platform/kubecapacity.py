"""What a Kubernetes cluster can still fit, per capacity pool (pure: JSON dicts in, numbers out).

Nodes and pods are read from the JSON the API server returns (``GET /api/v1/nodes``, ``.../pods``
and their watch events) into small records: :func:`node_from_json` keeps a node's labels, its
``NoSchedule``/``NoExecute`` taints, its allocatable cores, memory (GiB) and extended resources
(``nvidia.com/gpu``), and whether pods can be scheduled on it (``Ready`` and not
``spec.unschedulable``); :func:`pod_from_json` keeps the node a pod is scheduled to and its effective
request, computed as the scheduler does (:mod:`.kuberesources`). A pod holds its request while it is
scheduled and not ``Succeeded``/``Failed``.

A pool (:class:`PoolSpec`) is a node selector (labels that must all match) and tolerations (a node
with a ``NoSchedule``/``NoExecute`` taint is in the pool only if one of them tolerates it, matched as
Kubernetes does). For each pool, :class:`PoolFree` has

* ``free_total``: the sum over its nodes of ``allocatable - requested`` (never below 0 on a node).
  This is what the calendar gets as the pool's totals. Requests of z2jh user placeholders
  (``component=user-placeholder``, pre-empted for real users) and of this broker's own session
  servers (the calendar already holds those as reservations) are not subtracted;
* ``largest_node_free``: the most any single node has free of each resource, counting every pod but
  the placeholders (a session must fit on one node now).

:class:`ClusterState` keeps these up to date as watch events arrive (O(1) per event; the pool sums
are recomputed with numpy only when something changed), and answers :meth:`ClusterState.node_fit`:
the free amounts of the one node of a pool that best holds a session of a given size.
:func:`pool_totals` is the same arithmetic written plainly, for tests and one-off use.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from .kuberesources import Amounts, add_to, effective_requests, resource_amounts
from .profiles import Profile

EMPTY: Mapping[str, str] = MappingProxyType({})
EPS = 1e-9
CORE = ("cores", "memory")
BLOCKING = ("NoSchedule", "NoExecute")
PLACEHOLDER = ("component", "user-placeholder")
SERVERNAME = "hub.jupyter.org/servername"
# the server names this broker gives its sessions (launch.server_name_for)
SESSION_SERVER = re.compile(r"^ep-[0-9a-f]{12}$")

# -- records --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Taint:
    key: str
    value: str = ""
    effect: str = "NoSchedule"


@dataclass(frozen=True, slots=True)
class Toleration:
    """A pod toleration as KubeSpawner and the API write it (``operator`` Equal or Exists; an empty
    ``key`` with Exists tolerates every taint; an empty ``effect`` matches every effect)."""

    key: str = ""
    operator: str = "Equal"
    value: str = ""
    effect: str = ""

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Toleration:
        if not isinstance(doc, Mapping):
            raise ValueError(f"a toleration must be a dict like {{'key': ..., 'operator': ...}}, not {doc!r}")
        return cls(
            key=str(doc.get("key") or ""),
            operator=str(doc.get("operator") or "Equal"),
            value=str(doc.get("value") or ""),
            effect=str(doc.get("effect") or ""),
        )

    def tolerates(self, taint: Taint) -> bool:
        """Kubernetes' ``Toleration.ToleratesTaint``."""
        if self.effect and self.effect != taint.effect:
            return False
        if self.key and self.key != taint.key:
            return False
        if self.operator == "Exists":
            return True
        if self.operator == "Equal":
            return self.value == taint.value
        return False


@dataclass(frozen=True, slots=True)
class Node:
    name: str
    labels: Mapping[str, str]
    taints: tuple[Taint, ...]  # NoSchedule and NoExecute only
    allocatable: Mapping[str, float]
    usable: bool  # Ready, and not cordoned (spec.unschedulable)


@dataclass(frozen=True, slots=True)
class Pod:
    key: str  # namespace/name
    node: str  # "" while not scheduled
    requests: Mapping[str, float]
    active: bool  # scheduled, and not Succeeded or Failed
    placeholder: bool = False  # a z2jh user placeholder: its room counts as free
    session: bool = False  # a server of this broker's sessions: held in the calendar instead


def node_from_json(obj: Mapping[str, Any]) -> Node:
    meta, spec, status = obj.get("metadata") or {}, obj.get("spec") or {}, obj.get("status") or {}
    ready = any(
        c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or ()
    )
    taints = tuple(
        Taint(str(t.get("key") or ""), str(t.get("value") or ""), str(t.get("effect") or ""))
        for t in spec.get("taints") or ()
        if t.get("effect") in BLOCKING
    )
    return Node(
        name=str(meta.get("name", "")),
        labels=MappingProxyType({str(k): str(v) for k, v in (meta.get("labels") or {}).items()}),
        taints=taints,
        allocatable=MappingProxyType(resource_amounts(status.get("allocatable"))),
        usable=ready and not spec.get("unschedulable", False),
    )


def pod_key(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}"


def pod_from_json(obj: Mapping[str, Any]) -> Pod:
    meta, spec, status = obj.get("metadata") or {}, obj.get("spec") or {}, obj.get("status") or {}
    node = str(spec.get("nodeName") or "")
    labels = meta.get("labels") or {}
    server = (meta.get("annotations") or {}).get(SERVERNAME, "")
    return Pod(
        key=pod_key(obj),
        node=node,
        requests=MappingProxyType(effective_requests(spec)),
        active=bool(node) and status.get("phase") not in ("Succeeded", "Failed"),
        placeholder=labels.get(PLACEHOLDER[0]) == PLACEHOLDER[1],
        session=bool(SESSION_SERVER.match(str(server))),
    )


# -- pools ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PoolSpec:
    """A capacity pool: the nodes a profile's pods may be scheduled on. ``resources`` are the
    extended resources the pool reports besides cores and memory (its profiles' accelerators)."""

    name: str
    node_selector: Mapping[str, str] = field(default_factory=lambda: EMPTY)
    tolerations: tuple[Toleration, ...] = ()
    resources: tuple[str, ...] = ()

    def admits(self, node: Node) -> bool:
        if not node.usable:
            return False
        if any(node.labels.get(k) != v for k, v in self.node_selector.items()):
            return False
        return all(any(t.tolerates(taint) for t in self.tolerations) for taint in node.taints)

    @property
    def names(self) -> tuple[str, ...]:
        return CORE + tuple(sorted(set(self.resources) - set(CORE)))


@dataclass(frozen=True)
class PoolFree:
    free_total: Mapping[str, float]
    largest_node_free: Mapping[str, float]
    nodes: int


def pools_for_profiles(profiles: Iterable[Profile]) -> list[PoolSpec]:
    """One pool per profile ``pool`` name, with its profiles' node selector and tolerations (the
    same for every profile of the pool: ValueError naming them otherwise) and accelerators."""
    found: dict[str, tuple[tuple, tuple, set[str], str]] = {}
    for p in profiles:
        selector = getattr(p, "node_selector", None) or {}
        tolerations = getattr(p, "tolerations", None) or ()
        sel = tuple(sorted((str(k), str(v)) for k, v in dict(selector).items()))
        tol = tuple(sorted(set(Toleration.from_dict(t) for t in tolerations), key=repr))
        if p.pool in found:
            sel0, tol0, names, first = found[p.pool]
            if (sel0, tol0) != (sel, tol):
                raise ValueError(
                    f"profiles {first!r} and {p.slug!r} are both in pool {p.pool!r} but schedule "
                    "onto different nodes (node_selector or tolerations differ); give them "
                    "different execplanner.pool names"
                )
            names.update(p.accelerators)
        else:
            found[p.pool] = (sel, tol, set(p.accelerators), p.slug)
    return [
        PoolSpec(name, MappingProxyType(dict(sel)), tol, tuple(sorted(names)))
        for name, (sel, tol, names, _) in found.items()
    ]


def _free(node: Node, used: Mapping[str, float], names: Sequence[str]) -> list[float]:
    return [max(0.0, node.allocatable.get(n, 0.0) - used.get(n, 0.0)) for n in names]


def pool_totals(
    nodes: Iterable[Node], pods: Iterable[Pod], pools: Sequence[PoolSpec]
) -> dict[str, PoolFree]:
    """Per pool, the free total and the largest free on one node (see the module docstring)."""
    nodes = list(nodes)
    outside: dict[str, Amounts] = {}  # requests the calendar does not hold
    every: dict[str, Amounts] = {}  # every request but the placeholders'
    for pod in pods:
        if pod.active and not pod.placeholder:
            add_to(every.setdefault(pod.node, {}), pod.requests)
            if not pod.session:
                add_to(outside.setdefault(pod.node, {}), pod.requests)
    result: dict[str, PoolFree] = {}
    for pool in pools:
        names = pool.names
        total, largest, count = [0.0] * len(names), [0.0] * len(names), 0
        for node in nodes:
            if not pool.admits(node):
                continue
            count += 1
            for i, v in enumerate(_free(node, outside.get(node.name, {}), names)):
                total[i] += v
            for i, v in enumerate(_free(node, every.get(node.name, {}), names)):
                largest[i] = max(largest[i], v)
        result[pool.name] = PoolFree(
            dict(zip(names, total, strict=True)), dict(zip(names, largest, strict=True)), count
        )
    return result


# -- the incremental state ------------------------------------------------------------------------


class ClusterState:
    """Nodes and pods as the watches report them, and each pool's :class:`PoolFree`, kept current.

    Each node has a column in numpy arrays of allocatable and requested amounts (rows: the union
    of the pools' resources); a pod event moves its request between columns. The pools' figures
    are recomputed from the arrays on the first read after a change."""

    def __init__(self, pools: Sequence[PoolSpec]):
        self.pools = tuple(pools)
        names: list[str] = list(CORE)
        for pool in self.pools:
            names += [n for n in pool.names if n not in names]
        self.names = tuple(names)
        self._row = {n: i for i, n in enumerate(self.names)}
        self._pool_rows = [np.array([self._row[n] for n in p.names]) for p in self.pools]
        self.nodes: dict[str, Node] = {}
        self.pods: dict[str, Pod] = {}
        self._slot: dict[str, int] = {}  # node name -> column (also for pods' nodes not yet seen)
        self._spare: list[int] = []
        self._count = np.zeros(0, dtype=np.int64)  # active pods per column
        self._alloc = np.zeros((len(names), 0))
        self._outside = np.zeros((len(names), 0))  # requests not held by the calendar
        self._every = np.zeros((len(names), 0))  # every request but placeholders'
        self._member = np.zeros((len(self.pools), 0), dtype=bool)
        self._dirty = True
        self._free: dict[str, PoolFree] = {}
        self._node_free: list[np.ndarray] = []  # per pool: rows x member nodes, every request

    # -- columns --------------------------------------------------------------------------------

    def _column(self, node: str) -> int:
        slot = self._slot.get(node)
        if slot is not None:
            return slot
        if not self._spare:  # twice as many columns
            old = self._alloc.shape[1]
            new = max(64, 2 * old)
            for attr in ("_alloc", "_outside", "_every", "_member", "_count"):
                arr = getattr(self, attr)
                grown = np.zeros(arr.shape[:-1] + (new,), dtype=arr.dtype)
                grown[..., :old] = arr
                setattr(self, attr, grown)
            self._spare = list(range(new - 1, old - 1, -1))
        slot = self._spare.pop()
        self._slot[node] = slot
        return slot

    def _release(self, node: str) -> None:
        """Give a column back once it has neither a node nor active pods."""
        slot = self._slot.get(node)
        if slot is None or node in self.nodes or self._count[slot]:
            return
        del self._slot[node]
        for arr in (self._alloc, self._outside, self._every):
            arr[:, slot] = 0.0
        self._member[:, slot] = False
        self._spare.append(slot)

    def _vector(self, amounts: Mapping[str, float]) -> list[tuple[int, float]]:
        return [(self._row[n], v) for n, v in amounts.items() if n in self._row and v]

    # -- changes --------------------------------------------------------------------------------

    def set_node(self, node: Node) -> None:
        self.nodes[node.name] = node
        slot = self._column(node.name)
        self._alloc[:, slot] = 0.0
        for row, value in self._vector(node.allocatable):
            self._alloc[row, slot] = value
        for i, pool in enumerate(self.pools):
            self._member[i, slot] = pool.admits(node)
        self._dirty = True

    def delete_node(self, name: str) -> None:
        if self.nodes.pop(name, None) is None:
            return
        slot = self._slot[name]
        self._alloc[:, slot] = 0.0
        self._member[:, slot] = False
        self._release(name)
        self._dirty = True

    def set_pod(self, pod: Pod) -> None:
        old = self.pods.get(pod.key)
        if old == pod:
            return
        if old is not None:
            self._count_pod(old, -1.0)
        self.pods[pod.key] = pod
        self._count_pod(pod, 1.0)

    def delete_pod(self, key: str) -> None:
        old = self.pods.pop(key, None)
        if old is not None:
            self._count_pod(old, -1.0)

    def _count_pod(self, pod: Pod, sign: float) -> None:
        if not pod.active or pod.placeholder:
            return
        slot = self._column(pod.node)
        for row, value in self._vector(pod.requests):
            self._every[row, slot] += sign * value
            if not pod.session:
                self._outside[row, slot] += sign * value
        self._count[slot] += int(sign)
        if sign < 0 and not self._count[slot]:  # no pods left: clear the float residue
            self._every[:, slot] = 0.0
            self._outside[:, slot] = 0.0
            self._release(pod.node)
        self._dirty = True

    def replace_nodes(self, nodes: Iterable[Node]) -> None:
        """A fresh list: the nodes are exactly these."""
        fresh = {n.name: n for n in nodes}
        for name in [n for n in self.nodes if n not in fresh]:
            self.delete_node(name)
        for node in fresh.values():
            if self.nodes.get(node.name) != node:
                self.set_node(node)
        self._dirty = True

    def replace_pods(self, pods: Iterable[Pod]) -> None:
        """A fresh list: the pods are exactly these."""
        fresh = {p.key: p for p in pods}
        for key in [k for k in self.pods if k not in fresh]:
            self.delete_pod(key)
        for pod in fresh.values():
            self.set_pod(pod)
        self._dirty = True

    # -- reads ----------------------------------------------------------------------------------

    def _refresh(self) -> None:
        if not self._dirty:
            return
        outside = np.maximum(self._alloc - self._outside, 0.0)
        every = np.maximum(self._alloc - self._every, 0.0)
        free: dict[str, PoolFree] = {}
        node_free: list[np.ndarray] = []
        for i, pool in enumerate(self.pools):
            rows, cols = self._pool_rows[i], np.flatnonzero(self._member[i])
            mine = every[np.ix_(rows, cols)]
            total = outside[np.ix_(rows, cols)].sum(axis=1)
            largest = mine.max(axis=1) if cols.size else np.zeros(len(rows))
            free[pool.name] = PoolFree(
                {n: round(float(total[j]), 6) for j, n in enumerate(pool.names)},
                {n: round(float(largest[j]), 6) for j, n in enumerate(pool.names)},
                int(cols.size),
            )
            node_free.append(mine)
        self._free, self._node_free, self._dirty = free, node_free, False

    def pool_free(self) -> dict[str, PoolFree]:
        self._refresh()
        return dict(self._free)

    def totals(self) -> dict[str, Amounts]:
        """Pool -> the calendar's totals (``free_total``)."""
        self._refresh()
        return {name: dict(f.free_total) for name, f in self._free.items()}

    def node_fit(
        self, pool: str, need: Mapping[str, float], want: Mapping[str, float]
    ) -> Amounts | None:
        """The free amounts of the node of ``pool`` that best holds a session needing at least
        ``need`` and able to use up to ``want``: among the nodes with ``need`` free, the one that
        gives the most of ``want`` (the sum of ``min(free, want) / want``); when no node has
        ``need`` free, the node that comes closest. None when the pool has no usable node."""
        self._refresh()
        index = next((i for i, p in enumerate(self.pools) if p.name == pool), None)
        if index is None:
            return None
        names, free = self.pools[index].names, self._node_free[index]
        if free.shape[1] == 0:
            return None
        row = {n: j for j, n in enumerate(names)}
        ok = np.ones(free.shape[1], dtype=bool)
        for name, amount in need.items():
            if amount > 0:
                ok &= (free[row[name]] + EPS >= amount) if name in row else False
        score = np.zeros(free.shape[1])
        for name, amount in want.items():
            if amount > 0 and name in row:
                score += np.minimum(free[row[name]], amount) / amount
        best = int(np.argmax(np.where(ok, score, -1.0) if ok.any() else score))
        return {n: round(float(free[j, best]), 6) for j, n in enumerate(names)}
