"""v1.0 documents: sessions, offer sets, and the canonical form of a request.

``base_url`` ends with ``/``; a session is at ``{base_url}sessions/{uuid}``, an offer set at
``{base_url}offersets/{uuid}``. Keys whose value is None are left out. The components of a session
(executable, compute, storage, data, volumes) get stable uuids derived from the session's uuid, and
no ``url`` (there is no endpoint for them). A volume's ``resource`` names the uuid of the data or
storage resource it mounts, as the reference broker writes it.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit

from . import kinds as K
from . import messages as M
from .fields import plain
from .messages import Message, format_time
from .offer import Figure, OfferPlan, OfferSetRecord, SessionRecord
from .parse import parse_request
from .phases import Phase, client_options
from .request import (
    AcceleratorRequest,
    ComputeSpec,
    DataSpec,
    ExecutableSpec,
    ExecutionRequest,
    IntRange,
    LimitItem,
    ScheduleSpec,
    StorageSpec,
    VolumeMount,
)
from .schedule import format_duration, format_instant, format_interval

LIFECYCLE_PHASES = frozenset(
    {
        "WAITING",
        "PREPARING",
        "AVAILABLE",
        "RUNNING",
        "RELEASING",
        "COMPLETED",
        "FAILED",
        "CANCELLED",
    }
)
_NOT_STARTED = frozenset({Phase.INITIAL, Phase.OFFERED, Phase.ACCEPTED, Phase.WAITING})
_LONG_AGO = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _drop_none(doc: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if v is not None}


def _range(value: IntRange | None) -> dict[str, int] | None:
    return None if value is None else {"min": value.min, "max": value.max}


def _meta(name: str | None = None, description: str | None = None) -> dict[str, Any] | None:
    return _drop_none({"name": name, "description": description}) or None


# ---- the parts a request and a session share -------------------------------------------------


def _executable_fields(exe: ExecutableSpec) -> dict[str, Any]:
    """The kind-specific fields of an executable, then the echoed ones."""
    extra = plain(exe.extra)
    fields: dict[str, Any] = {}
    if exe.kind == K.DOCKER_CONTAINER:
        rest = extra.pop("image", None)
        rest = dict(rest) if isinstance(rest, dict) else {}
        more = rest.pop("locations", None)
        more = more if isinstance(more, list) else []
        locations = ([exe.image] if exe.image else []) + more
        image = _drop_none({"locations": locations or None, **rest, "digest": exe.digest})
        if image:
            fields["image"] = image
    else:
        fields["location"] = exe.location
        if exe.kind == K.JUPYTER_NOTEBOOK:
            fields["requirements"] = exe.requirements
    return _drop_none({**fields, **{k: v for k, v in extra.items() if k not in fields}})


def _accelerator(a: AcceleratorRequest, count: IntRange | None = None) -> dict[str, Any]:
    return _drop_none(
        {
            "name": a.name,
            "type": a.type,
            "resource": a.resource,
            "count": _range(count or a.count),
            "spec": plain(a.spec) or None,
        }
    )


def _limit(group: str, item: LimitItem) -> dict[str, Any]:
    return _drop_none(
        {
            "kind": K.kind_uri(group, item.kind),
            "type": item.type,
            "description": item.description,
            "min": item.min,
            "max": item.max,
        }
    )


def _figure(group: str, f: Figure) -> dict[str, Any]:
    """A quoted cost or metric: ``SimpleMinMaxFloatCost``/``...Metric``, with ``unit`` (our
    additive extension: the standard leaves units to the ``type`` URN)."""
    kind = K.SIMPLE_COST if group == "costs" else K.SIMPLE_METRIC
    return _drop_none({"kind": K.kind_uri(group, kind), "type": f.type, "description": f.description,
                       "min": f.min, "max": f.max, "unit": f.unit})


def _storage_fields(s: StorageSpec) -> dict[str, Any]:
    return _drop_none({"size": _range(s.size), **plain(s.extra)})


def _data_fields(d: DataSpec) -> dict[str, Any]:
    location = d.location if d.kind == K.SIMPLE_DATA else None
    return _drop_none({"location": location, **plain(d.extra)})


def _start_window(schedule: ScheduleSpec) -> str | None:
    earliest, latest = schedule.start_earliest, schedule.start_latest
    if earliest is None:
        return None
    if latest is None or latest == earliest:
        return format_instant(earliest)
    return f"{format_instant(earliest)}/{format_instant(latest)}"


# ---- the canonical request --------------------------------------------------------------------


def request_to_doc(req: ExecutionRequest) -> dict[str, Any]:
    """The request as a canonical v1.0 ExecutionRequest document (parse_request reads it back)."""
    exe = req.executable
    compute: ComputeSpec = req.compute
    compute_doc = _drop_none(
        {
            "kind": K.kind_uri("compute", K.SIMPLE_COMPUTE),
            "meta": _meta(compute.name, compute.description),
            "cores": _range(compute.cores),
            "memory": _range(compute.memory),
            "accelerators": [_accelerator(a) for a in compute.accelerators] or None,
            "volumes": [_volume(v) for v in compute.volumes] or None,
        }
    )
    schedule = _drop_none(
        {
            "start": _start_window(req.schedule),
            "duration": None
            if req.schedule.duration is None
            else format_duration(req.schedule.duration),
        }
    )
    doc = {
        "name": req.name,
        "executable": {
            "kind": K.kind_uri("executable", exe.kind),
            **_drop_none({"meta": _meta(exe.name, exe.description)}),
            **_executable_fields(exe),
        },
        "compute": compute_doc,
        "storage": [_component("storage", s.kind, s.name, _storage_fields(s)) for s in req.storage],
        "data": [_component("data", d.kind, d.name, _data_fields(d)) for d in req.data],
        "schedule": {"requested": schedule} if schedule else None,
        "costs": [_limit("costs", c) for c in req.costs],
        "metrics": [_limit("metrics", m) for m in req.metrics],
    }
    return {k: v for k, v in doc.items() if v not in (None, [])}


def _component(group: str, kind: str, name: str | None, fields: dict[str, Any]) -> dict[str, Any]:
    return _drop_none({"kind": K.kind_uri(group, kind), "meta": _meta(name), **fields})


def _volume(v: VolumeMount, resource: str | None = None) -> dict[str, Any]:
    return {
        "kind": K.kind_uri("volume", K.SIMPLE_VOLUME),
        "path": v.path,
        "mode": v.mode,
        "resource": resource or v.resource,
    }


def request_from_doc(doc: Any) -> ExecutionRequest:
    """Load a persisted request document; ValueError if it does not parse cleanly."""
    result = parse_request(doc, now=_LONG_AGO)
    if not result.ok or result.request is None:
        problems = "; ".join(m.message for m in result.messages if m.is_error)
        raise ValueError(f"not a valid ExecutionRequest: {problems or 'no request'}")
    return result.request


# ---- sessions and offer sets --------------------------------------------------------------------


def component_phase(phase: Phase) -> str:
    """A component's LifecyclePhase for a session phase."""
    if phase in _NOT_STARTED:
        return "INITIALIZING"
    if phase.value in LIFECYCLE_PHASES:
        return phase.value
    return "CANCELLED"  # REJECTED, EXPIRED: the components will never be prepared


