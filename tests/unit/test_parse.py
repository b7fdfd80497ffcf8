"""Reading v1.0 (and interim) ExecutionRequests: the examples, every error, and a fuzz loop."""

from __future__ import annotations

import copy
import random
from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest

from jupyterhub_execplanner.model import messages as M
from jupyterhub_execplanner.model.kinds import kind_uri
from jupyterhub_execplanner.model.parse import UNREADABLE_TEMPLATE, ParseResult, parse_request
from jupyterhub_execplanner.model.request import (
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

UTC = timezone.utc
NOW = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
NB = kind_uri("executable", "jupyter-notebook")
DOCKER = kind_uri("executable", "docker-container")
SING = kind_uri("executable", "singularity-container")
COMPUTE = kind_uri("compute", "simple-compute-resource")
VOLUME = kind_uri("volume", "simple-volume-mount")
STORAGE = kind_uri("storage", "simple-storage-resource")
DATA = kind_uri("data", "simple-data-resource")
COST = kind_uri("costs", "simple-minmax-float-cost")
METRIC = kind_uri("metrics", "simple-minmax-float-metric")
INTERIM = "https://www.purl.org/ivoa.net/EB/schema/v1.0/types"
EB2025 = "https://www.purl.org/ivoa.net/EB/schema/types"

# ---- the examples (from the shared examples and the digest's §17), inline ----------------------

NOTEBOOK = {  # notebook.yaml
    "executable": {
        "kind": NB,
        "meta": {"name": "analysis"},
        "location": "https://example.org/notebooks/analysis.ipynb",
        "requirements": "https://example.org/notebooks/requirements.txt",
    },
    "compute": {
        "kind": COMPUTE,
        "meta": {"name": "compute-001"},
        "cores": {"min": 1, "max": 2},
        "memory": {"min": 1, "max": 4},
    },
    "schedule": {"requested": {"duration": "PT1H"}},
}
CONTAINER = {  # container.yaml
    "executable": {
        "kind": DOCKER,
        "meta": {"name": "checksum"},
        "image": {
            "locations": ["ghcr.io/example/checksum:1.0"],
            "digest": "sha256:" + "0" * 64,
        },
    },
    "compute": {
        "kind": COMPUTE,
        "volumes": [
            {"kind": VOLUME, "path": "/input", "mode": "READONLY", "resource": "input-data"}
        ],
    },
    "data": [
        {
            "kind": DATA,
            "meta": {"name": "input-data"},
            "location": "https://example.org/data/image.fits",
        }
    ],
}
SCHEDULED = {  # scheduled.yaml
    "executable": {"kind": NB, "location": "https://example.org/notebooks/analysis.ipynb"},
    "compute": {"kind": COMPUTE, "cores": {"min": 1}},
    "schedule": {"requested": {"start": "2026-12-01T22:00:00Z/PT1H", "duration": "PT2H"}},
}
SESSION = {  # session.yaml
    "executable": {"kind": NB},
    "compute": {"kind": COMPUTE, "memory": {"min": 2}},
}
E1B = {  # the reference broker's notebook request, interim kinds
    "executable": {
        "kind": f"{INTERIM}/executable/jupyter-notebook-1.0",
        "meta": {"name": "executable-001"},
        "location": "https://raw.githubusercontent.com/Zarquan/binder-demo/main/02_dmhh.ipynb",
    },
    "schedule": {"requested": {"duration": "PT1H"}},
    "compute": {
        "kind": f"{INTERIM}/compute/simple-compute-resource-1.0",
        "meta": {"name": "computer-001"},
        "cores": {"min": 5, "max": 15},
        "memory": {"min": 3, "max": 9},
    },
}
E2A = {  # the demo template: its data element still has the abstract kind
    "executable": {
        "kind": DOCKER,
        "meta": {"description": "A simple Alpine based container that computes checksums."},
        "image": {
            "locations": ["ghcr.io/zarquan/heliophorus-androcles:sha-9a2513b"],
            "digest": "sha256:0dfeaad1f37ab8cd506f3a16d1ade56d035694a34e0ff28be51b97f1924c4df3",
        },
    },
    "compute": {
        "kind": COMPUTE,
        "meta": {"description": "A simple compute resource, with a volume mount for the input."},
        "volumes": [
            {"kind": VOLUME, "path": "/input", "mode": "READONLY", "resource": "input-data"}
        ],
    },
    "data": [
        {
            "kind": kind_uri("data", "abstract-data-resource"),
            "meta": {"name": "input-data", "description": "Replace with a concrete resource."},
        }
    ],
}
E2B = {  # docker request with a command and a file: data resource, interim kinds
    "executable": {
        "kind": f"{INTERIM}/executable/docker-container-1.0",
        "image": {
            "locations": ["ghcr.io/zarquan/heliophorus-cantliei:sha-831ee57"],
            "digest": "sha256:6e495692cc6f1cae2023f261f433d4691aa70b19416730f8301e45fbb74bc526",
        },
        "command": [60, 0],
    },
    "data": [
        {
            "kind": f"{INTERIM}/data/simple-data-resource-1.0",
            "meta": {"name": "data-006"},
            "location": "file:/$TESTDATA/random.txt",
        }
    ],
    "compute": {
        "kind": f"{INTERIM}/compute/simple-compute-resource-1.0",
        "volumes": [
            {
                "kind": f"{INTERIM}/volume/simple-volume-mount-1.0",
                "resource": "data-006",
                "path": "/input",
                "mode": "READONLY",
            }
        ],
    },
}
EB_2025 = {  # the 2025 ExecutionBroker kind spellings
    "executable": {
        "kind": f"{EB2025}/executables/jupyter-notebook-1.0",
        "location": "https://x.org/a",
    },
    "compute": {"kind": f"{EB2025}/resources/compute/simple-compute-resource-1.0"},
    "storage": [
        {
            "kind": f"{EB2025}/resources/storage/simple-storage-resource-1.0",
            "meta": {"name": "scratch"},
            "size": {"min": 10, "max": 20},
        }
    ],
}


def ok(doc: Any) -> ExecutionRequest:
    result = parse_request(doc, now=NOW)
    assert result.ok, [m.message for m in result.messages]
    assert result.request is not None
    return result.request


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        (
            NOTEBOOK,
            ExecutionRequest(
                executable=ExecutableSpec(
                    "jupyter-notebook",
                    name="analysis",
                    location="https://example.org/notebooks/analysis.ipynb",
                    requirements="https://example.org/notebooks/requirements.txt",
                ),
                compute=ComputeSpec("compute-001", IntRange(1, 2), IntRange(1, 4)),
                schedule=ScheduleSpec(duration=timedelta(hours=1)),
            ),
        ),
        (
            CONTAINER,
            ExecutionRequest(
                executable=ExecutableSpec(
                    "docker-container",
                    name="checksum",
                    image="ghcr.io/example/checksum:1.0",
                    digest="sha256:" + "0" * 64,
                ),
                compute=ComputeSpec(volumes=(VolumeMount("/input", "READONLY", "input-data"),)),
                data=(
                    DataSpec(
                        "simple-data-resource", "input-data", "https://example.org/data/image.fits"
                    ),
                ),
            ),
        ),
        (
            SCHEDULED,
            ExecutionRequest(
                executable=ExecutableSpec(
                    "jupyter-notebook", location="https://example.org/notebooks/analysis.ipynb"
                ),
                schedule=ScheduleSpec(
                    datetime(2026, 12, 1, 22, tzinfo=UTC),
                    datetime(2026, 12, 1, 23, tzinfo=UTC),
                    timedelta(hours=2),
                ),
            ),
        ),
        (
            SESSION,
            ExecutionRequest(
                executable=ExecutableSpec("jupyter-notebook"),
                compute=ComputeSpec(cores=IntRange(1, 1), memory=IntRange(2, 2)),
            ),
        ),
        (
            E1B,
            ExecutionRequest(
                executable=ExecutableSpec(
                    "jupyter-notebook",
                    name="executable-001",
                    location="https://raw.githubusercontent.com/Zarquan/binder-demo/main/02_dmhh.ipynb",
                ),
                compute=ComputeSpec("computer-001", IntRange(5, 15), IntRange(3, 9)),
                schedule=ScheduleSpec(duration=timedelta(hours=1)),
                dialect="interim",
            ),
        ),
        (
            E2B,
            ExecutionRequest(
                executable=ExecutableSpec(
                    "docker-container",
                    image="ghcr.io/zarquan/heliophorus-cantliei:sha-831ee57",
                    digest="sha256:6e495692cc6f1cae2023f261f433d4691aa70b19416730f8301e45fbb74bc526",
                    extra={"command": [60, 0]},
                ),
                compute=ComputeSpec(volumes=(VolumeMount("/input", "READONLY", "data-006"),)),
                data=(DataSpec("simple-data-resource", "data-006", "file:/$TESTDATA/random.txt"),),
                dialect="interim",
            ),
        ),
        (
            EB_2025,
            ExecutionRequest(
                executable=ExecutableSpec("jupyter-notebook", location="https://x.org/a"),
                storage=(StorageSpec("simple-storage-resource", "scratch", IntRange(10, 20)),),
                dialect="interim",
            ),
        ),
    ],
    ids=["notebook", "container", "scheduled", "session", "E1b", "E2b", "2025"],
)
def test_examples(doc: dict[str, Any], expected: ExecutionRequest) -> None:
    assert ok(doc) == expected


