"""The 2023 ExecutionPlanner draft: requests, responses, offers and offer updates."""

from __future__ import annotations

import copy
import random
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from jupyterhub_execplanner.model import messages as M
from jupyterhub_execplanner.model.draft2023 import (
    GENERIC_COMPUTE,
    parse_offer_update_2023,
    parse_request_2023,
    render_offer_2023,
    render_response_2023,
    split_image,
)
from jupyterhub_execplanner.model.offer import OfferPlan, OfferSetRecord, SessionRecord
from jupyterhub_execplanner.model.parse import UNREADABLE_TEMPLATE, ParseResult
from jupyterhub_execplanner.model.phases import Phase
from jupyterhub_execplanner.model.request import (
    AcceleratorRequest,
    ComputeSpec,
    ExecutableSpec,
    ExecutionRequest,
    IntRange,
    ScheduleSpec,
)

UTC = timezone.utc
NOW = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
TYPES = "https://www.purl.org/ivoa.net/executable-types"

GPU_2023 = {  # the shared examples/gpu-2023.yaml
    "request": {
        "executable": {
            "type": f"{TYPES}/jupyter-notebook",
            "spec": {
                "notebook": "https://example.org/notebooks/train.ipynb",
                "requirements": "https://example.org/notebooks/requirements.txt",
            },
        },
        "resources": {
            "compute": [
                {
                    "name": "compute-001",
                    "type": GENERIC_COMPUTE,
                    "spec": {
                        "mincores": 4,
                        "minmemory": 16,
                        "extras": [
                            {"name": "nvidia-gpu", "type": "https://tinyurl.com/nvidia-ad104"}
                        ],
                    },
                }
            ]
        },
        "datetime": [{"start": "2026-12-01T11:30:00Z/PT30M", "minduration": "PT1H"}],
    }
}
E1A = {  # the draft's own notebook example
    "request": {
        "executable": {
            "type": f"{TYPES}/jupyter-notebook",
            "spec": {"notebook": "https://example.org/example.jpnb"},
        },
        "resources": {
            "compute": [
                {
                    "name": "compute-001",
                    "type": GENERIC_COMPUTE,
                    "spec": {"mincores": 8, "minmemory": 16},
                }
            ]
        },
    }
}
OCI = {  # the draft's OCI spec, with the early "version" spelling of the tag
    "request": {
        "executable": {
            "name": "webtop",
            "type": f"{TYPES}/oci-container",
            "spec": {
                "repo": "ghcr.io",
                "image": "ivoa/oligia-webtop",
                "version": "ubuntu-2022.01.13",
            },
        }
    }
}


def ok(doc: Any) -> ExecutionRequest:
    result = parse_request_2023(doc, now=NOW)
    assert result.ok, [m.message for m in result.messages]
    assert result.request is not None
    return result.request


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        (
            GPU_2023,
            ExecutionRequest(
                executable=ExecutableSpec(
                    "jupyter-notebook",
                    location="https://example.org/notebooks/train.ipynb",
                    requirements="https://example.org/notebooks/requirements.txt",
                ),
                compute=ComputeSpec(
                    "compute-001",
                    IntRange(4, 4),
                    IntRange(16, 16),
                    (
                        AcceleratorRequest(
                            "nvidia-gpu",
                            "https://tinyurl.com/nvidia-ad104",
                            "https://tinyurl.com/nvidia-ad104",
                            IntRange(1, 1),
                        ),
                    ),
                ),
                schedule=ScheduleSpec(
                    datetime(2026, 12, 1, 11, 30, tzinfo=UTC),
                    datetime(2026, 12, 1, 12, 0, tzinfo=UTC),
                    timedelta(hours=1),
                ),
                dialect="2023",
            ),
        ),
        (
            E1A,
            ExecutionRequest(
                executable=ExecutableSpec(
                    "jupyter-notebook", location="https://example.org/example.jpnb"
                ),
                compute=ComputeSpec("compute-001", IntRange(8, 8), IntRange(16, 16)),
                dialect="2023",
            ),
        ),
        (
            OCI,
            ExecutionRequest(
                executable=ExecutableSpec(
                    "docker-container",
                    "webtop",
                    image="ghcr.io/ivoa/oligia-webtop:ubuntu-2022.01.13",
                ),
                dialect="2023",
            ),
        ),
    ],
    ids=["gpu-2023", "E1a", "oci"],
)
def test_examples(doc: Any, expected: ExecutionRequest) -> None:
    assert ok(doc) == expected


