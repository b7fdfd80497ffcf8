"""v1.0 output: sessions, offer sets, direct failures and the canonical request document."""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from jupyterhub_execplanner.model import messages as M
from jupyterhub_execplanner.model.codec import decode_body, encode
from jupyterhub_execplanner.model.draft2023 import parse_request_2023
from jupyterhub_execplanner.model.kinds import OFFERSET_KIND, SESSION_KIND, kind_uri
from jupyterhub_execplanner.model.offer import OfferPlan, OfferSetRecord, SessionRecord
from jupyterhub_execplanner.model.parse import parse_request
from jupyterhub_execplanner.model.phases import Phase
from jupyterhub_execplanner.model.render import (
    component_phase,
    render_direct_failure,
    render_offerset,
    render_session,
    request_from_doc,
    request_to_doc,
)
from jupyterhub_execplanner.model.request import ExecutionRequest

UTC = timezone.utc
NOW = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
BASE = "http://hub/services/execplanner/"
SESSION_UUID = "0f3c1d2e-0000-4000-8000-000000000001"
OFFERSET_UUID = "7b6a0000-0000-4000-8000-000000000000"
NB = kind_uri("executable", "jupyter-notebook")
DOCKER = kind_uri("executable", "docker-container")
COMPUTE = kind_uri("compute", "simple-compute-resource")
DATA = kind_uri("data", "simple-data-resource")
STORAGE = kind_uri("storage", "simple-storage-resource")
VOLUME = kind_uri("volume", "simple-volume-mount")

REQUEST_DOC = {
    "executable": {
        "kind": NB,
        "meta": {"name": "analysis"},
        "location": "https://example.org/notebooks/analysis.ipynb",
        "requirements": "requirements.txt",
    },
    "compute": {
        "kind": COMPUTE,
        "meta": {"name": "compute-001"},
        "cores": {"min": 1, "max": 2},
        "memory": {"min": 1, "max": 4},
        "accelerators": [{"name": "gpu", "type": "nvidia.com/gpu", "count": {"min": 1}}],
        "volumes": [
            {"kind": VOLUME, "path": "/input", "resource": "input-data"},
            {"kind": VOLUME, "path": "/scratch", "mode": "READWRITE", "resource": "scratch"},
        ],
    },
    "storage": [{"kind": STORAGE, "meta": {"name": "scratch"}, "size": {"min": 10}}],
    "data": [{"kind": DATA, "meta": {"name": "input-data"}, "location": "https://x.org/d.fits"}],
    "schedule": {"requested": {"duration": "PT1H"}},
}


def parsed(doc: Any) -> ExecutionRequest:
    result = parse_request(doc, now=NOW)
    assert result.ok and result.request is not None, [m.message for m in result.messages]
    return result.request


OFFER = OfferPlan(
    profile="small",
    profile_name="Small server",
    cores=2,
    memory=4,
    start=datetime(2026, 11, 24, 15, 0, 30, tzinfo=UTC),
    duration=timedelta(hours=1),
    preparing=timedelta(seconds=30),
    releasing=timedelta(seconds=10),
    accelerators={"nvidia.com/gpu": 1},
)


def session(phase: Phase = Phase.OFFERED, **changes: Any) -> SessionRecord:
    record = SessionRecord(
        uuid=SESSION_UUID,
        offerset=OFFERSET_UUID,
        owner="alice",
        name="analysis-offer-0",
        phase=phase,
        created=NOW,
        modified=NOW + timedelta(seconds=2),
        expires=NOW + timedelta(minutes=5),
        request=parsed(REQUEST_DOC),
        offer=OFFER,
    )
    return dataclasses.replace(record, **changes)


def part(name: str) -> str:
    return str(uuid.uuid5(uuid.UUID(SESSION_UUID), name))


def no_none(doc: Any) -> bool:
    if isinstance(doc, dict):
        return all(v is not None and no_none(v) for v in doc.values())
    if isinstance(doc, list):
        return all(no_none(v) for v in doc)
    return True


