"""What a data centre said about a data resource, as the planner uses it. Pure.

A request may name a dataset the IVOA way: an ObsCore row whose ``access_url`` is a DataLink
document (``access_format: application/x-votable+xml;content=datalink``, or a URL that answers with
that content type), a DataLink row's ``service_def``/``ID``, or an ``ivoid`` alone.
:mod:`.datalink` reads the DataLink document before planning and leaves a :class:`Resolution` for
``data[i]`` in the probes the planner gets (under :func:`key`); the planner then plans with the
dataset's own ``access_url``, ``content_length`` and ``content_type`` (:func:`apply`), or answers NO
with the data centre's reason (:func:`refusal`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from ..model import messages as msg
from ..model.lookup import dig
from ..model.messages import Message
from ..model.request import DataSpec, ExecutionRequest
from .proximity import human_bytes

DATALINK_TYPE = "application/x-votable+xml;content=datalink"
DATA_RESOLVED = "urn:execplanner:data-resolved"
DATA_UNRESOLVED = "urn:execplanner:data-unresolved"
THIS = "#this"
RESOLVED = "execplanner-resolved"  # the mark :func:`apply` leaves in a resolved resource's blocks


def is_datalink_type(content_type: Any) -> bool:
    """Whether a MIME type names a DataLink document (parameters in any order, spaces ignored)."""
    if not isinstance(content_type, str):
        return False
    parts = [p.strip().lower().replace('"', "") for p in content_type.split(";")]
    return parts[0] in ("application/x-votable+xml", "text/xml") and "content=datalink" in parts[1:]


@dataclass(frozen=True)
class Resolution:
    """The dataset a DataLink document gave for ``data[i]``: its ``url``, ``size`` (bytes, from
    ``content_length``) and ``content_type``; or the data centre's ``error`` (its ``error_message``),
    or the ``problem`` that kept the broker from reading the document, with the ``fix``."""

    document: str | None  # the DataLink document's URL (None: no service was found)
    url: str | None = None
    size: int | None = None
    content_type: str | None = None
    semantics: str = THIS
    error: str | None = None
    problem: str | None = None
    fix: str | None = None

    @property
    def ok(self) -> bool:
        return self.url is not None and self.error is None and self.problem is None


def key(index: int) -> str:
    """Where the resolution of ``data[index]`` is kept among the probes (never a URL)."""
    return f"#datalink:data[{index}]"


def semantics_of(d: DataSpec) -> str:
    """The DataLink semantics the request asks for (``ivoa.datalink.semantics``), else ``#this``."""
    asked = dig(d.extra, "ivoa", "datalink", "semantics")
    return asked.strip() if isinstance(asked, str) and asked.strip() else THIS


def apply(d: DataSpec, r: Resolution) -> DataSpec:
    """``d`` with the resolved dataset as its location and DataLink row (size and type), so that the
    collections, the source policy and the download all see the dataset, not the document."""
    extra = dict(d.extra)
    ivoa = dict(extra.get("ivoa") or {})
    given = ivoa.get("datalink") or {}
    row = {k: v for k, v in given.items() if k not in ("content_length", "content_type")}
    row.update(access_url=r.url, semantics=r.semantics)
    if r.size is not None:
        row["content_length"] = r.size
    if r.content_type:
        row["content_type"] = r.content_type
    ivoa["datalink"] = row
    extra["ivoa"] = ivoa
    extra[RESOLVED] = r.document
    return replace(d, location=r.url, extra=extra)


def refusal(r: Resolution, index: int, now: datetime) -> Message:
    """The NO for a resource whose DataLink document gave no dataset: naming ``data[index]`` and
    quoting the data centre's reason, or saying why the broker could not ask and how to fix it."""
    path = f"data[{index}]"
    if r.error is not None:
        return msg.error(DATA_UNRESOLVED, "${path}: the data centre's DataLink service (${document}) "
                         "gives no dataset for it: \"${reason}\"; ask the data centre, or name "
                         "another dataset.", at=now, path=path, document=r.document or "(none)",
                         reason=r.error)
    return msg.error(DATA_UNRESOLVED, "${path}: ${problem}${fix}", at=now, path=path,
                     problem=r.problem or "its DataLink document gave no dataset",
                     fix=f"; {r.fix}" if r.fix else "")


def note(r: Resolution, label: str, now: datetime) -> Message:
    """The offer's INFO that says what was resolved: ``data 'img1' resolved through DataLink:
    image/fits, 268 kB``."""
    size = human_bytes(r.size) if r.size is not None else "size not given"
    what = [r.content_type or "type not given", size]
    semantics = "" if r.semantics == THIS else f" ({r.semantics})"
    return msg.info(DATA_RESOLVED, "data '${name}' resolved through DataLink${semantics}: ${what}",
                    at=now, name=label, semantics=semantics, what=", ".join(what))


def wants(d: DataSpec, location_type: str | None = None) -> bool:
    """Whether ``d`` is planned through a DataLink document: its ObsCore ``access_format`` or its
    DataLink row's ``content_type`` says so, it gives a DataLink row's ``service_def``/``ID`` without
    the dataset's ``access_url``, it has an ``ivoid`` and no URL, or its URL answered with a DataLink
    document (``location_type``, the content type a HEAD found). A resource :func:`apply` made
    never does."""
    if RESOLVED in d.extra:
        return False
    if is_datalink_type(dig(d.extra, "ivoa", "obscore", "access_format")):
        return True
    row = dig(d.extra, "ivoa", "datalink")
    if isinstance(row, dict):
        if is_datalink_type(row.get("content_type")) or _given(row.get("error_message")):
            return True
        if (_given(row.get("service_def")) or _given(row.get("ID"))) and not _given(row.get("access_url")):
            return True
    if d.location is None and _given(dig(d.extra, "ivoa", "ivoid")):
        return True
    return is_datalink_type(location_type)


def _given(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def resolved_request(request: ExecutionRequest, probes: Mapping[str, Any]) -> ExecutionRequest:
    """``request`` with every data resource whose DataLink document was read as its dataset."""
    data = []
    for i, d in enumerate(request.data):
        found = getattr(probes.get(key(i)), "resolution", None)
        data.append(apply(d, found) if isinstance(found, Resolution) and found.ok else d)
    return replace(request, data=tuple(data))