def paths(result: ParseResult) -> set[tuple[str, str]]:
    return {(m.kind, m.values.get("path", "")) for m in result.messages}


def nb(**fields: Any) -> dict[str, Any]:
    """A notebook request with ``fields`` added at the top level."""
    return {"executable": {"kind": NB}, **fields}


def dock(**fields: Any) -> dict[str, Any]:
    return {"executable": {"kind": DOCKER, "image": {"locations": ["img:1"]}, **fields}}


def comp(**fields: Any) -> dict[str, Any]:
    return nb(compute={"kind": COMPUTE, **fields})


def data(*items: Any, **fields: Any) -> dict[str, Any]:
    return nb(data=list(items), **fields)


def sdata(name: str, location: Any = "https://x.org/d") -> dict[str, Any]:
    return {"kind": DATA, "meta": {"name": name}, "location": location}


def sched(**requested: Any) -> dict[str, Any]:
    return nb(schedule={"requested": requested})


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        ([], {(M.SYNTAX, "$")}),
        ("executable: x", {(M.SYNTAX, "$")}),
        (None, {(M.SYNTAX, "$")}),
        (42, {(M.SYNTAX, "$")}),
        ({}, {(M.EXECUTABLE_REQUIRED, "executable")}),
        (E2A, {(M.UNKNOWN_KIND, "data[0].kind")}),
        # accept.yaml is an update, not a request
        (
            {"kind": "uri:enum-value-update", "path": "phase", "value": "ACCEPTED"},
            {(M.EXECUTABLE_REQUIRED, "executable")},
        ),
        ({"executable": "notebook"}, {(M.SYNTAX, "executable")}),
        ({"executable": {"location": "https://x.org/a"}}, {(M.MISSING_VALUE, "executable.kind")}),
        (
            {"executable": {"kind": kind_uri("executable", "zeppelin-notebook")}},
            {(M.UNKNOWN_KIND, "executable.kind")},
        ),
        ({"executable": {"kind": COMPUTE}}, {(M.UNKNOWN_KIND, "executable.kind")}),
        ({"executable": {"kind": ["x"]}}, {(M.UNKNOWN_KIND, "executable.kind")}),
        (
            {"executable": {"kind": NB, "location": "ftp://x.org/a.ipynb"}},
            {(M.INVALID_VALUE, "executable.location")},
        ),
        (
            {"executable": {"kind": NB, "location": 42}},
            {(M.INVALID_VALUE, "executable.location")},
        ),
        (
            {"executable": {"kind": NB, "requirements": "requirements.txt"}},
            {(M.INVALID_VALUE, "executable.requirements")},
        ),
        (
            {"executable": {"kind": NB, "meta": {"name": {"a": 1}}}},
            {(M.INVALID_VALUE, "executable.meta.name")},
        ),
        ({"executable": {"kind": NB, "meta": "x"}}, {(M.SYNTAX, "executable.meta")}),
        ({"executable": {"kind": DOCKER}}, {(M.MISSING_VALUE, "executable.image")}),
        ({"executable": {"kind": DOCKER, "image": "img:1"}}, {(M.SYNTAX, "executable.image")}),
        (
            {"executable": {"kind": DOCKER, "image": {"locations": []}}},
            {(M.INVALID_VALUE, "executable.image.locations")},
        ),
        (
            {"executable": {"kind": DOCKER, "image": {"locations": "img:1"}}},
            {(M.INVALID_VALUE, "executable.image.locations")},
        ),
        (
            {"executable": {"kind": DOCKER, "image": {"locations": ["img", 3]}}},
            {(M.INVALID_VALUE, "executable.image.locations")},
        ),
        (dock(privileged=True), {(M.NOT_SUPPORTED, "executable.privileged")}),
        (dock(privileged="yes"), {(M.INVALID_VALUE, "executable.privileged")}),
        ({"executable": {"kind": SING}}, {(M.MISSING_VALUE, "executable.location")}),
        (nb(compute=[]), {(M.SYNTAX, "compute")}),
        (comp(kind=DOCKER), {(M.UNKNOWN_KIND, "compute.kind")}),
        (comp(cores={"min": 2.5}), {(M.INVALID_VALUE, "compute.cores.min")}),
        (comp(memory={"min": 1.5, "max": 4}), {(M.INVALID_VALUE, "compute.memory.min")}),
        (comp(memory={"min": 8, "max": 4}), {(M.INVALID_VALUE, "compute.memory")}),
        (comp(cores={"min": True}), {(M.INVALID_VALUE, "compute.cores.min")}),
        (comp(cores={"min": 0}), {(M.INVALID_VALUE, "compute.cores.min")}),
        (comp(cores={"min": -2}), {(M.INVALID_VALUE, "compute.cores.min")}),
        (comp(cores={"min": 2_000_000}), {(M.INVALID_VALUE, "compute.cores.min")}),
        (comp(cores={"min": 1, "max": 10**30}), {(M.INVALID_VALUE, "compute.cores.max")}),
        (comp(cores={"min": float("nan")}), {(M.INVALID_VALUE, "compute.cores.min")}),
        (comp(cores={"min": "4"}), {(M.INVALID_VALUE, "compute.cores.min")}),
        (comp(cores="4"), {(M.SYNTAX, "compute.cores")}),
        (comp(cores=4), {(M.SYNTAX, "compute.cores")}),
        (comp(accelerators={"resource": "gpu"}), {(M.SYNTAX, "compute.accelerators")}),
        (
            comp(accelerators=[{"count": {"min": 1}}]),
            {(M.MISSING_VALUE, "compute.accelerators[0]")},
        ),
        (
            comp(accelerators=[{"resource": "gpu", "count": {"min": 0}}]),
            {(M.INVALID_VALUE, "compute.accelerators[0].count.min")},
        ),
        (comp(accelerators=["gpu"]), {(M.SYNTAX, "compute.accelerators[0]")}),
        (
            comp(volumes=[{"path": "/in", "resource": "nowhere"}]),
            {(M.NOT_FOUND, "compute.volumes[0].resource")},
        ),
        (
            {
                **comp(volumes=[{"path": "/in", "mode": "rw", "resource": "d"}]),
                "data": [sdata("d")],
            },
            {(M.INVALID_VALUE, "compute.volumes[0].mode")},
        ),
        (
            {**comp(volumes=[{"path": "in", "resource": "d"}]), "data": [sdata("d")]},
            {(M.INVALID_VALUE, "compute.volumes[0].path")},
        ),
        (comp(volumes=[{"path": "/in"}]), {(M.MISSING_VALUE, "compute.volumes[0]")}),
        (comp(volumes=[None]), {(M.SYNTAX, "compute.volumes[0]")}),
        (
            {
                **comp(
                    volumes=[{"path": "/in", "resource": "d"}, {"path": "/in", "resource": "d"}]
                ),
                "data": [sdata("d")],
            },
            {(M.DUPLICATE, "compute.volumes")},
        ),
        (
            comp(volumes=[{"kind": STORAGE, "path": "/in", "resource": "x"}]),
            {
                (M.UNKNOWN_KIND, "compute.volumes[0].kind"),
                (M.NOT_FOUND, "compute.volumes[0].resource"),
            },
        ),
        (nb(storage={"kind": STORAGE}), {(M.SYNTAX, "storage")}),
        (
            nb(storage=[{"kind": STORAGE, "size": {"min": 20, "max": 10}}]),
            {(M.INVALID_VALUE, "storage[0].size")},
        ),
        (nb(storage=[{"kind": DATA}]), {(M.UNKNOWN_KIND, "storage[0].kind")}),
        (data(sdata("d"), sdata("d")), {(M.DUPLICATE, "data[1].meta.name")}),
        (
            data(sdata("d"), storage=[{"kind": STORAGE, "meta": {"name": "d"}}]),
            {(M.DUPLICATE, "data[0].meta.name")},
        ),
        (data({"kind": DATA, "meta": {"name": "d"}}), {(M.MISSING_VALUE, "data[0].location")}),
        (data(sdata("d", "not a url")), {(M.INVALID_VALUE, "data[0].location")}),
        (data(sdata("d", 7)), {(M.INVALID_VALUE, "data[0].location")}),
        (data({"location": "https://x.org/d"}), {(M.MISSING_VALUE, "data[0].kind")}),
        (
            data({"kind": f"{INTERIM}/data/ftp-data-resource-1.0"}),
            {(M.UNKNOWN_KIND, "data[0].kind")},
        ),
        (nb(data="https://x.org/d"), {(M.SYNTAX, "data")}),
        (sched(start="tomorrow"), {(M.SYNTAX, "schedule.requested.start")}),
        (sched(start=12), {(M.SYNTAX, "schedule.requested.start")}),
        (
            sched(start="2026-11-20T10:00:00Z/PT1H"),
            {(M.INVALID_VALUE, "schedule.requested.start")},
        ),
        (
            sched(start="2026-12-01T23:00:00Z/2026-12-01T22:00:00Z"),
            {(M.INVALID_VALUE, "schedule.requested.start")},
        ),
        (sched(duration="1H"), {(M.SYNTAX, "schedule.requested.duration")}),
        (sched(duration="P1H"), {(M.SYNTAX, "schedule.requested.duration")}),
        (sched(duration=3600), {(M.SYNTAX, "schedule.requested.duration")}),
        (sched(duration="PT0S"), {(M.INVALID_VALUE, "schedule.requested.duration")}),
        (sched(duration="-PT1H"), {(M.INVALID_VALUE, "schedule.requested.duration")}),
        (nb(schedule="soon"), {(M.SYNTAX, "schedule")}),
        (nb(schedule={"requested": ["PT1H"]}), {(M.SYNTAX, "schedule.requested")}),
        (nb(costs=[{"kind": COST, "min": 5, "max": 1}]), {(M.INVALID_VALUE, "costs[0]")}),
        (nb(costs=[{"kind": COST, "max": "cheap"}]), {(M.INVALID_VALUE, "costs[0].max")}),
        (nb(costs=[{"kind": COST, "max": True}]), {(M.INVALID_VALUE, "costs[0].max")}),
        (nb(costs=[{"kind": METRIC, "max": 1}]), {(M.UNKNOWN_KIND, "costs[0].kind")}),
        (nb(metrics=[{"min": 1}]), {(M.MISSING_VALUE, "metrics[0].kind")}),
        (nb(metrics={"kind": METRIC}), {(M.SYNTAX, "metrics")}),
        (nb(name=["x"]), {(M.INVALID_VALUE, "name")}),
        (nb(meta="x"), {(M.SYNTAX, "meta")}),
    ],
)
def test_errors_name_the_path(doc: Any, expected: set[tuple[str, str]]) -> None:
    result = parse_request(doc, now=NOW)
    assert not result.ok
    assert result.request is None
    assert paths(result) == expected