def test_render_offer() -> None:
    doc = render_session(session(), BASE)
    assert doc["kind"] == SESSION_KIND
    assert doc["meta"] == {
        "uuid": SESSION_UUID,
        "name": "analysis-offer-0",
        "url": f"{BASE}sessions/{SESSION_UUID}",
        "created": "2026-11-24T15:00:00Z",
        "modified": "2026-11-24T15:00:02Z",
        "description": "2 cores, 4 GiB, 1 nvidia.com/gpu on profile 'Small server' (small)",
        "messages": [],
        "options": [
            {
                "kind": "uri:enum-value-option",
                "path": "phase",
                "values": ["ACCEPTED", "REJECTED", "CANCELLED"],
            }
        ],
    }
    assert doc["phase"] == "OFFERED"
    assert doc["expires"] == "2026-11-24T15:05:00Z"
    assert doc["schedule"] == {
        "preparing": {"start": "2026-11-24T15:00:00Z", "duration": "PT30S"},
        "available": {"start": "2026-11-24T15:00:30Z/PT0S", "duration": "PT1H"},
        "releasing": {"start": "2026-11-24T16:00:30Z", "duration": "PT10S"},
    }
    assert doc["executable"] == {
        "kind": NB,
        "meta": {"uuid": part("executable"), "name": "analysis"},
        "phase": "INITIALIZING",
        "location": "https://example.org/notebooks/analysis.ipynb",
        "requirements": "https://example.org/notebooks/requirements.txt",
    }
    assert doc["compute"] == {
        "kind": COMPUTE,
        "meta": {"uuid": part("compute"), "name": "compute-001"},
        "phase": "INITIALIZING",
        "cores": {"min": 2, "max": 2},
        "memory": {"min": 4, "max": 4},
        "accelerators": [
            {
                "name": "gpu",
                "type": "nvidia.com/gpu",
                "resource": "nvidia.com/gpu",
                "count": {"min": 1, "max": 1},
            }
        ],
        "volumes": [
            {
                "kind": VOLUME,
                "meta": {"uuid": part("volume/0")},
                "path": "/input",
                "mode": "READONLY",
                "resource": part("data/0"),
            },
            {
                "kind": VOLUME,
                "meta": {"uuid": part("volume/1")},
                "path": "/scratch",
                "mode": "READWRITE",
                "resource": part("storage/0"),
            },
        ],
    }
    assert doc["storage"] == [
        {
            "kind": STORAGE,
            "meta": {"uuid": part("storage/0"), "name": "scratch"},
            "phase": "INITIALIZING",
            "size": {"min": 10, "max": 10},
        }
    ]
    assert doc["data"] == [
        {
            "kind": DATA,
            "meta": {"uuid": part("data/0"), "name": "input-data"},
            "phase": "INITIALIZING",
            "location": "https://x.org/d.fits",
        }
    ]
    assert doc["connectors"] == []
    assert doc["profile"] == {"slug": "small", "display_name": "Small server"}
    assert no_none(doc)


def test_render_is_stable_and_encodes() -> None:
    first, second = render_session(session(), BASE), render_session(session(), BASE)
    assert first == second
    for fmt in ("json", "yaml"):
        body, content_type = encode(first, fmt)
        assert decode_body(body, content_type, max_size=1 << 20) == (first, fmt)


@pytest.mark.parametrize(
    ("phase", "component", "options"),
    [
        (Phase.INITIAL, "INITIALIZING", ["CANCELLED"]),
        (Phase.OFFERED, "INITIALIZING", ["ACCEPTED", "REJECTED", "CANCELLED"]),
        (Phase.ACCEPTED, "INITIALIZING", ["CANCELLED"]),
        (Phase.WAITING, "INITIALIZING", ["CANCELLED"]),
        (Phase.PREPARING, "PREPARING", ["CANCELLED"]),
        (Phase.AVAILABLE, "AVAILABLE", ["CANCELLED"]),
        (Phase.RUNNING, "RUNNING", ["CANCELLED"]),
        (Phase.RELEASING, "RELEASING", None),
        (Phase.COMPLETED, "COMPLETED", None),
        (Phase.FAILED, "FAILED", None),
        (Phase.CANCELLED, "CANCELLED", None),
        (Phase.REJECTED, "CANCELLED", None),
        (Phase.EXPIRED, "CANCELLED", None),
    ],
)
def test_phases_and_options(phase: Phase, component: str, options: list[str] | None) -> None:
    doc = render_session(session(phase), BASE)
    assert doc["phase"] == phase.value
    assert component_phase(phase) == component
    for key in ("executable", "compute"):
        assert doc[key]["phase"] == component
    assert doc["storage"][0]["phase"] == doc["data"][0]["phase"] == component
    if options is None:
        assert "options" not in doc["meta"]
    else:
        assert doc["meta"]["options"] == [
            {"kind": "uri:enum-value-option", "path": "phase", "values": options}
        ]
    assert doc["expires"] == "2026-11-24T15:05:00Z"