def req(**parts: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "executable": {"type": f"{TYPES}/jupyter-notebook", "spec": {"notebook": "https://x.org/a"}}
    }
    return {"request": {**base, **parts}}


def compute(**spec: Any) -> dict[str, Any]:
    return req(resources={"compute": [{"type": GENERIC_COMPUTE, "spec": spec}]})


@pytest.mark.parametrize(
    ("spec", "cores", "memory"),
    [
        ({"mincores": 1.5, "maxcores": 4.7}, IntRange(2, 4), IntRange(1, 1)),
        ({"mincores": 0.5}, IntRange(1, 1), IntRange(1, 1)),
        ({"minmemory": 2.2, "maxmemory": 8.9}, IntRange(1, 1), IntRange(3, 8)),
        ({"minmemory": 3}, IntRange(1, 1), IntRange(3, 3)),
        ({"mincores": 2, "maxcores": 2.0}, IntRange(2, 2), IntRange(1, 1)),
        ({}, IntRange(1, 1), IntRange(1, 1)),
    ],
)
def test_amounts_round_min_up_and_max_down(
    spec: dict[str, Any], cores: IntRange, memory: IntRange
) -> None:
    parsed = ok(compute(**spec))
    assert (parsed.compute.cores, parsed.compute.memory) == (cores, memory)


def paths(result: ParseResult) -> set[tuple[str, str]]:
    return {(m.kind, m.values.get("path", "")) for m in result.messages}


C0 = "request.resources.compute[0]"


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        ([], {(M.SYNTAX, "$")}),
        (None, {(M.SYNTAX, "$")}),
        ("request", {(M.SYNTAX, "$")}),
        ({"executable": {}}, {(M.SYNTAX, "request")}),  # a v1.0 document, no wrapper
        ({"request": "x"}, {(M.SYNTAX, "request")}),
        ({"request": {}}, {(M.EXECUTABLE_REQUIRED, "request.executable")}),
        ({"request": {"executable": "x"}}, {(M.SYNTAX, "request.executable")}),
        (
            {"request": {"executable": {"type": f"{TYPES}/zeppelin-notebook"}}},
            {(M.UNKNOWN_KIND, "request.executable.type")},
        ),
        (
            {
                "request": {
                    "executable": {
                        "type": f"{TYPES}/jupyter-notebook",
                        "spec": {"notebook": "notebook.ipynb"},
                    }
                }
            },
            {(M.INVALID_VALUE, "request.executable.spec.notebook")},
        ),
        (
            {
                "request": {
                    "executable": {
                        "type": f"{TYPES}/jupyter-notebook",
                        "spec": {"requirements": "r.txt"},
                    }
                }
            },
            {(M.INVALID_VALUE, "request.executable.spec.requirements")},
        ),
        (
            {
                "request": {
                    "executable": {"type": f"{TYPES}/docker-container", "spec": {"tag": "1"}}
                }
            },
            {(M.MISSING_VALUE, "request.executable.spec.image")},
        ),
        (
            {"request": {"executable": {"type": f"{TYPES}/singularity-container"}}},
            {(M.MISSING_VALUE, "request.executable.spec.location")},
        ),
        (compute(mincores=1.5, maxcores=1.7), {(M.INVALID_VALUE, f"{C0}.spec")}),
        (compute(mincores=4, maxcores=2), {(M.INVALID_VALUE, f"{C0}.spec")}),
        (compute(maxmemory=0.5), {(M.INVALID_VALUE, f"{C0}.spec.maxmemory")}),
        (compute(mincores="many"), {(M.INVALID_VALUE, f"{C0}.spec.mincores")}),
        (compute(mincores=True), {(M.INVALID_VALUE, f"{C0}.spec.mincores")}),
        (compute(mincores=float("inf")), {(M.INVALID_VALUE, f"{C0}.spec.mincores")}),
        (compute(extras=[{"spec": {}}]), {(M.MISSING_VALUE, f"{C0}.spec.extras[0]")}),
        (compute(extras="gpu"), {(M.SYNTAX, f"{C0}.spec.extras")}),
        (
            compute(volumes=[{"name": "v", "resource": "s", "path": "/x", "mode": "rw"}]),
            {(M.NOT_SUPPORTED, f"{C0}.spec.volumes")},
        ),
        (
            req(
                resources={"compute": [{"type": "https://www.purl.org/ivoa.net/resource-types/x"}]}
            ),
            {(M.UNKNOWN_KIND, f"{C0}.type")},
        ),
        (
            req(resources={"storage": [{"type": "https://www.purl.org/ivoa.net/storage-types/x"}]}),
            {(M.NOT_SUPPORTED, "request.resources.storage")},
        ),
        (req(resources={"compute": {"spec": {}}}), {(M.SYNTAX, "request.resources.compute")}),
        (req(datetime=[{"start": "tomorrow"}]), {(M.SYNTAX, "request.datetime[0].start")}),
        (
            req(datetime=[{"start": "2026-11-01T10:00:00Z/PT1H"}]),
            {(M.INVALID_VALUE, "request.datetime[0].start")},
        ),
        (req(datetime=[{"minduration": "1H"}]), {(M.SYNTAX, "request.datetime[0].minduration")}),
        (req(datetime=[{"minduration": "P1H"}]), {(M.SYNTAX, "request.datetime[0].minduration")}),
        (
            req(datetime=[{"minduration": "PT2H", "maxduration": "PT1H"}]),
            {(M.INVALID_VALUE, "request.datetime[0]")},
        ),
        (req(datetime={"start": "x"}), {(M.SYNTAX, "request.datetime")}),
    ],
)
def test_errors_name_the_path(doc: Any, expected: set[tuple[str, str]]) -> None:
    result = parse_request_2023(doc, now=NOW)
    assert not result.ok
    assert result.request is None
    assert paths(result) == expected
    assert all(m.level == "ERROR" and "${path}" in m.template for m in result.messages)