def test_every_error_is_a_complete_message() -> None:
    doc = {
        "executable": {"kind": DOCKER, "image": {"locations": []}, "privileged": True},
        "compute": {"cores": {"min": 4, "max": 2}, "memory": {"min": 2.5}},
        "data": [sdata("d"), sdata("d", None)],
        "schedule": {"requested": {"start": "soon", "duration": "1H"}},
        "costs": [{"kind": "x"}],
    }
    result = parse_request(doc, now=NOW)
    assert paths(result) == {
        (M.INVALID_VALUE, "executable.image.locations"),
        (M.NOT_SUPPORTED, "executable.privileged"),
        (M.INVALID_VALUE, "compute.cores"),
        (M.INVALID_VALUE, "compute.memory.min"),
        (M.DUPLICATE, "data[1].meta.name"),
        (M.MISSING_VALUE, "data[1].location"),
        (M.SYNTAX, "schedule.requested.start"),
        (M.SYNTAX, "schedule.requested.duration"),
        (M.UNKNOWN_KIND, "costs[0].kind"),
    }
    for message in result.messages:
        assert message.level == "ERROR"
        assert "${path}" in message.template
        assert message.values["path"] in message.message
        assert "${" not in message.message
        assert message.time is not None
        assert message.to_dict()["message"] == message.message