def test_messages_connectors_and_notes() -> None:
    note = M.info("urn:note", "image pull adds ${seconds}s", seconds=20)
    failure = M.error(M.PLATFORM, "the server at ${path} did not start", path="compute")
    connector = {
        "kind": "urn:jupyter",
        "status": "AVAILABLE",
        "protocol": "HTTPS",
        "location": "https://hub/user/alice/x/",
    }
    record = session(
        Phase.FAILED,
        messages=[failure, note],
        connectors=[connector],
        offer=dataclasses.replace(OFFER, notes=(note,), accelerators={}),
    )
    doc = render_session(record, BASE)
    assert doc["meta"]["messages"] == [failure.to_dict(), note.to_dict()]
    assert doc["connectors"] == [connector]
    assert doc["compute"]["accelerators"] == []
    assert doc["meta"]["description"] == "2 cores, 4 GiB on profile 'Small server' (small)"


def test_accelerators_matched_by_position_when_the_platform_renamed_them() -> None:
    record = session(offer=dataclasses.replace(OFFER, accelerators={"amd.com/gpu": 2}))
    (accel,) = render_session(record, BASE)["compute"]["accelerators"]
    assert accel == {
        "name": "gpu",
        "type": "nvidia.com/gpu",
        "resource": "amd.com/gpu",
        "count": {"min": 2, "max": 2},
    }


def test_docker_session_echoes_the_image() -> None:
    request = parsed(
        {
            "executable": {
                "kind": DOCKER,
                "image": {
                    "locations": ["ghcr.io/a/b:1", "docker.io/a/b:1"],
                    "digest": "sha256:ab",
                    "platform": {"os": "linux"},
                },
                "command": ["60"],
                "environment": {"X": "1"},
            },
        }
    )
    doc = render_session(session(request=request), BASE)
    assert doc["executable"] == {
        "kind": DOCKER,
        "meta": {"uuid": part("executable")},
        "phase": "INITIALIZING",
        "image": {
            "locations": ["ghcr.io/a/b:1", "docker.io/a/b:1"],
            "platform": {"os": "linux"},
            "digest": "sha256:ab",
        },
        "command": ["60"],
        "environment": {"X": "1"},
    }
    assert doc["compute"]["volumes"] == []
    assert doc["storage"] == doc["data"] == []


def test_render_offerset_yes() -> None:
    other = session(uuid="0f3c1d2e-0000-4000-8000-000000000002", name="analysis-offer-1")
    record = OfferSetRecord(
        OFFERSET_UUID, "alice", "analysis", NOW, "YES", sessions=[other.uuid, SESSION_UUID]
    )
    doc = render_offerset(record, [session(), other], BASE)
    assert doc["kind"] == OFFERSET_KIND
    assert doc["meta"] == {
        "uuid": OFFERSET_UUID,
        "name": "analysis",
        "url": f"{BASE}offersets/{OFFERSET_UUID}",
        "created": "2026-11-24T15:00:00Z",
        "messages": [],
    }
    assert doc["result"] == "YES"
    assert [o["meta"]["name"] for o in doc["offers"]] == ["analysis-offer-1", "analysis-offer-0"]
    assert doc["offers"][1] == render_session(session(), BASE)
    assert doc["offers"][0]["meta"]["url"] == f"{BASE}sessions/{other.uuid}"
    assert (
        doc["offers"][0]["executable"]["meta"]["uuid"]
        != doc["offers"][1]["executable"]["meta"]["uuid"]
    )