@pytest.mark.parametrize(
    ("doc", "note_path"),
    [
        (
            req(resources={"compute": [{"spec": {"mincores": 2}}, {"spec": {"mincores": 64}}]}),
            "request.resources.compute",
        ),
        (
            req(datetime=[{"minduration": "PT1H"}, {"minduration": "PT3H"}]),
            "request.datetime",
        ),
    ],
)
def test_only_the_first_is_used_with_a_note(doc: Any, note_path: str) -> None:
    result = parse_request_2023(doc, now=NOW)
    assert result.ok
    assert paths(result) == {(M.NOT_SUPPORTED, note_path)}
    assert result.messages[0].level == "INFO"
    assert result.request is not None
    assert result.request.compute.cores in (IntRange(1, 1), IntRange(2, 2))
    assert result.request.schedule.duration in (None, timedelta(hours=1))


def test_accelerator_extras_keep_their_spec() -> None:
    parsed = ok(compute(extras=[{"name": "Xilinx FPGA", "spec": {"logicCells": 8938}}]))
    (accel,) = parsed.compute.accelerators
    assert (accel.name, accel.type, accel.resource, accel.count) == (
        "Xilinx FPGA",
        None,
        "Xilinx FPGA",
        IntRange(1, 1),
    )
    assert dict(accel.spec) == {"logicCells": 8938}


def test_maxduration_alone_is_ignored() -> None:
    assert ok(req(datetime=[{"maxduration": "PT4H"}])).schedule == ScheduleSpec()


@pytest.mark.parametrize(
    ("image", "spec"),
    [
        (
            "ghcr.io/ivoa/oligia-webtop:ubuntu-2022.01.13",
            {"repo": "ghcr.io", "image": "ivoa/oligia-webtop", "tag": "ubuntu-2022.01.13"},
        ),
        ("python:3.11", {"image": "python", "tag": "3.11"}),
        ("jupyter/base-notebook", {"image": "jupyter/base-notebook"}),
        (
            "localhost:5000/a/b:c@sha256:1",
            {"repo": "localhost:5000", "image": "a/b", "tag": "c", "digest": "sha256:1"},
        ),
    ],
)
def test_split_image(image: str, spec: dict[str, str]) -> None:
    assert split_image(image) == spec


# ---- rendering ----------------------------------------------------------------------------------

START = datetime(2026, 12, 1, 11, 40, tzinfo=UTC)
OFFER = OfferPlan(
    profile="gpu",
    profile_name="GPU server",
    cores=4,
    memory=16,
    start=START,
    duration=timedelta(hours=2),
    preparing=timedelta(seconds=30),
    releasing=timedelta(seconds=10),
    accelerators={"nvidia.com/gpu": 1},
)
SESSION_UUID = "2c89f536-3fff-48f7-943f-bcc5c3225be7"