@pytest.mark.parametrize(
    ("doc", "words"),
    [
        (
            {"executable": {"kind": "https://example.org/kinds/executable/x.yaml"}},
            [
                "https://example.org/kinds/executable/x.yaml",
                kind_uri("executable", "jupyter-notebook"),
                kind_uri("executable", "docker-container"),
            ],
        ),
        (comp(memory={"min": 2.5}), ["whole number", "GiB"]),
        (comp(memory={"min": 8, "max": 4}), ["min 8", "max 4"]),
        (sched(start="tomorrow"), ["2026-12-01T22:00:00Z/PT1H"]),
        (sched(start="2026-11-20T10:00:00Z/PT1H"), ["already passed"]),
        (sched(duration="P1H"), ["PT1H"]),
        (comp(volumes=[{"path": "/in", "resource": "nowhere"}]), ["nowhere", "meta.name"]),
        ({}, ["executable", "location"]),
    ],
)
def test_messages_say_how_to_fix(doc: Any, words: list[str]) -> None:
    text = " ".join(m.message for m in parse_request(doc, now=NOW).messages)
    for word in words:
        assert word in text


S3 = kind_uri("data", "S3-data-resource")
IVOA = kind_uri("data", "ivoa-data-resource")
SKAO = kind_uri("data", "skao-data-resource")
RUCIO = kind_uri("data", "rucio-data-resource")