def test_render_offerset_no() -> None:
    result = parse_request({"executable": {"kind": NB}, "compute": {"cores": {"min": 0}}}, now=NOW)
    record = OfferSetRecord(
        OFFERSET_UUID, "alice", "offerset", NOW, "NO", messages=list(result.messages)
    )
    doc = render_offerset(record, [], BASE)
    assert doc["result"] == "NO"
    assert doc["offers"] == []
    (message,) = doc["meta"]["messages"]
    assert message["kind"] == M.INVALID_VALUE
    assert message["level"] == "ERROR"
    assert message["values"]["path"] == "compute.cores.min"
    assert "compute.cores.min" in message["message"]


def test_render_direct_failure() -> None:
    problem = M.error(M.NO_CAPACITY, "no profile can give ${path} 64 cores", path="compute.cores")
    first = render_direct_failure([problem], BASE)
    second = render_direct_failure([problem], BASE)
    assert first["kind"] == SESSION_KIND
    assert first["phase"] == "FAILED"
    assert first["meta"]["messages"] == [problem.to_dict()]
    assert first["meta"]["url"] == f"{BASE}sessions/{first['meta']['uuid']}"
    assert uuid.UUID(first["meta"]["uuid"]).version == 4
    assert first["meta"]["uuid"] != second["meta"]["uuid"]
    assert "expires" in first and "executable" not in first
    json.dumps(first)


# ---- the canonical request document --------------------------------------------------------------

GPU_2023 = {
    "request": {
        "executable": {
            "type": "https://www.purl.org/ivoa.net/executable-types/jupyter-notebook",
            "spec": {
                "notebook": "https://example.org/notebooks/train.ipynb",
                "requirements": "requirements.txt",
            },
        },
        "resources": {
            "compute": [
                {
                    "name": "compute-001",
                    "type": "https://www.purl.org/ivoa.net/resource-types/generic-compute",
                    "spec": {
                        "mincores": 4,
                        "minmemory": 16.5,
                        "extras": [
                            {
                                "name": "nvidia-gpu",
                                "type": "https://tinyurl.com/nvidia-ad104",
                                "spec": {"minmemory": 20},
                            }
                        ],
                    },
                }
            ]
        },
        "datetime": [{"start": "2026-12-01T11:30:00Z/PT30M", "minduration": "PT1H"}],
    }
}
OCI_2023 = {
    "request": {
        "executable": {
            "name": "webtop",
            "type": "https://www.purl.org/ivoa.net/executable-types/oci-container",
            "spec": {
                "repo": "ghcr.io",
                "image": "ivoa/oligia-webtop",
                "tag": "ubuntu",
                "digest": "sha256:1",
            },
        }
    }
}
RICH = {
    "name": "everything",
    "executable": {
        "kind": DOCKER,
        "meta": {"name": "checksum", "description": "sums"},
        "image": {
            "locations": ["a/b:1", "c/d:1"],
            "digest": "sha256:0",
            "platform": {"os": "linux"},
        },
        "command": [60, 0],
        "network": {"ports": [{"internal": {"port": 8888}, "protocol": "HTTP", "path": "/lab"}]},
    },
    "compute": {
        "kind": COMPUTE,
        "meta": {"description": "big"},
        "cores": {"min": 2, "max": 8},
        "memory": {"min": 4, "max": 16},
        "accelerators": [{"resource": "nvidia.com/gpu", "count": {"min": 1, "max": 2}}],
        "volumes": [{"kind": VOLUME, "path": "/in", "mode": "READONLY", "resource": "in"}],
    },
    "storage": [{"kind": STORAGE, "meta": {"name": "tmp"}, "size": {"min": 1, "max": 5}}],
    "data": [
        {"kind": DATA, "meta": {"name": "in"}, "location": "file:/data/x"},
        {
            "kind": kind_uri("data", "S3-data-resource"),
            "meta": {"name": "s3"},
            "endpoint": "https://s3.x.org",
            "bucket": "b",
            "object": "o",
        },
        {
            "kind": kind_uri("data", "skao-data-resource"),
            "skao": {"replicas": [{"dataurl": "davs://r"}]},
            "ivoa": {"ivoid": "ivo://x"},
        },
        {"kind": kind_uri("data", "rucio-data-resource"), "rucio": {"scope": "s", "type": "FILE"}},
    ],
    "schedule": {"requested": {"start": "2026-12-01T10:00:00.250Z/PT1H30M", "duration": "P1DT2H"}},
    "costs": [
        {
            "kind": kind_uri("costs", "simple-minmax-float-cost"),
            "type": "urn:ivoa:calycopis:cost:monetary",
            "max": 2,
        }
    ],
    "metrics": [
        {
            "kind": kind_uri("metrics", "simple-minmax-float-metric"),
            "min": 0.5,
            "description": "speed",
        }
    ],
}
INTERIM = {
    "executable": {
        "kind": "https://www.purl.org/ivoa.net/EB/schema/v1.0/types/executable/"
        "jupyter-notebook-1.0",
        "meta": {"name": "executable-001"},
        "location": "https://x.org/a.ipynb",
    },
    "compute": {
        "kind": "https://www.purl.org/ivoa.net/EB/schema/v1.0/types/compute/"
        "simple-compute-resource-1.0",
        "cores": {"min": 5, "max": 15},
    },
    "schedule": {"requested": {"start": "2026-12-01T22:00:00Z"}},
}


