"""Kubernetes objects as a real API server returns them (nodes, pods, containers), for the tests and
the cluster benchmark to load into :class:`k8sdouble.KubeDouble` or to assert against."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


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