def _namespace(session_uuid: str) -> uuid.UUID:
    try:
        return uuid.UUID(session_uuid)
    except ValueError:
        return uuid.uuid5(uuid.NAMESPACE_URL, session_uuid)


def _schedule(offer: OfferPlan) -> dict[str, Any]:
    return {
        "preparing": {
            "start": format_time(offer.prepare_start),
            "duration": format_duration(offer.preparing),
        },
        "available": {
            "start": format_interval(offer.start, timedelta(0)),
            "duration": format_duration(offer.duration),
        },
        "releasing": {
            "start": format_time(offer.end),
            "duration": format_duration(offer.releasing),
        },
    }


def _offered_accelerators(req: ExecutionRequest, offer: OfferPlan) -> list[dict[str, Any]]:
    asked = list(req.compute.accelerators)
    offered = list(dict(offer.accelerators).items())
    found = []
    for index, (resource, count) in enumerate(offered):
        match = next((a for a in asked if resource in (a.resource, a.type, a.name)), None)
        if match is None and len(asked) == len(offered):
            match = asked[index]
        base = match or AcceleratorRequest(None, None, resource, IntRange(count, count))
        found.append({**_accelerator(base, IntRange(count, count)), "resource": resource})
    return found


def describe(offer: OfferPlan) -> str:
    """``2 cores, 4 GiB on profile 'Small server' (small)``."""
    parts = [f"{offer.cores} core{'s' if offer.cores != 1 else ''}", f"{offer.memory} GiB"]
    parts += [f"{n} {r}" for r, n in dict(offer.accelerators).items()]
    return f"{', '.join(parts)} on profile '{offer.profile_name}' ({offer.profile})"


def _messages(items: list[Message]) -> list[dict[str, Any]]:
    """Each message once, in order (in linear time: a long list must not hold the service)."""
    seen: set[tuple[Any, ...]] = set()
    unique: list[dict[str, Any]] = []
    for item in items:
        key = (item.kind, item.level, item.template, tuple(sorted(item.values.items())), item.time)
        if key not in seen:
            seen.add(key)
            unique.append(item.to_dict())
    return unique


def _options(phase: Phase) -> list[dict[str, Any]] | None:
    values = [p.value for p in client_options(phase)]
    if not values:
        return None
    return [{"kind": "uri:enum-value-option", "path": "phase", "values": values}]