@pytest.mark.parametrize(
    ("item", "kind", "location"),
    [
        (
            {
                "kind": S3,
                "endpoint": "https://s3.example.org/",
                "bucket": "b",
                "object": "o/x.fits",
            },
            "S3-data-resource",
            "https://s3.example.org/b/o/x.fits",
        ),
        (
            {"kind": S3, "endpoint": "https://s3.example.org", "bucket": "b"},
            "S3-data-resource",
            "https://s3.example.org/b",
        ),
        ({"kind": S3, "bucket": "b"}, "S3-data-resource", None),
        (
            {
                "kind": IVOA,
                "ivoa": {"ivoid": "ivo://x/y", "obscore": {"access_url": "https://a/b"}},
            },
            "ivoa-data-resource",
            "https://a/b",
        ),
        (
            {"kind": IVOA, "ivoa": {"datalink": {"access_url": "https://dl/b"}}},
            "ivoa-data-resource",
            "https://dl/b",
        ),
        ({"kind": IVOA, "ivoa": "junk"}, "ivoa-data-resource", None),
        (
            {
                "kind": SKAO,
                "skao": {"namespace": "n", "replicas": [{"rsename": "r", "dataurl": "davs://r/x"}]},
                "ivoa": {"obscore": {"access_url": "https://a/b"}},
            },
            "skao-data-resource",
            "davs://r/x",
        ),
        ({"kind": SKAO, "skao": {"replicas": []}}, "skao-data-resource", None),
        (
            {"kind": RUCIO, "rucio": {"endpoint": "https://rucio", "scope": "s", "object": "o"}},
            "rucio-data-resource",
            None,
        ),
        (
            {"kind": f"{EB2025}/resources/data/Rucio-data-resource-1.0", "rucio": {"scope": "s"}},
            "rucio-data-resource",
            None,
        ),
    ],
)
def test_data_kinds_keep_their_blocks(
    item: dict[str, Any], kind: str, location: str | None
) -> None:
    spec = ok(nb(data=[item])).data[0]
    assert (spec.kind, spec.location) == (kind, location)
    assert dict(spec.extra) == {k: v for k, v in item.items() if k != "kind"}


