"""What a Kubernetes object asks for and has, in the broker's units (pure: JSON dicts in, numbers out).

:func:`parse_quantity` reads a ``resource.Quantity``; :func:`resource_amounts` a ``resources`` map
(cores, memory in GiB, extended resources such as ``nvidia.com/gpu``); :func:`effective_requests` a
pod's request as the scheduler computes it: the larger of the sum of its containers (plus sidecar init
containers) and its largest init container, plus ``spec.overhead``. :mod:`.kubecapacity` adds them up
per node and pool.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

Amounts = dict[str, float]
GIB = 1024**3

# -- quantities -----------------------------------------------------------------------------------

_BINARY = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_QUANTITY = re.compile(
    r"^([+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+))(?:([eE][+-]?[0-9]+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]))?$"
)


def parse_quantity(value: Any) -> float:
    """A Kubernetes ``resource.Quantity`` (``"500m"``, ``"16Gi"``, ``"1e3"``, ``4``) as a float in
    its base unit (cores, bytes, a count). ValueError for anything else."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str) and (match := _QUANTITY.match(value.strip())):
        digits, exponent, suffix = match.groups()
        number = float(digits)
        if exponent:
            number *= 10.0 ** int(exponent[1:])
        elif suffix in _BINARY:
            number *= 1024.0 ** _BINARY[suffix]
        else:
            number *= 10.0 ** _DECIMAL[suffix or ""]
    else:
        raise ValueError(f"{value!r} is not a Kubernetes quantity (e.g. '500m', '16Gi', '2')")
    if not math.isfinite(number):
        raise ValueError(f"{value!r} is not a finite quantity")
    return number


def is_extended(name: str) -> bool:
    """An extended resource (``nvidia.com/gpu``): a domain-prefixed name outside kubernetes.io."""
    domain = name.split("/", 1)[0] if "/" in name else ""
    return bool(domain) and not (domain == "kubernetes.io" or domain.endswith(".kubernetes.io"))


def resource_amounts(resources: Mapping[str, Any] | None) -> Amounts:
    """``{"cpu": "500m", "memory": "1Gi", "nvidia.com/gpu": "1"}`` -> ``{"cores": 0.5, "memory":
    1.0, "nvidia.com/gpu": 1.0}``; other native resources (pods, ephemeral-storage, hugepages) are
    left out."""
    out: Amounts = {}
    for name, value in (resources or {}).items():
        if name == "cpu":
            out["cores"] = parse_quantity(value)
        elif name == "memory":
            out["memory"] = parse_quantity(value) / GIB
        elif is_extended(name):
            out[name] = parse_quantity(value)
    return out


def add_to(total: Amounts, amounts: Mapping[str, float]) -> None:
    for name, value in amounts.items():
        total[name] = total.get(name, 0.0) + value


def _container_requests(container: Mapping[str, Any]) -> Amounts:
    """A container's requests; a resource with a limit and no request requests its limit (the API
    server defaults it so; done here too for objects that were not defaulted)."""
    resources = container.get("resources") or {}
    limits = resource_amounts(resources.get("limits"))
    return {**limits, **resource_amounts(resources.get("requests"))}


def effective_requests(spec: Mapping[str, Any]) -> Amounts:
    """What the scheduler reserves for a pod: per resource, the larger of (the containers' sum plus
    the sidecars') and (the largest init container plus the sidecars started before it), plus the
    pod's ``overhead``."""
    sidecars: Amounts = {}
    init_peak: Amounts = {}
    for init in spec.get("initContainers") or ():
        amounts = _container_requests(init)
        if init.get("restartPolicy") == "Always":  # a sidecar: runs beside the containers
            add_to(sidecars, amounts)
            candidate = dict(sidecars)
        else:
            candidate = dict(sidecars)
            add_to(candidate, amounts)
        for name, value in candidate.items():
            init_peak[name] = max(init_peak.get(name, 0.0), value)
    total = dict(sidecars)
    for container in spec.get("containers") or ():
        add_to(total, _container_requests(container))
    for name, value in init_peak.items():
        total[name] = max(total.get(name, 0.0), value)
    add_to(total, resource_amounts(spec.get("overhead")))
    return total