def _connector(c: dict[str, Any], base_url: str) -> dict[str, Any]:
    """A connector whose location is a path on the hub (``/user/...``) gets the scheme and host of
    ``base_url``, and the protocol that goes with them."""
    location = c.get("location")
    if not isinstance(location, str) or not location.startswith("/") or location.startswith("//"):
        return c
    parts = urlsplit(base_url)
    if not parts.scheme or not parts.netloc:
        return c
    return {**c, "protocol": parts.scheme.upper(), "location": f"{parts.scheme}://{parts.netloc}{location}"}


def render_session(s: SessionRecord, base_url: str) -> dict[str, Any]:
    """A session (an offer is a session in phase OFFERED) as a v1.0 document."""
    req, offer = s.request, s.offer
    namespace = _namespace(s.uuid)
    phase = component_phase(s.phase)

    def part(name: str) -> str:
        return str(uuid.uuid5(namespace, name))

    def head(
        group: str, kind: str, key: str, name: str | None, desc: str | None = None
    ) -> dict[str, Any]:
        meta = _drop_none({"uuid": part(key), "name": name, "description": desc})
        return {"kind": K.kind_uri(group, kind), "meta": meta, "phase": phase}

    exe = req.executable
    executable = {**head("executable", exe.kind, "executable", exe.name, exe.description)}
    executable.update(_executable_fields(exe))
    names: dict[str, str] = {}
    storage = []
    for i, st in enumerate(req.storage):
        storage.append({**head("storage", st.kind, f"storage/{i}", st.name), **_storage_fields(st)})
        if st.name is not None:
            names.setdefault(st.name, part(f"storage/{i}"))
    data = []
    for i, d in enumerate(req.data):
        data.append({**head("data", d.kind, f"data/{i}", d.name), **_data_fields(d)})
        if d.name is not None:
            names.setdefault(d.name, part(f"data/{i}"))
    volumes = [
        {
            "kind": K.kind_uri("volume", K.SIMPLE_VOLUME),
            "meta": {"uuid": part(f"volume/{i}")},
            **{k: v for k, v in _volume(vol, names.get(vol.resource)).items() if k != "kind"},
        }
        for i, vol in enumerate(req.compute.volumes)
    ]
    compute = {
        **head("compute", K.SIMPLE_COMPUTE, "compute", req.compute.name, req.compute.description),
        "cores": {"min": offer.cores, "max": offer.cores},
        "memory": {"min": offer.memory, "max": offer.memory},
        "accelerators": _offered_accelerators(req, offer),
        "volumes": volumes,
    }
    meta = _drop_none(
        {
            "uuid": s.uuid,
            "name": s.name,
            "url": f"{base_url}sessions/{s.uuid}",
            "created": format_time(s.created),
            "modified": format_time(s.modified),
            "description": describe(offer),
            "messages": _messages([*s.messages, *offer.notes]),
            "options": _options(s.phase),
        }
    )
    return {
        "kind": K.SESSION_KIND,
        "meta": meta,
        "phase": s.phase.value,
        "expires": format_time(s.expires),
        "schedule": _schedule(offer),
        "executable": executable,
        "compute": compute,
        "storage": storage,
        "data": data,
        "connectors": [_connector(plain(c), base_url) for c in s.connectors],
        "profile": {"slug": offer.profile, "display_name": offer.profile_name},
        "costs": [_figure("costs", f) for f in offer.costs],
        "metrics": [_figure("metrics", f) for f in offer.metrics],
    }


def render_offerset(
    o: OfferSetRecord, sessions: list[SessionRecord], base_url: str
) -> dict[str, Any]:
    """An OfferSetResponse; the offers follow the order of ``o.sessions``."""
    order = {u: i for i, u in enumerate(o.sessions)}
    ordered = sorted(sessions, key=lambda s: order.get(s.uuid, len(order)))
    meta = _drop_none(
        {
            "uuid": o.uuid,
            "name": o.name,
            "url": f"{base_url}offersets/{o.uuid}",
            "created": format_time(o.created),
            "messages": _messages(list(o.messages)),
        }
    )
    return {
        "kind": K.OFFERSET_KIND,
        "meta": meta,
        "result": o.result,
        "offers": [render_session(s, base_url) for s in ordered],
    }


def render_direct_failure(messages: list[Message], base_url: str) -> dict[str, Any]:
    """The session answering ``POST direct`` when there is no offer: phase FAILED, with messages."""
    ident = str(uuid.uuid4())
    now = format_time(M.utcnow())
    return {
        "kind": K.SESSION_KIND,
        "meta": {
            "uuid": ident,
            "url": f"{base_url}sessions/{ident}",
            "created": now,
            "modified": now,
            "messages": _messages(list(messages)),
        },
        "phase": Phase.FAILED.value,
        "expires": now,
    }