def session(phase: Phase, request: ExecutionRequest | None = None) -> SessionRecord:
    return SessionRecord(
        uuid=SESSION_UUID,
        offerset="7b6a0000-0000-4000-8000-000000000000",
        owner="alice",
        name="offer-0",
        phase=phase,
        created=NOW,
        modified=NOW,
        expires=NOW + timedelta(minutes=5),
        request=request or ok(GPU_2023),
        offer=OFFER,
    )


def test_render_offer_2023() -> None:
    assert render_offer_2023(session(Phase.OFFERED)) == {
        "offer": {
            "ident": SESSION_UUID,
            "status": "OFFERED",
            "expires": "2026-11-24T15:05:00Z",
            "request": {
                "executable": {
                    "type": f"{TYPES}/jupyter-notebook",
                    "spec": {
                        "notebook": "https://example.org/notebooks/train.ipynb",
                        "requirements": "https://example.org/notebooks/requirements.txt",
                    },
                },
                "resources": {
                    "compute": [
                        {
                            "name": "compute-001",
                            "type": GENERIC_COMPUTE,
                            "spec": {
                                "mincores": 4,
                                "maxcores": 4,
                                "minmemory": 16,
                                "maxmemory": 16,
                                "extras": [
                                    {
                                        "name": "nvidia-gpu",
                                        "type": "https://tinyurl.com/nvidia-ad104",
                                    }
                                ],
                            },
                        }
                    ]
                },
                "datetime": [
                    {
                        "start": "2026-12-01T11:40:00Z/PT0S",
                        "minduration": "PT2H",
                        "maxduration": "PT2H",
                    }
                ],
            },
        }
    }


@pytest.mark.parametrize(
    ("phase", "status", "shown"),
    [
        (Phase.OFFERED, "OFFERED", None),
        (Phase.ACCEPTED, "ACCEPTED", None),
        (Phase.REJECTED, "REJECTED", None),
        (Phase.EXPIRED, "EXPIRED", None),
        (Phase.INITIAL, "OFFERED", "INITIAL"),
        (Phase.WAITING, "ACCEPTED", "WAITING"),
        (Phase.PREPARING, "ACCEPTED", "PREPARING"),
        (Phase.AVAILABLE, "ACCEPTED", "AVAILABLE"),
        (Phase.RUNNING, "ACCEPTED", "RUNNING"),
        (Phase.COMPLETED, "ACCEPTED", "COMPLETED"),
        (Phase.FAILED, "ACCEPTED", "FAILED"),
        (Phase.CANCELLED, "ACCEPTED", "CANCELLED"),
    ],
)
def test_offer_status(phase: Phase, status: str, shown: str | None) -> None:
    offer = render_offer_2023(session(phase))["offer"]
    assert offer["status"] == status
    assert offer.get("phase") == shown
    assert list(offer)[:2] == ["ident", "status"]


@pytest.mark.parametrize(
    ("executable", "spec", "type_"),
    [
        (
            ExecutableSpec("docker-container", image="ghcr.io/org/img:1.0", digest="sha256:ab"),
            {"repo": "ghcr.io", "image": "org/img", "tag": "1.0", "digest": "sha256:ab"},
            f"{TYPES}/docker-container",
        ),
        (
            ExecutableSpec("singularity-container", location="library://a/b:1"),
            {"location": "library://a/b:1"},
            f"{TYPES}/singularity-container",
        ),
        (ExecutableSpec("jupyter-notebook"), {}, f"{TYPES}/jupyter-notebook"),
    ],
)
def test_offer_executables(executable: ExecutableSpec, spec: dict[str, str], type_: str) -> None:
    body = render_offer_2023(session(Phase.OFFERED, ExecutionRequest(executable)))
    assert body["offer"]["request"]["executable"] == {"type": type_, "spec": spec}


def test_rendered_offer_parses_back_as_2023() -> None:
    body = render_offer_2023(session(Phase.OFFERED))["offer"]["request"]
    parsed = ok({"request": body})
    assert parsed.compute.cores == IntRange(4, 4)
    assert parsed.schedule.start_earliest == parsed.schedule.start_latest == START
    assert parsed.schedule.duration == timedelta(hours=2)


def offerset(result: str, messages: list[M.Message], sessions: list[str]) -> OfferSetRecord:
    return OfferSetRecord(
        "7b6a0000-0000-4000-8000-000000000000", "alice", "x", NOW, result, messages, sessions
    )