@pytest.mark.parametrize(
    ("doc", "reader"),
    [
        (REQUEST_DOC, "v1.0"),
        ({"executable": {"kind": NB}}, "v1.0"),
        (RICH, "v1.0"),
        (INTERIM, "v1.0"),
        (
            {
                "executable": {
                    "kind": kind_uri("executable", "singularity-container"),
                    "location": "library://a/b:1",
                },
                "meta": {"name": "top"},
            },
            "v1.0",
        ),
        (GPU_2023, "2023"),
        (OCI_2023, "2023"),
    ],
    ids=["notebook", "minimal", "rich", "interim", "singularity", "gpu-2023", "oci-2023"],
)
def test_request_round_trip(doc: Any, reader: str) -> None:
    parse = parse_request if reader == "v1.0" else parse_request_2023
    result = parse(doc, now=NOW)
    assert result.ok and result.request is not None, [m.message for m in result.messages]
    original = result.request
    canonical = request_to_doc(original)
    assert canonical["executable"]["kind"].startswith(
        "https://www.purl.org/ivoa.net/Calycopis-openapi/schema/v1.0/kinds/executable/"
    )
    assert no_none(canonical)
    again = parse_request(canonical, now=NOW)
    assert again.ok and again.request is not None, [m.message for m in again.messages]
    assert again.request.dialect == "v1.0"
    assert dataclasses.replace(again.request, dialect=original.dialect) == original
    assert request_to_doc(again.request) == canonical
    assert request_from_doc(json.loads(json.dumps(canonical))) == again.request


def test_request_to_doc_shape() -> None:
    doc = request_to_doc(parsed(RICH))
    assert doc["name"] == "everything"
    assert doc["executable"]["image"] == {
        "locations": ["a/b:1", "c/d:1"],
        "platform": {"os": "linux"},
        "digest": "sha256:0",
    }
    assert doc["schedule"] == {
        "requested": {
            "start": "2026-12-01T10:00:00.250000Z/2026-12-01T11:30:00.250000Z",
            "duration": "P1DT2H",
        }
    }
    assert doc["data"][1] == {
        "kind": kind_uri("data", "S3-data-resource"),
        "meta": {"name": "s3"},
        "endpoint": "https://s3.x.org",
        "bucket": "b",
        "object": "o",
    }
    assert doc["costs"] == [
        {
            "kind": kind_uri("costs", "simple-minmax-float-cost"),
            "type": "urn:ivoa:calycopis:cost:monetary",
            "max": 2.0,
        }
    ]
    assert "storage" not in request_to_doc(parsed({"executable": {"kind": NB}}))


def test_request_from_doc_accepts_old_windows() -> None:
    old = {"executable": {"kind": NB}, "schedule": {"requested": {"start": "2020-01-01T00:00:00Z"}}}
    assert request_from_doc(old).schedule.start_earliest == datetime(2020, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    "doc", [None, {}, {"executable": {"kind": "x"}}, {"executable": {"kind": NB}, "compute": 5}]
)
def test_request_from_doc_refuses_bad_documents(doc: Any) -> None:
    with pytest.raises(ValueError, match="not a valid ExecutionRequest"):
        request_from_doc(doc)