@pytest.mark.parametrize(
    ("doc", "check"),
    [
        (comp(cores={"min": 2.0, "max": 4.0}), lambda r: r.compute.cores == IntRange(2, 4)),
        (comp(cores={"max": 3}), lambda r: r.compute.cores == IntRange(1, 3)),
        (comp(cores={}), lambda r: r.compute.cores == IntRange(1, 1)),
        (nb(), lambda r: r.compute == ComputeSpec()),
        (comp(), lambda r: r.compute == ComputeSpec()),
        (
            {"executable": {"kind": NB}, "compute": {"memory": {"min": 3}}},  # no compute kind
            lambda r: r.compute.memory == IntRange(3, 3),
        ),
        (
            comp(accelerators=[{"type": "nvidia.com/gpu"}]),
            lambda r: (
                r.compute.accelerators
                == (AcceleratorRequest(None, "nvidia.com/gpu", "nvidia.com/gpu", IntRange(1, 1)),)
            ),
        ),
        (
            comp(accelerators=[{"name": "a100", "count": {"min": 2, "max": 4}}]),
            lambda r: (
                r.compute.accelerators
                == (AcceleratorRequest("a100", None, "a100", IntRange(2, 4)),)
            ),
        ),
        (
            comp(
                accelerators=[
                    {
                        "name": "g",
                        "type": "t",
                        "resource": "nvidia.com/gpu",
                        "spec": {"minmemory": 20},
                    }
                ]
            ),
            lambda r: (
                r.compute.accelerators[0].resource == "nvidia.com/gpu"
                and dict(r.compute.accelerators[0].spec) == {"minmemory": 20}
            ),
        ),
        (
            {
                **comp(volumes=[{"path": "/scratch", "mode": "readwrite", "resource": "tmp"}]),
                "storage": [{"kind": STORAGE, "meta": {"name": "tmp"}, "size": {"min": 5}}],
            },
            lambda r: (
                r.compute.volumes == (VolumeMount("/scratch", "READWRITE", "tmp"),)
                and r.storage == (StorageSpec("simple-storage-resource", "tmp", IntRange(5, 5)),)
            ),
        ),
        (
            {
                "executable": {
                    "kind": NB,
                    "location": "https://x.org/nb/a.ipynb",
                    "requirements": "req.txt",
                }
            },
            lambda r: r.executable.requirements == "https://x.org/nb/req.txt",
        ),
        (
            {
                "executable": {
                    "kind": NB,
                    "location": "https://x.org/nb/a.ipynb",
                    "requirements": "/root.txt",
                }
            },
            lambda r: r.executable.requirements == "https://x.org/root.txt",
        ),
        (nb(name="top"), lambda r: r.name == "top"),
        (nb(meta={"name": "from-meta"}), lambda r: r.name == "from-meta"),
        (nb(name=2026), lambda r: r.name == "2026"),
        (nb(future_field={"x": 1}, version=2), lambda r: r.name is None),
        (
            nb(
                costs=[{"kind": COST, "type": "urn:ivoa:calycopis:cost:monetary", "max": 1}],
                metrics=[{"kind": METRIC, "min": 0.5, "max": 2.5, "description": "speed"}],
            ),
            lambda r: (
                r.costs
                == (
                    LimitItem(
                        "simple-minmax-float-cost",
                        "urn:ivoa:calycopis:cost:monetary",
                        None,
                        None,
                        1.0,
                    ),
                )
                and r.metrics == (LimitItem("simple-minmax-float-metric", None, "speed", 0.5, 2.5),)
            ),
        ),
        (
            sched(start=datetime(2026, 12, 1, 22, tzinfo=UTC)),  # what YAML timestamps give
            lambda r: (
                r.schedule.start_earliest
                == r.schedule.start_latest
                == datetime(2026, 12, 1, 22, tzinfo=UTC)
            ),
        ),
        (
            sched(start=date(2026, 12, 1)),
            lambda r: r.schedule.start_earliest == datetime(2026, 12, 1, tzinfo=UTC),
        ),
        (
            sched(start="2026-11-24T14:00:00Z/PT2H"),  # began an hour ago, still open
            lambda r: r.schedule.start_latest == datetime(2026, 11, 24, 16, tzinfo=UTC),
        ),
        (
            {
                "executable": {
                    "kind": DOCKER,
                    "image": {"locations": ["a:1", "b:1"], "platform": {"os": "linux"}},
                    "environment": {"X": "1"},
                    "phase": "RUNNING",
                    "schedule": {},
                }
            },
            lambda r: (
                r.executable.image == "a:1"
                and dict(r.executable.extra)
                == {
                    "image": {"locations": ["b:1"], "platform": {"os": "linux"}},
                    "environment": {"X": "1"},
                }
            ),
        ),
        (
            {
                "executable": {
                    "kind": SING,
                    "location": "library://org/image:1.0",
                    "meta": {"name": "sing", "description": "d"},
                }
            },
            lambda r: (
                r.executable
                == ExecutableSpec(
                    "singularity-container", "sing", "d", location="library://org/image:1.0"
                )
            ),
        ),
        (
            {
                "executable": {
                    "kind": NB,
                    "extension": {
                        "when": datetime(2026, 1, 1, tzinfo=UTC),
                        "raw": b"x",
                        "nan": float("nan"),
                    },
                }
            },
            lambda r: (
                dict(r.executable.extra)
                == {"extension": {"when": "2026-01-01T00:00:00Z", "raw": "x", "nan": "nan"}}
            ),
        ),
    ],
)
def test_values_read(doc: Any, check: Any) -> None:
    assert check(ok(doc))