def test_render_response_yes_keeps_offer_order() -> None:
    first, second = session(Phase.OFFERED), session(Phase.OFFERED)
    second.uuid = "00000000-0000-4000-8000-000000000001"
    doc = render_response_2023(offerset("YES", [], [second.uuid, first.uuid]), [first, second])
    assert doc["response"]["result"] == "YES"
    assert [o["ident"] for o in doc["response"]["offers"]] == [second.uuid, first.uuid]
    assert "reasons" not in doc["response"]


def test_render_response_no_gives_reasons() -> None:
    result = parse_request_2023(compute(mincores=4, maxcores=2), now=NOW)
    no_capacity = M.error(M.NO_CAPACITY, "no profile has ${cores} cores free", cores=4)
    doc = render_response_2023(offerset("NO", [*result.messages, no_capacity], []), [])
    assert doc == {
        "response": {
            "result": "NO",
            "reasons": [
                {"path": f"{C0}.spec", "text": result.messages[0].message},
                {"path": "request", "text": "no profile has 4 cores free"},
            ],
        }
    }


def test_render_response_no_without_messages_still_says_why() -> None:
    doc = render_response_2023(offerset("NO", [], []), [])
    assert doc["response"]["reasons"][0]["path"] == "request"
    assert doc["response"]["reasons"][0]["text"]


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        ({"offer": {"ident": SESSION_UUID, "status": "ACCEPTED"}}, (Phase.ACCEPTED, SESSION_UUID)),
        ({"offer": {"status": "rejected"}}, (Phase.REJECTED, None)),
        ({"status": "ACCEPTED"}, (Phase.ACCEPTED, None)),
    ],
)
def test_parse_offer_update(doc: Any, expected: tuple[Phase, str | None]) -> None:
    assert parse_offer_update_2023(doc) == expected


@pytest.mark.parametrize(
    ("doc", "words"),
    [
        (None, "must be a mapping"),
        ("ACCEPTED", "must be a mapping"),
        ({"offer": "ACCEPTED"}, "offer: mapping"),
        ({}, "offer: mapping"),
        ({"offer": {"status": "CANCELLED"}}, "ACCEPTED or REJECTED"),
        ({"offer": {"status": "EXPIRED"}}, "ACCEPTED or REJECTED"),
        ({"offer": {}}, "ACCEPTED or REJECTED"),
        ({"offer": {"status": "ACCEPTED", "ident": 5}}, "ident"),
    ],
)
def test_parse_offer_update_errors(doc: Any, words: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_offer_update_2023(doc)
    assert words in str(info.value)


# ---- never raises -------------------------------------------------------------------------------

JUNK: list[Any] = [
    None,
    True,
    0,
    -3,
    2**80,
    0.5,
    float("nan"),
    "",
    "x",
    "PT1H",
    "1H",
    "2026-12-01T11:30:00Z/PT30M",
    f"{TYPES}/jupyter-notebook",
    GENERIC_COMPUTE,
    [],
    {},
    [None],
    [{}],
    {"spec": None},
    b"\x00",
    datetime(2026, 1, 1),
    ("a",),
    object(),
    {"notebook": 5},
    [{"start": []}],
]


def mutate(doc: Any, rng: random.Random) -> Any:
    root = {"doc": copy.deepcopy(doc)}
    node: Any = root
    key: Any = "doc"
    while isinstance(node[key], (dict, list)) and node[key] and rng.random() < 0.8:
        node = node[key]
        key = rng.choice(list(node)) if isinstance(node, dict) else rng.randrange(len(node))
    if isinstance(node, dict) and rng.random() < 0.2:
        del node[key]
    else:
        node[key] = (
            rng.choice(JUNK) if rng.random() < 0.7 else [rng.choice(JUNK), {"x": rng.choice(JUNK)}]
        )
    return root.get("doc")


def test_fuzz_never_raises() -> None:
    rng = random.Random(2023)
    seeds = [GPU_2023, E1A, OCI, compute(extras=[{"type": "t"}], mincores=2.5, maxmemory=9)]
    outcomes = {True: 0, False: 0}
    for i in range(3000):
        doc = rng.choice(JUNK) if i % 10 == 0 else mutate(rng.choice(seeds), rng)
        result = parse_request_2023(doc, now=NOW)
        assert isinstance(result, ParseResult)
        assert result.ok == (result.request is not None)
        assert result.ok or any(m.is_error for m in result.messages)
        assert all(m.template != UNREADABLE_TEMPLATE for m in result.messages), result.messages
        assert all("path" in m.values for m in result.messages)
        outcomes[result.ok] += 1
    assert outcomes[True] > 100 and outcomes[False] > 100
