"""Read an Execution Broker v1.0 ExecutionRequest (also with the interim and 2025 kinds).

:func:`parse_request` never raises: whatever it is given, it returns a :class:`ParseResult` whose
messages say, for each problem, the path of the field (``values["path"]``, e.g.
``compute.cores.min``) and how to fix it. All problems are collected, not just the first. Unknown
top-level keys are ignored (forward compatibility); unknown fields inside the executable and the
resources are kept in ``extra`` so that offers can echo them.

Decisions where the standard is silent: ``compute``, ``storage`` and volume items without a ``kind``
are read as the one kind of their group that exists (simple-…); an executable or a data resource
must name its kind. Names given as numbers are read as strings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from urllib.parse import urljoin

from . import kinds as K
from . import messages as M
from .fields import (
    START_EXAMPLE,
    UNREADABLE_TEMPLATE,
    Reader,
    frozen,
    has_scheme,
    is_url,
    read_duration,
    read_window,
    show,
    type_name,
)
from .lookup import dig as _get
from .messages import Message
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
from .timing import utc

__all__ = ["UNREADABLE_TEMPLATE", "ParseResult", "parse_request", "unreadable"]

# Fields of a component that are the service's to set, never echoed from a request.
_NOT_ECHOED = frozenset({"kind", "meta", "phase", "schedule", "costs", "metrics"})


@dataclass(frozen=True)
class ParseResult:
    request: ExecutionRequest | None
    messages: tuple[Message, ...] = ()

    @property
    def ok(self) -> bool:
        return self.request is not None and not any(m.is_error for m in self.messages)


def _echo(item: Mapping[str, Any], *modelled: str) -> Mapping[str, Any]:
    return frozen({k: v for k, v in item.items() if k not in _NOT_ECHOED and k not in modelled})


def _executable(r: Reader, value: Any) -> tuple[ExecutableSpec | None, str]:
    """The executable and the form of its kind URI (for the dialect)."""
    path = "executable"
    example = f"{{kind: {K.kind_uri('executable', K.JUPYTER_NOTEBOOK)}, location: <notebook URL>}}"
    if value is None:
        r.error(
            M.EXECUTABLE_REQUIRED,
            "An ExecutionRequest needs an executable at ${path}; add one, e.g. ${example}",
            path,
            example=example,
        )
        return None, K.V1_0
    exe = r.mapping(value, path, example)
    if exe is None:
        return None, K.V1_0
    form = (K.parse_kind_form(exe.get("kind")) or (K.V1_0,))[0]
    kind = r.kind(exe.get("kind"), f"{path}.kind", "executable")
    name, description = r.meta(exe, path)
    if kind is None:
        return None, form
    spec = ExecutableSpec(kind=kind, name=name, description=description)
    if kind == K.JUPYTER_NOTEBOOK:
        location = r.url(exe.get("location"), f"{path}.location")
        requirements = _requirements(r, exe.get("requirements"), location, f"{path}.requirements")
        extra = _echo(exe, "location", "requirements")
        return replace(spec, location=location, requirements=requirements, extra=extra), form
    if kind == K.SINGULARITY_CONTAINER:
        location = r.text(exe.get("location"), f"{path}.location")
        if not (location or "").strip():
            r.error(
                M.MISSING_VALUE,
                "${path} is missing: a singularity-container needs the URL of its image, "
                "e.g. location: library://org/image:1.0",
                f"{path}.location",
            )
        extra = _echo(exe, "location")
        return replace(spec, location=location, extra=extra), form
    return _docker(r, exe, spec, path), form


def _requirements(r: Reader, value: Any, location: str | None, path: str) -> str | None:
    text = r.text(value, path)
    if text is None or not text.strip():
        return None
    resolved = urljoin(location, text.strip()) if location else text.strip()
    if not is_url(resolved):
        r.error(
            M.INVALID_VALUE,
            "${path} is ${value}, which is not an http(s) URL; give an absolute URL, "
            "or one relative to the notebook's location (which must then be given)",
            path,
            value=show(text),
        )
        return None
    return resolved


def _docker(r: Reader, exe: Mapping[str, Any], spec: ExecutableSpec, path: str) -> ExecutableSpec:
    example = "{locations: [ghcr.io/org/image:1.0], digest: sha256:…}"
    image_block = r.mapping(exe.get("image"), f"{path}.image", example)
    image = digest = None
    rest: dict[str, Any] = {}
    if exe.get("image") is None:
        r.error(
            M.MISSING_VALUE,
            "${path} is missing: a docker-container needs image.locations, e.g. image: ${example}",
            f"{path}.image",
            example=example,
        )
    elif image_block is not None:
        locations = image_block.get("locations")
        if (
            not isinstance(locations, list)
            or not locations
            or not all(isinstance(x, str) and x.strip() for x in locations)
        ):
            r.error(
                M.INVALID_VALUE,
                "${path} is ${value}; it must be a non-empty list of image names such as "
                "[ghcr.io/org/image:1.0]",
                f"{path}.image.locations",
                value=show(locations),
            )
        else:
            image = locations[0].strip()
            if len(locations) > 1:
                rest["locations"] = locations[1:]
        digest = r.text(image_block.get("digest"), f"{path}.image.digest")
        rest.update({k: v for k, v in image_block.items() if k not in ("locations", "digest")})
    privileged = exe.get("privileged")
    if privileged is True:
        r.error(
            M.NOT_SUPPORTED,
            "${path} is true, but this broker does not run privileged containers; remove it",
            f"{path}.privileged",
        )
    elif privileged not in (None, False):
        r.error(
            M.INVALID_VALUE,
            "${path} must be true or false, not ${value}; leave it out",
            f"{path}.privileged",
            value=show(privileged),
        )
    extra = {k: v for k, v in exe.items() if k not in _NOT_ECHOED and k != "image"}
    if rest:
        extra["image"] = rest
    return replace(spec, image=image, digest=digest, extra=frozen(extra))


def _compute(r: Reader, value: Any) -> tuple[ComputeSpec, list[tuple[str, str]]]:
    """The compute resource, and ``(path, resource name)`` for each volume, checked later."""
    path = "compute"
    compute = r.mapping(value, path, "{kind: …, cores: {min: 1, max: 2}, memory: {min: 2}}")
    if compute is None:
        return ComputeSpec(), []
    r.kind(compute.get("kind"), f"{path}.kind", "compute", default=K.SIMPLE_COMPUTE)
    name, description = r.meta(compute, path)
    cores = r.int_range(compute.get("cores"), f"{path}.cores", "whole cores")
    memory = r.int_range(compute.get("memory"), f"{path}.memory", "memory in whole GiB")
    accelerators = []
    example = "{resource: nvidia.com/gpu, count: {min: 1}}"
    for item_path, item in r.items(compute.get("accelerators"), f"{path}.accelerators", example):
        accel_name = r.text(item.get("name"), f"{item_path}.name", numbers=True)
        accel_type = r.text(item.get("type"), f"{item_path}.type")
        resource = r.text(item.get("resource"), f"{item_path}.resource")
        count = r.int_range(item.get("count"), f"{item_path}.count", "devices") or IntRange(1, 1)
        device = r.mapping(item.get("spec"), f"{item_path}.spec", "{minmemory: 20}") or {}
        target = resource or accel_type or accel_name
        if not target:
            r.error(
                M.MISSING_VALUE,
                "${path} needs a resource, type or name saying which device; write e.g. ${example}",
                item_path,
                example=example,
            )
            continue
        accelerators.append(AcceleratorRequest(accel_name, accel_type, target, count, frozen(device)))
    volumes, references = [], []
    example = "{path: /input, mode: READONLY, resource: input-data}"
    for item_path, item in r.items(compute.get("volumes"), f"{path}.volumes", example):
        r.kind(item.get("kind"), f"{item_path}.kind", "volume", default=K.SIMPLE_VOLUME)
        mount = r.text(item.get("path"), f"{item_path}.path")
        if mount is not None and not mount.startswith("/"):
            r.error(
                M.INVALID_VALUE,
                "${path} is ${value}; a mount path must be absolute, e.g. /input",
                f"{item_path}.path",
                value=show(mount),
            )
        mode_value = r.text(item.get("mode"), f"{item_path}.mode")
        mode = "READONLY" if mode_value is None else mode_value.strip().upper()
        if mode not in ("READONLY", "READWRITE"):
            r.error(
                M.INVALID_VALUE,
                "${path} is ${value}; write READONLY or READWRITE",
                f"{item_path}.mode",
                value=show(mode_value),
            )
        resource = r.text(item.get("resource"), f"{item_path}.resource", numbers=True)
        if mount is None or resource is None:
            r.error(
                M.MISSING_VALUE,
                "${path} needs a path and the name of a data or storage resource; write e.g. "
                "${example}",
                item_path,
                example=example,
            )
            continue
        volumes.append(VolumeMount(mount, mode, resource))
        references.append((f"{item_path}.resource", resource))
    paths = [v.path for v in volumes]
    if len(set(paths)) != len(paths):
        r.error(
            M.DUPLICATE,
            "${path} mounts more than one volume at the same path; give each its own path",
            f"{path}.volumes",
        )
    spec = ComputeSpec(
        name=name,
        cores=cores or IntRange(1, 1),
        memory=memory or IntRange(1, 1),
        accelerators=tuple(accelerators),
        volumes=tuple(volumes),
        description=description,
    )
    return spec, references


def _storage(r: Reader, value: Any, named: list[tuple[str, str | None]]) -> list[StorageSpec]:
    """The storage resources; ``(path, name)`` of each goes into ``named``, readable or not."""
    found = []
    for path, item in r.items(
        value, "storage", "{kind: …, meta: {name: scratch}, size: {min: 10}}"
    ):
        kind = r.kind(item.get("kind"), f"{path}.kind", "storage", default=K.SIMPLE_STORAGE)
        name, _ = r.meta(item, path)
        named.append((path, name))
        size = r.int_range(item.get("size"), f"{path}.size", "size in whole GiB")
        if kind is not None:
            found.append(StorageSpec(kind, name, size, _echo(item, "size")))
    return found


def _first_url(*candidates: Any) -> str | None:
    return next((c.strip() for c in candidates if isinstance(c, str) and c.strip()), None)



def data_location(kind: str, item: Mapping[str, Any]) -> str | None:
    """The obvious URL of a non-simple data resource, if it has one."""
    if kind == K.S3_DATA:
        endpoint, bucket, name = (item.get(k) for k in ("endpoint", "bucket", "object"))
        if not (isinstance(endpoint, str) and endpoint.strip("/")):
            return None
        if not (isinstance(bucket, str) and bucket.strip("/")):
            return None
        tail = [name.strip("/")] if isinstance(name, str) and name.strip("/") else []
        return "/".join([endpoint.rstrip("/"), bucket.strip("/"), *tail])
    ivoa = (
        _get(item, "ivoa", "obscore", "access_url"),
        _get(item, "ivoa", "datalink", "access_url"),
    )
    if kind == K.IVOA_DATA:
        return _first_url(*ivoa)
    if kind == K.SKAO_DATA:
        return _first_url(_get(item, "skao", "replicas", 0, "dataurl"), *ivoa)
    return None


def _data(r: Reader, value: Any, named: list[tuple[str, str | None]]) -> list[DataSpec]:
    """The data resources; ``(path, name)`` of each goes into ``named``, readable or not."""
    example = "{kind: …/simple-data-resource.yaml, meta: {name: input}, location: <URL>}"
    found = []
    for path, item in r.items(value, "data", example):
        kind = r.kind(item.get("kind"), f"{path}.kind", "data")
        name, _ = r.meta(item, path)
        named.append((path, name))
        if kind is None:
            continue
        if kind == K.SIMPLE_DATA:
            given = item.get("location")
            location = r.text(given, f"{path}.location")
            if given is None or (isinstance(given, str) and not has_scheme(given.strip())):
                r.error(
                    M.MISSING_VALUE if given is None else M.INVALID_VALUE,
                    "${path} must be the URL of the data, e.g. https://example.org/data/image.fits",
                    f"{path}.location",
                )
            found.append(DataSpec(kind, name, location, _echo(item, "location")))
        else:
            found.append(DataSpec(kind, name, data_location(kind, item), _echo(item)))
    return found


def check_names(
    r: Reader, named: list[tuple[str, str | None]], references: list[tuple[str, str]]
) -> None:
    """Resource names must be unique; volumes must name a data or storage resource."""
    seen: set[str] = set()
    for path, name in named:
        if name is None:
            continue
        if name in seen:
            r.error(
                M.DUPLICATE,
                "${path} is ${name}, but another data or storage resource has that name; "
                "give each a name of its own",
                f"{path}.meta.name",
                name=name,
            )
        seen.add(name)
    for path, resource in references:
        if resource not in seen:
            r.error(
                M.NOT_FOUND,
                "${path} is ${resource}, but no data or storage resource in the request has that "
                "name; add one with meta.name ${resource}, or correct the name",
                path,
                resource=resource,
            )


def _schedule(r: Reader, value: Any, now: datetime) -> ScheduleSpec:
    inner = f"{{start: {START_EXAMPLE}, duration: PT1H}}"
    schedule = r.mapping(value, "schedule", f"{{requested: {inner}}}") or {}
    requested = r.mapping(schedule.get("requested"), "schedule.requested", inner) or {}
    earliest, latest = read_window(r, requested.get("start"), "schedule.requested.start", now)
    duration = read_duration(r, requested.get("duration"), "schedule.requested.duration")
    return ScheduleSpec(earliest, latest, duration)


def _limits(r: Reader, value: Any, group: str) -> tuple[LimitItem, ...]:
    found = []
    example = f"{{kind: {K.group_uris(group)[0]}, type: …, max: 1.0}}"
    for path, item in r.items(value, group, example):
        kind = r.kind(item.get("kind"), f"{path}.kind", group)
        meaning = r.text(item.get("type"), f"{path}.type")
        description = r.text(item.get("description"), f"{path}.description")
        low = r.number(item.get("min"), f"{path}.min")
        high = r.number(item.get("max"), f"{path}.max")
        if low is not None and high is not None and low > high:
            r.error(
                M.INVALID_VALUE,
                "${path} has min ${min} above max ${max}; swap them or leave one out",
                path,
                min=low,
                max=high,
            )
        elif kind is not None:
            found.append(LimitItem(kind, meaning, description, low, high))
    return tuple(found)


def _parse(doc: Any, now: datetime) -> ParseResult:
    r = Reader()
    if not isinstance(doc, Mapping):
        r.error(
            M.SYNTAX,
            "The request at ${path} must be a mapping with an executable, not ${type}; send e.g. "
            "{executable: {kind: …, location: …}}",
            "$",
            type=type_name(doc),
        )
        return ParseResult(None, tuple(r.messages))
    executable, form = _executable(r, doc.get("executable"))
    compute, references = _compute(r, doc.get("compute"))
    named: list[tuple[str, str | None]] = []
    storage = _storage(r, doc.get("storage"), named)
    data = _data(r, doc.get("data"), named)
    check_names(r, named, references)
    schedule = _schedule(r, doc.get("schedule"), now)
    costs = _limits(r, doc.get("costs"), "costs")
    metrics = _limits(r, doc.get("metrics"), "metrics")
    name = r.text(doc.get("name"), "name", numbers=True)
    if name is None:
        meta = r.mapping(doc.get("meta"), "meta", "{name: analysis}") or {}
        name = r.text(meta.get("name"), "meta.name", numbers=True)
    if r.failed or executable is None:
        return ParseResult(None, tuple(r.messages))
    request = ExecutionRequest(
        executable=executable,
        compute=compute,
        storage=tuple(storage),
        data=tuple(data),
        schedule=schedule,
        costs=costs,
        metrics=metrics,
        name=name,
        dialect=K.V1_0 if form == K.V1_0 else "interim",
    )
    return ParseResult(request, tuple(r.messages))


def unreadable(error: BaseException) -> ParseResult:
    """The answer when reading failed in a way the checks did not foresee."""
    message = M.error(M.SYNTAX, UNREADABLE_TEMPLATE, path="$", error=show(error))
    return ParseResult(None, (message,))


def parse_request(doc: Any, *, now: datetime) -> ParseResult:
    """Read a v1.0 (or interim) ExecutionRequest document. Never raises."""
    try:
        return _parse(doc, utc(now))
    except Exception as exc:  # the contract is to answer, never to raise
        return unreadable(exc)
