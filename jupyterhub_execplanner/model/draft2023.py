"""The 2023 ExecutionPlanner draft: its ``request:``, ``response:`` and ``offer:`` documents.

A 2023 request is read into the same :class:`ExecutionRequest` as a v1.0 one (``dialect="2023"``);
message paths name the 2023 fields (``request.resources.compute[0].spec.mincores``).

Decisions where the draft is silent or this service cannot follow it: cores and memory may be
fractional in 2023, so a minimum is rounded up and a maximum down; only the first compute resource
and the first ``datetime`` entry are used (an INFO ``urn:not-supported`` note says so); ``replicas``
and ``authentication`` are ignored; storage resources and volumes are refused (ERROR
``urn:not-supported``); an offer shows ``status`` OFFERED, ACCEPTED, REJECTED or EXPIRED, and from
acceptance on, ACCEPTED with the session's real ``phase`` next to it (INITIAL shows as OFFERED;
CANCELLED and the rest as ACCEPTED).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Any
from urllib.parse import urljoin

from . import kinds as K
from . import messages as M
from .fields import (
    MAX_AMOUNT,
    Reader,
    frozen,
    is_url,
    read_duration,
    read_window,
    show,
)
from .lookup import section
from .messages import format_time
from .offer import OfferSetRecord, SessionRecord
from .parse import ParseResult, unreadable
from .phases import Phase, parse_phase
from .request import (
    AcceleratorRequest,
    ComputeSpec,
    ExecutableSpec,
    ExecutionRequest,
    IntRange,
    ScheduleSpec,
)
from .schedule import format_duration
from .timing import utc

EXECUTABLE_TYPE_BASE = "https://www.purl.org/ivoa.net/executable-types/"
GENERIC_COMPUTE = "https://www.purl.org/ivoa.net/resource-types/generic-compute"
EXECUTABLE_TYPES = {
    EXECUTABLE_TYPE_BASE + "jupyter-notebook": K.JUPYTER_NOTEBOOK,
    EXECUTABLE_TYPE_BASE + "docker-container": K.DOCKER_CONTAINER,
    EXECUTABLE_TYPE_BASE + "oci-container": K.DOCKER_CONTAINER,
    EXECUTABLE_TYPE_BASE + "singularity-container": K.SINGULARITY_CONTAINER,
}
TYPE_FOR_KIND = {
    K.JUPYTER_NOTEBOOK: EXECUTABLE_TYPE_BASE + "jupyter-notebook",
    K.DOCKER_CONTAINER: EXECUTABLE_TYPE_BASE + "docker-container",
    K.SINGULARITY_CONTAINER: EXECUTABLE_TYPE_BASE + "singularity-container",
}
OFFER_STATUSES = (Phase.OFFERED, Phase.ACCEPTED, Phase.REJECTED, Phase.EXPIRED)
_P = "request"


def _normal_uri(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    return re.sub(r"^https?://(?:www\.)?purl\.org/", "https://www.purl.org/", value.strip())


def _amount(r: Reader, value: Any, path: str, unit: str, *, up: bool) -> int | None:
    """A 2023 amount (a number, maybe fractional) as a whole number: minima up, maxima down."""
    if value is None:
        return None
    number = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if isinstance(value, int) or math.isfinite(value):
            number = math.ceil(value) if up else math.floor(value)
    if number is None or not 1 <= number <= MAX_AMOUNT:
        r.error(
            M.INVALID_VALUE,
            "${path} is ${value}, but it must be a number of ${unit} from 1 to ${max}",
            path,
            value=show(value),
            unit=unit,
            max=MAX_AMOUNT,
        )
        return None
    return number


def _pair(r: Reader, spec: Mapping[str, Any], path: str, what: str, unit: str) -> IntRange:
    low = _amount(r, spec.get(f"min{what}"), f"{path}.min{what}", unit, up=True)
    high = _amount(r, spec.get(f"max{what}"), f"{path}.max{what}", unit, up=False)
    low = 1 if low is None else low
    high = low if high is None else high
    if low > high:
        r.error(
            M.INVALID_VALUE,
            "${path} has min${what} ${min} above max${what} ${max} (after rounding to whole "
            "${unit}); raise max${what} to at least ${min}",
            path,
            what=what,
            min=low,
            max=high,
            unit=unit,
        )
        return IntRange(1, 1)
    return IntRange(low, high)


def _executable(r: Reader, value: Any) -> ExecutableSpec | None:
    path = f"{_P}.executable"
    example = f"{{type: {EXECUTABLE_TYPE_BASE}jupyter-notebook, spec: {{notebook: <URL>}}}}"
    exe = r.mapping(value, path, example)
    if exe is None and value is None:
        r.error(
            M.EXECUTABLE_REQUIRED,
            "A request needs an executable at ${path}; add one, e.g. ${example}",
            path,
            example=example,
        )
    if exe is None:
        return None
    given = _normal_uri(exe.get("type"))
    kind = EXECUTABLE_TYPES.get(given) if isinstance(given, str) else None
    name = r.text(exe.get("name"), f"{path}.name", numbers=True)
    spec = r.mapping(exe.get("spec"), f"{path}.spec", "{notebook: <URL>}") or {}
    if kind is None:
        r.error(
            M.UNKNOWN_KIND,
            "${path} is ${type}, an executable type this planner does not understand; use one of: "
            "${types}",
            f"{path}.type",
            type=show(exe.get("type")),
            types=", ".join(EXECUTABLE_TYPES),
        )
        return None
    if kind == K.JUPYTER_NOTEBOOK:
        location = r.url(spec.get("notebook"), f"{path}.spec.notebook")
        requirements = r.text(spec.get("requirements"), f"{path}.spec.requirements")
        if requirements:
            requirements = _resolve(r, requirements, location, f"{path}.spec.requirements")
        return ExecutableSpec(kind, name, location=location, requirements=requirements or None)
    if kind == K.SINGULARITY_CONTAINER:
        location = r.text(spec.get("location"), f"{path}.spec.location")
        if not location:
            r.error(
                M.MISSING_VALUE,
                "${path} is missing: give the URL of the Singularity image",
                f"{path}.spec.location",
            )
        return ExecutableSpec(kind, name, location=location)
    image = r.text(spec.get("image"), f"{path}.spec.image")
    repo = r.text(spec.get("repo"), f"{path}.spec.repo")
    tag = r.text(spec.get("tag", spec.get("version")), f"{path}.spec.tag")
    digest = r.text(spec.get("digest"), f"{path}.spec.digest")
    if not image:
        r.error(
            M.MISSING_VALUE,
            "${path} is missing: name the container image, e.g. {repo: ghcr.io, image: org/name, "
            "tag: '1.0'}",
            f"{path}.spec.image",
        )
        return None
    full = f"{repo.strip('/')}/{image}" if repo else image
    return ExecutableSpec(kind, name, image=f"{full}:{tag}" if tag else full, digest=digest)


def _resolve(r: Reader, text: str, location: str | None, path: str) -> str | None:
    resolved = urljoin(location, text.strip()) if location else text.strip()
    if is_url(resolved):
        return resolved
    r.error(
        M.INVALID_VALUE,
        "${path} is ${value}, which is not an http(s) URL; give an absolute URL, or one relative "
        "to spec.notebook",
        path,
        value=show(text),
    )
    return None


def _compute(r: Reader, value: Any) -> ComputeSpec:
    path = f"{_P}.resources.compute"
    example = f"{{name: compute-001, type: {GENERIC_COMPUTE}, spec: {{mincores: 2}}}}"
    items = r.items(value, path, example)
    if not items:
        return ComputeSpec()
    if len(items) > 1:
        r.note(
            M.NOT_SUPPORTED,
            "${path} lists ${count} compute resources; this planner offers one, sized by the first",
            path,
            count=len(items),
        )
    item_path, item = items[0]
    kind = _normal_uri(item.get("type"))
    if kind is not None and kind != GENERIC_COMPUTE:
        r.error(
            M.UNKNOWN_KIND,
            "${path} is ${type}, a resource type this planner does not understand; use ${generic}",
            f"{item_path}.type",
            type=show(kind),
            generic=GENERIC_COMPUTE,
        )
    name = r.text(item.get("name"), f"{item_path}.name", numbers=True)
    spec_path = f"{item_path}.spec"
    spec = r.mapping(item.get("spec"), spec_path, "{mincores: 2, minmemory: 4}") or {}
    cores = _pair(r, spec, spec_path, "cores", "cores")
    memory = _pair(r, spec, spec_path, "memory", "GiB")
    if spec.get("volumes"):
        r.error(
            M.NOT_SUPPORTED,
            "${path}: this planner does not mount 2023 volumes; "
            "remove them, or send a v1.0 request with compute.volumes",
            f"{spec_path}.volumes",
        )
    accelerators = []
    extra_example = "{name: nvidia-gpu, type: https://tinyurl.com/nvidia-ad104}"
    for extra_path, extra in r.items(spec.get("extras"), f"{spec_path}.extras", extra_example):
        extra_name = r.text(extra.get("name"), f"{extra_path}.name", numbers=True)
        extra_type = r.text(extra.get("type"), f"{extra_path}.type")
        extra_spec = r.mapping(extra.get("spec"), f"{extra_path}.spec", "{minmemory: 20}") or {}
        if not (extra_type or extra_name):
            r.error(
                M.MISSING_VALUE,
                "${path} needs a type (or a name) saying which device; write e.g. ${example}",
                extra_path,
                example=extra_example,
            )
            continue
        resource = extra_type or extra_name or ""
        accelerators.append(
            AcceleratorRequest(extra_name, extra_type, resource, IntRange(1, 1), frozen(extra_spec))
        )
    return ComputeSpec(name, cores, memory, tuple(accelerators))


def _schedule(r: Reader, value: Any, now: Any) -> ScheduleSpec:
    example = "{start: 2026-12-01T11:30:00Z/PT30M, minduration: PT1H}"
    items = r.items(value, f"{_P}.datetime", example)
    if not items:
        return ScheduleSpec()
    if len(items) > 1:
        r.note(
            M.NOT_SUPPORTED,
            "${path} lists ${count} time ranges; this planner uses the first",
            f"{_P}.datetime",
            count=len(items),
        )
    path, item = items[0]
    earliest, latest = read_window(r, item.get("start"), f"{path}.start", now)
    low = read_duration(r, item.get("minduration"), f"{path}.minduration")
    high = read_duration(r, item.get("maxduration"), f"{path}.maxduration")
    if low is not None and high is not None and low > high:
        r.error(
            M.INVALID_VALUE,
            "${path} has minduration ${min} above maxduration ${max}; swap them",
            path,
            min=format_duration(low),
            max=format_duration(high),
        )
    return ScheduleSpec(earliest, latest, low)


def _parse(doc: Any, now: Any) -> ParseResult:
    r = Reader()
    outer = r.mapping(doc, "$", "{request: {executable: …, resources: …}}")
    if doc is None:
        r.error(M.SYNTAX, "The body at ${path} is empty; send {request: {executable: …}}", "$")
    if outer is None or not isinstance(outer.get("request"), Mapping):
        if outer is not None:
            r.error(
                M.SYNTAX,
                "${path} is missing: a 2023 ExecutionPlanner request is wrapped in request:, e.g. "
                "{request: {executable: {type: …, spec: …}}}",
                _P,
            )
        return ParseResult(None, tuple(r.messages))
    request = outer["request"]
    executable = _executable(r, request.get("executable"))
    resources = r.mapping(request.get("resources"), f"{_P}.resources", "{compute: […]}") or {}
    compute = _compute(r, resources.get("compute"))
    if resources.get("storage"):
        r.error(
            M.NOT_SUPPORTED,
            "${path}: this planner does not provide 2023 storage resources; remove them, or send a "
            "v1.0 request with data resources",
            f"{_P}.resources.storage",
        )
    schedule = _schedule(r, request.get("datetime"), now)
    if r.failed or executable is None:
        return ParseResult(None, tuple(r.messages))
    parsed = ExecutionRequest(executable, compute, schedule=schedule, dialect="2023")
    return ParseResult(parsed, tuple(r.messages))


def parse_request_2023(doc: Any, *, now: Any) -> ParseResult:
    """Read a 2023 ``request:`` document. Never raises."""
    try:
        return _parse(doc, utc(now))
    except Exception as exc:  # the contract is to answer, never to raise
        return unreadable(exc)


def split_image(image: str) -> dict[str, str]:
    """``ghcr.io/org/name:tag`` as 2023 ``{repo, image, tag}`` (repo only for a registry host)."""
    name, _, digest = image.partition("@")
    head, _, last = name.rpartition("/")
    tag = ""
    if ":" in last:
        last, _, tag = last.partition(":")
    path = f"{head}/{last}" if head else last
    first, _, rest = path.partition("/")
    spec: dict[str, str] = {}
    if rest and ("." in first or ":" in first or first == "localhost"):
        spec["repo"], path = first, rest
    spec["image"] = path
    if tag:
        spec["tag"] = tag
    if digest:
        spec["digest"] = digest
    return spec


def request_body_2023(session: SessionRecord) -> dict[str, Any]:
    """The 2023 request body of an offer, with the offered values."""
    req, offer = session.request, session.offer
    exe = req.executable
    spec: dict[str, Any] = {}
    if exe.kind == K.JUPYTER_NOTEBOOK:
        spec = {"notebook": exe.location, "requirements": exe.requirements}
    elif exe.kind == K.SINGULARITY_CONTAINER:
        spec = {"location": exe.location}
    elif exe.image:
        spec = {**split_image(exe.image), **({"digest": exe.digest} if exe.digest else {})}
    executable = {"name": exe.name, "type": TYPE_FOR_KIND.get(exe.kind), "spec": _drop_none(spec)}
    extras = [
        _drop_none({"name": a.name, "type": a.type or a.resource, "spec": dict(a.spec) or None})
        for a in req.compute.accelerators
    ]
    compute_spec: dict[str, Any] = {
        "mincores": offer.cores,
        "maxcores": offer.cores,
        "minmemory": offer.memory,
        "maxmemory": offer.memory,
    }
    if extras:
        compute_spec["extras"] = extras
    compute = {
        "name": req.compute.name or "compute-001",
        "type": GENERIC_COMPUTE,
        "spec": compute_spec,
    }
    duration = format_duration(offer.duration)
    return {
        "executable": _drop_none(executable),
        "resources": {"compute": [compute]},
        "datetime": [
            {
                "start": f"{format_time(offer.start)}/{format_duration(timedelta(0))}",
                "minduration": duration,
                "maxduration": duration,
            }
        ],
    }


def _drop_none(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if v is not None}


def _status_2023(phase: Phase) -> tuple[str, str | None]:
    """The 2023 ``status`` of a phase, and the phase itself when the status does not say it."""
    if phase in OFFER_STATUSES:
        return phase.value, None
    if phase is Phase.INITIAL:
        return Phase.OFFERED.value, phase.value
    return Phase.ACCEPTED.value, phase.value


def render_offer_2023(session: SessionRecord) -> dict[str, Any]:
    """A session as a 2023 ``offer:`` document."""
    status, shown = _status_2023(session.phase)
    offer: dict[str, Any] = {"ident": session.uuid, "status": status}
    if shown is not None:
        offer["phase"] = shown
    offer["expires"] = format_time(session.expires)
    offer["request"] = request_body_2023(session)
    return {"offer": offer}


def offer_2023_from_doc(doc: Mapping[str, Any]) -> dict[str, Any]:
    """A v1.0 session document (a peer broker's, relayed by federation) as a 2023 ``offer:``
    document: what it offers (executable, cores, memory, start and duration), as far as the
    document says it."""
    phase = parse_phase(doc.get("phase")) or Phase.OFFERED
    status, shown = _status_2023(phase)
    meta = section(doc, "meta")
    exe = section(doc, "executable")
    compute = section(doc, "compute")
    schedule = section(doc, "schedule")
    available = section(schedule, "available")
    kind = K.parse_kind(str(exe.get("kind", "")))
    cores = section(compute, "cores")
    memory = section(compute, "memory")
    spec: dict[str, Any] = {"mincores": cores.get("min"), "maxcores": cores.get("max"),
                            "minmemory": memory.get("min"), "maxmemory": memory.get("max")}
    duration = available.get("duration")
    start = str(available.get("start", "")).split("/")[0]
    executable = {
        "name": section(exe, "meta").get("name"),
        "type": TYPE_FOR_KIND.get(kind[1]) if kind is not None else None,
        "spec": _drop_none({"notebook": exe.get("location"), "requirements": exe.get("requirements"),
                            "image": exe.get("image")}),
    }
    offer: dict[str, Any] = {"ident": str(meta.get("uuid", "")), "status": status}
    if shown is not None:
        offer["phase"] = shown
    offer["expires"] = doc.get("expires")
    offer["request"] = {
        "executable": _drop_none(executable),
        "resources": {"compute": [{"name": "compute-001", "type": GENERIC_COMPUTE,
                                   "spec": _drop_none(spec)}]},
        "datetime": [_drop_none({"start": f"{start}/{format_duration(timedelta(0))}" if start else None,
                                 "minduration": duration, "maxduration": duration})],
    }
    return {"offer": _drop_none(offer)}


def render_response_2023(offerset: OfferSetRecord, sessions: list[SessionRecord],
                         relayed: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """An offer set as a 2023 ``response:`` document (YES with offers, or NO with reasons); the
    offers in the set's order, ours and the ``relayed`` peers' (uuid -> their v1.0 document)."""
    if offerset.result == "YES":
        ours = {s.uuid: s for s in sessions}
        others = relayed or {}
        offers = [
            render_offer_2023(ours[u])["offer"] if u in ours else offer_2023_from_doc(others[u])["offer"]
            for u in offerset.sessions if u in ours or u in others
        ]
        return {"response": {"result": "YES", "offers": offers}}
    reasons = [{"path": m.values.get("path", _P), "text": m.message} for m in offerset.messages]
    if not reasons:
        reasons = [{"path": _P, "text": "No offer can be made for this request."}]
    return {"response": {"result": "NO", "reasons": reasons}}


def parse_offer_update_2023(doc: Any) -> tuple[Phase, str | None]:
    """``(ACCEPTED or REJECTED, offer.ident or None)`` from ``{offer: {ident, status}}``.

    Raises ValueError with a sentence for the client. The caller checks ``ident`` against the URL.
    """
    example = "{offer: {ident: <offer id>, status: ACCEPTED}}"
    if not isinstance(doc, Mapping):
        raise ValueError(f"the body must be a mapping like {example}, not {show(doc, 40)}")
    offer = doc.get("offer")
    if offer is None and "status" in doc:
        offer = doc
    if not isinstance(offer, Mapping):
        raise ValueError(f"the body must hold an offer: mapping, like {example}")
    phase = parse_phase(offer.get("status"))
    if phase not in (Phase.ACCEPTED, Phase.REJECTED):
        raise ValueError(
            f"offer.status is {show(offer.get('status'), 40)}; it must be ACCEPTED or REJECTED"
        )
    ident = offer.get("ident")
    if ident is not None and not isinstance(ident, str):
        raise ValueError(f"offer.ident must be the offer's id as a string, not {show(ident, 40)}")
    return phase, ident