def test_naive_now_is_utc() -> None:
    result = parse_request(sched(start="2026-11-24T14:00:00Z/PT2H"), now=datetime(2026, 11, 24, 15))
    assert result.ok


# ---- never raises -------------------------------------------------------------------------------

JUNK: list[Any] = [
    None,
    True,
    False,
    0,
    1,
    -1,
    2**70,
    -(2**70),
    1.5,
    2.0,
    float("nan"),
    float("inf"),
    "",
    "x",
    "PT1H",
    "P1H",
    "2026-12-01T22:00:00Z/PT1H",
    "https://x.org/a",
    NB,
    DOCKER,
    DATA,
    [],
    {},
    [None],
    [[]],
    {"min": "x"},
    {"min": 3, "max": 1},
    {"kind": NB},
    {"locations": [1]},
    datetime(2026, 1, 1),
    date(2026, 1, 1),
    b"\xff",
    ("t",),
    {1, 2},
    object(),
    "x" * 5000,
    {"a": {"b": {"c": [1, {"d": None}]}}},
    {1: 2, None: 3},
    [{"kind": DATA, "meta": 5}],
]
SEEDS = [NOTEBOOK, CONTAINER, SCHEDULED, SESSION, E1B, E2A, E2B, EB_2025]


def junk(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if depth > 3 or roll < 0.6:
        return rng.choice(JUNK)
    if roll < 0.8:
        return [junk(rng, depth + 1) for _ in range(rng.randrange(4))]
    keys = ["kind", "meta", "name", "min", "max", "location", "image", "path", "resource", "x"]
    return {rng.choice(keys): junk(rng, depth + 1) for _ in range(rng.randrange(4))}


def mutate(doc: Any, rng: random.Random) -> Any:
    """Replace (or delete) one randomly chosen part of a copy of ``doc``."""
    root = {"doc": copy.deepcopy(doc)}
    node: Any = root
    key: Any = "doc"
    while isinstance(node[key], (dict, list)) and node[key] and rng.random() < 0.75:
        node = node[key]
        key = rng.choice(list(node)) if isinstance(node, dict) else rng.randrange(len(node))
    if isinstance(node, dict) and rng.random() < 0.2:
        del node[key]
    else:
        node[key] = junk(rng)
    return root.get("doc")


def test_fuzz_never_raises() -> None:
    rng = random.Random(20261124)
    outcomes = {True: 0, False: 0}
    for i in range(3000):
        doc = junk(rng) if i % 5 == 0 else mutate(rng.choice(SEEDS), rng)
        result = parse_request(doc, now=NOW)
        assert isinstance(result, ParseResult)
        assert result.ok == (result.request is not None)
        assert result.ok or any(m.is_error for m in result.messages)
        assert all(m.template != UNREADABLE_TEMPLATE for m in result.messages), result.messages
        assert all("path" in m.values for m in result.messages)
        outcomes[result.ok] += 1
    assert outcomes[True] > 100 and outcomes[False] > 100  # both kinds of input were exercised


@pytest.mark.parametrize("doc", JUNK)
def test_odd_documents_get_an_answer(doc: Any) -> None:
    result = parse_request(doc, now=NOW)
    assert result.request is None
    assert result.messages and result.messages[0].level == "ERROR"


def test_self_referencing_document_gets_an_answer() -> None:
    doc: dict[str, Any] = {"executable": {"kind": NB}}
    doc["executable"]["loop"] = doc
    result = parse_request(doc, now=NOW)
    assert result.ok
    assert isinstance(result.request, ExecutionRequest)
