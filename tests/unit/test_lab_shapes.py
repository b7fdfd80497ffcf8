"""The lab server's pure parts: broker documents -> panel shapes, the ask body -> a v1.0 request, the
hub body, and where the own hub's broker is."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from typing import Any

import pytest

from jupyterhub_execplanner.client import HubAnswer
from jupyterhub_execplanner.labserver import shapes
from jupyterhub_execplanner.labserver.asking import build_request, parse_ask
from jupyterhub_execplanner.labserver.hubs import (
    FieldError,
    UntrustedHost,
    host_is_trusted,
    own_broker_url,
    parse_hub,
)
from jupyterhub_execplanner.model.parse import parse_request

BASE = "https://b.example.org/services/execplanner/"
UUID = "0f3c2a9e-6f1b-4c55-9d0e-2b7c1d4e5f60"
K = "urn:execplanner:"


def msg(kind: str, text: str, time: str = "2026-11-24T15:00:00Z", **values: str) -> dict[str, Any]:
    return {"kind": kind, "time": time, "level": "INFO", "template": text, "values": values,
            "message": text}


def session(phase: str = "OFFERED", messages: list | None = None, connectors: list | None = None,
            **extra: Any) -> dict[str, Any]:
    return {
        "kind": "x", "phase": phase, "expires": "2026-11-24T15:05:00Z",
        "meta": {"uuid": UUID, "url": f"{BASE}sessions/{UUID}", "messages": messages or [],
                 "description": "2 cores, 4 GiB on profile 'Small server' (small)"},
        "schedule": {"preparing": {"start": "2026-11-24T15:00:00Z", "duration": "PT30S"},
                     "available": {"start": "2026-11-24T15:00:30Z/PT0S", "duration": "PT1H30M"},
                     "releasing": {"start": "2026-11-24T16:30:30Z", "duration": "PT10S"}},
        "executable": {"kind": "nb", "location": "https://a.example.org/services/execplanner/"
                       "snapshots/TOKEN/my%20analysis.ipynb"},
        "compute": {"cores": {"min": 2, "max": 2}, "memory": {"min": 4, "max": 4},
                    "accelerators": [{"resource": "nvidia.com/gpu", "count": {"min": 1, "max": 1}}]},
        "connectors": connectors or [],
        "profile": {"slug": "small", "display_name": "Small server"},
        **extra,
    }


# -- progress ---------------------------------------------------------------------------------------

PRELOAD = msg(f"{K}preload", "installing numpy")
ACCEPTED = msg("urn:phase-change", "alice set the phase to ACCEPTED.", phase="ACCEPTED")


@pytest.mark.parametrize(
    "phase,messages,expected",
    [
        ("OFFERED", [], 0),
        ("ACCEPTED", [ACCEPTED], 10),
        ("WAITING", [], 20),
        ("PREPARING", [], 40),
        ("PREPARING", [PRELOAD], 48),
        ("PREPARING", [PRELOAD] * 3 + [msg(f"{K}hub-progress", "spawning")], 72),
        ("PREPARING", [PRELOAD] * 20, 80),  # capped
        ("AVAILABLE", [], 100),
        ("RUNNING", [], 100),
        ("RELEASING", [], 100),
        ("COMPLETED", [], 100),
        ("CANCELLED", [], 0),  # an offer cancelled before anything happened
        ("CANCELLED", [ACCEPTED], 10),
        ("CANCELLED", [ACCEPTED, msg(f"{K}waiting", "waiting")], 20),
        ("FAILED", [ACCEPTED, msg(f"{K}preparing", "p"), PRELOAD, PRELOAD,
                    msg(f"{K}preload-failed", "numpy==99 not found")], 56),
        ("FAILED", [msg(f"{K}server-ready", "ready")], 100),
        ("REJECTED", [], 0),
        ("EXPIRED", [], 0),
        ("SOMETHING", [], 0),
    ],
)
def test_progress(phase: str, messages: list, expected: int) -> None:
    assert shapes.progress(phase, messages) == expected


# -- open_url ---------------------------------------------------------------------------------------

LAB = "https://b.example.org/user/alice/ep-0f3c2a9e6f1b/lab/tree/execplanner/ep-0f3c2a9e6f1b/x.ipynb"
SERVER = "https://b.example.org/user/alice/ep-0f3c2a9e6f1b/"


def connector(location: str, status: str = "AVAILABLE") -> dict[str, Any]:
    return {"kind": f"{K}connector:jupyter", "status": status, "protocol": "HTTPS", "location": location}


@pytest.mark.parametrize(
    "phase,connectors,expected",
    [
        ("AVAILABLE", [connector(LAB)], LAB),  # what this broker writes: used as it is
        ("RUNNING", [connector(LAB)], LAB),
        ("AVAILABLE", [connector(SERVER)],
         SERVER + "lab/tree/execplanner/ep-0f3c2a9e6f1b/my_analysis.ipynb"),
        ("AVAILABLE", [connector(SERVER.rstrip("/"))],
         SERVER + "lab/tree/execplanner/ep-0f3c2a9e6f1b/my_analysis.ipynb"),
        ("AVAILABLE", [connector(SERVER, "FINISHED"), connector(LAB)], LAB),
        ("AVAILABLE", [connector("/user/alice/x/")], None),  # not absolute: cannot be opened
        ("AVAILABLE", [], None),
        ("PREPARING", [connector(LAB)], None),
        ("COMPLETED", [connector(LAB, "FINISHED")], None),
    ],
)
def test_open_url(phase: str, connectors: list, expected: str | None) -> None:
    assert shapes.open_url(session(phase, connectors=connectors)) == expected


def test_open_url_without_a_notebook_opens_lab() -> None:
    doc = session("AVAILABLE", connectors=[connector(SERVER)])
    doc["executable"].pop("location")
    assert shapes.open_url(doc) == SERVER + "lab"


# -- figures, offers, sessions ------------------------------------------------------------------------

@pytest.mark.parametrize(
    "items,expected",
    [
        (None, []),
        ([], []),
        ([{"kind": "k", "type": "urn:ivoa:calycopis:cost:monetary", "min": 1.5, "max": 2.0,
           "unit": "EUR", "description": "price"}],
         [{"type": "urn:ivoa:calycopis:cost:monetary", "min": 1.5, "max": 2.0, "unit": "EUR",
           "description": "price"}]),
        ([{"type": "urn:execplanner:metric:data-local", "max": 1}],
         [{"type": "urn:execplanner:metric:data-local", "min": 1, "max": 1, "unit": None,
           "description": None}]),
        ([{"min": 1}, "junk", {"type": "t", "min": "x"}],
         [{"type": "t", "min": None, "max": None, "unit": None, "description": None}]),
    ],
)
def test_figures(items: Any, expected: list) -> None:
    assert shapes.figures(items) == expected


def test_offer_shape() -> None:
    costs = [{"type": "urn:ivoa:calycopis:cost:energy", "min": 0.1, "max": 0.2, "unit": "kWh"}]
    doc = session(messages=[msg("urn:x", "second", "2026-11-24T15:00:02Z"),
                            msg("urn:x", "first", "2026-11-24T15:00:01Z")], costs=costs)
    assert shapes.offer_shape("B", doc) == {
        "hub": "B", "uuid": UUID, "url": f"{BASE}sessions/{UUID}", "profile": "Small server",
        "cores": 2, "memory": 4, "accelerators": {"nvidia.com/gpu": 1},
        "start": "2026-11-24T15:00:30Z", "duration": 5400, "preparing": 30,
        "expires": "2026-11-24T15:05:00Z",
        "costs": [{"type": "urn:ivoa:calycopis:cost:energy", "min": 0.1, "max": 0.2, "unit": "kWh",
                   "description": None}],
        "metrics": [], "notes": ["first", "second"], "profile_about": None,
    }
    doc["profile"] = {"slug": "small", "display_name": "Small server"}
    summary = {"slug": "small", "description": "A server on this host.", "cores": {"min": 1, "max": 8},
               "memory": {"min": 1, "max": None}}
    assert shapes.offer_shape("B", doc, {"small": summary})["profile_about"] == {
        "description": "A server on this host.", "cores_max": 8, "memory_max": None}
    assert shapes.offer_shape("B", doc, {"other": summary})["profile_about"] is None


def test_session_shape() -> None:
    doc = session("PREPARING", messages=[ACCEPTED, PRELOAD])
    shape = shapes.session_shape("B", doc)
    assert shape["phase"] == "PREPARING" and shape["progress"] == 48
    assert shape["messages"] == ["alice set the phase to ACCEPTED.", "installing numpy"]
    assert shape["open_url"] is None and shape["terminal"] is False
    assert (shape["cores"], shape["memory"], shape["duration"]) == (2, 4, 5400)
    assert shapes.session_shape("B", session("CANCELLED"))["terminal"] is True


@pytest.mark.parametrize(
    "phase,kinds,stopping",
    [
        ("CANCELLED", [], False),  # never had a server
        ("CANCELLED", ["starting-server"], True),
        ("CANCELLED", ["server-ready", "server-stopped"], False),
        ("FAILED", ["hub-progress", "stop-failed"], False),
        ("COMPLETED", ["server-active", "no-server"], False),
        ("AVAILABLE", ["server-ready"], False),  # not ended: not "stopping"
    ],
)
def test_ended_session_is_stopping_until_its_server_is_gone(phase: str, kinds: list, stopping: bool) -> None:
    doc = session(phase, messages=[msg(K + kind, kind) for kind in kinds])
    assert shapes.session_shape("B", doc)["stopping"] is stopping


def test_the_snapshot_clears_outputs() -> None:
    from jupyterhub_execplanner.labserver.notebooks import clear_outputs, output_count

    cells = [{"cell_type": "code", "execution_count": 2, "source": "1/0", "metadata": {},
              "outputs": [{"output_type": "error", "ename": "ZeroDivisionError"}]},
             {"cell_type": "markdown", "source": "# é", "metadata": {}}]
    text = json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
    assert output_count(text) == 1
    cleared = json.loads(clear_outputs(text))
    assert cleared["cells"][0]["outputs"] == [] and cleared["cells"][0]["execution_count"] is None
    assert cleared["cells"][1] == cells[1]
    assert output_count(clear_outputs(text)) == 0
    for odd in ("not json", "[]", '{"cells": 3}'):
        assert clear_outputs(odd) == odd and output_count(odd) == 0


def test_shapes_of_broken_documents_do_not_raise() -> None:
    shape = shapes.session_shape("B", {"phase": 3, "meta": "x", "compute": [], "schedule": {}})
    assert shape["uuid"] is None and shape["cores"] is None and shape["messages"] == []


# what another hub (or a YAML answer) may put where a field should be
ODD = [None, 3, -1.5, float("inf"), float("nan"), True, "", "x", "http://[oops", [], [1, "a", None, [2]],
       {}, {"a": [1]}, {"min": "x", "max": float("inf")}, [{"kind": ["k"], "time": {"t": 1}}],
       [{"resource": "gpu", "count": {"min": float("inf")}}], datetime(2026, 1, 1), date(2026, 1, 1)]


def _paths(doc: Any, prefix: tuple = ()) -> list[tuple]:
    """Every key path of a nested document (through dicts and list items)."""
    out = [prefix] if prefix else []
    items = doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else []
    for key, value in items:
        out.extend(_paths(value, (*prefix, key)))
    return out


def _replaced(doc: Any, path: tuple, value: Any) -> Any:
    copy = json.loads(json.dumps(doc))
    target = copy
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return copy


FULL = session("AVAILABLE", messages=[ACCEPTED, PRELOAD],
               connectors=[{"status": "AVAILABLE", "location": "https://b.example.org/user/a/ep-1/"}],
               costs=[{"type": "urn:cost", "min": 1, "max": 2, "unit": "EUR"}],
               metrics=[{"type": "urn:m", "min": 0.5, "unit": "s"}])


def test_every_odd_field_type_is_shaped_without_raising() -> None:
    """session_shape, offer_shape and answer_shape are total: each field of a full session replaced
    by each odd value gives a shape that JSON can carry (no infinities, no dates, no exceptions)."""
    paths = _paths(FULL)
    assert len(paths) > 60
    for path in paths:
        for value in ODD:
            doc = _replaced(FULL, path, value)
            for phase in ("AVAILABLE", "FAILED", "PREPARING"):
                doc["phase"] = phase if path != ("phase",) else value
                shaped = [shapes.session_shape("B", doc), shapes.offer_shape("B", doc),
                          shapes.answer_shape(HubAnswer("B", True, {"result": "YES", "offers": [doc]},
                                                        None, 0.1))]
                json.dumps(shaped, allow_nan=False)  # raises on inf, nan or a datetime
    for value in ODD:
        assert shapes.session_shape("B", value)["phase"] == ""
        json.dumps([shapes.session_shape("B", value), shapes.offer_shape("B", value),
                    shapes.answer_shape(HubAnswer("B", True, {"result": "YES", "offers": value}, None, 0)),
                    shapes.answer_shape(HubAnswer("B", True, value, None, 0))], allow_nan=False)


def test_odd_fields_give_none_not_garbage() -> None:
    doc = _replaced(FULL, ("meta", "uuid"), {"not": "a uuid"})
    doc["compute"]["cores"]["min"] = float("inf")
    doc["profile"] = {"display_name": ["x"], "slug": 7}
    doc["connectors"] = [{"status": "AVAILABLE", "location": "http://[oops/"}]
    shape = shapes.session_shape("B", doc)
    assert shape["uuid"] is None and shape["cores"] is None and shape["open_url"] is None
    assert shape["profile"] == FULL["meta"]["description"]
    assert shapes.session_shape("B", {**FULL, "phase": ["AVAILABLE"]})["progress"] == 0


# -- answers ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "answer,status,messages,offers",
    [
        (HubAnswer("A", True, {"result": "YES", "meta": {"url": "u"}, "offers": [session()]}, None, 0.2),
         "YES", [], 1),
        (HubAnswer("A", True, {"result": "NO", "meta": {"url": "u", "messages": [
            msg("urn:resource-limit", "compute.cores.min 64 is more than 8")]}, "offers": []}, None, 0.1),
         "NO", ["compute.cores.min 64 is more than 8"], 0),
        (HubAnswer("A", True, {"result": "NO"}, None, 0.1), "NO",
         ["The hub answered NO without a reason."], 0),
        (HubAnswer("C", False, None, "timed out after 2s", 2.0), "timeout", ["timed out after 2s"], 0),
        (HubAnswer("C", False, None, "cannot connect: refused", 0.01), "error",
         ["cannot connect: refused"], 0),
    ],
)
def test_answer_shape(answer: HubAnswer, status: str, messages: list, offers: int) -> None:
    shape = shapes.answer_shape(answer)
    assert shape["status"] == status and shape["messages"] == messages
    assert len(shape["offers"]) == offers and shape["hub"] == answer.hub
    assert shape["offerset"] == ("u" if answer.ok and answer.offerset.get("meta") else None)


# -- the ask body and the request ---------------------------------------------------------------------

ASK = {"hubs": ["A", "B", "A"], "path": "/project/analysis.ipynb", "cores": {"min": 1, "max": 2},
       "memory": {"min": 2}, "gpus": 1, "duration": 7200,
       "start": {"earliest": "2026-11-24T16:00:00Z", "latest": "2026-11-24T18:00:00Z"}, "timeout": 3}
NOW = datetime(2026, 11, 24, 15, 0, tzinfo=timezone.utc)


def test_ask_to_request_parses_as_v1() -> None:
    ask = parse_ask(ASK, 5)
    assert ask.hubs == ("A", "B") and ask.path == "project/analysis.ipynb" and ask.timeout == 3
    assert ask.memory == (2, 2)
    doc = build_request(ask, "https://a/snapshots/T/analysis.ipynb", "https://a/snapshots/T/requirements.txt",
                        NOW)
    assert doc["schedule"]["requested"] == {"duration": "PT2H",
                                            "start": "2026-11-24T16:00:00Z/2026-11-24T18:00:00Z"}
    parsed = parse_request(doc, now=NOW)
    assert parsed.ok, [m.message for m in parsed.messages]
    request = parsed.request
    assert request.executable.location == "https://a/snapshots/T/analysis.ipynb"
    assert request.executable.requirements == "https://a/snapshots/T/requirements.txt"
    assert (request.compute.cores.min, request.compute.cores.max) == (1, 2)
    assert request.compute.accelerators[0].resource == "nvidia.com/gpu"


def test_ask_defaults() -> None:
    ask = parse_ask({"hubs": ["A"], "path": "a.ipynb", "cores": {"min": 1}, "memory": {"min": 1}}, 5)
    assert (ask.gpus, ask.duration, ask.timeout, ask.earliest) == (0, 3600, 5.0, None)
    doc = build_request(ask, "https://a/n.ipynb", None, NOW)
    assert "requirements" not in doc["executable"] and "accelerators" not in doc["compute"]
    assert doc["schedule"]["requested"] == {"duration": "PT1H"}
    late = parse_ask({**ASK, "start": {"latest": "2026-11-24T18:00:00Z"}}, 5)
    assert build_request(late, "u", None, NOW)["schedule"]["requested"]["start"] == (
        "2026-11-24T15:00:00Z/2026-11-24T18:00:00Z")


@pytest.mark.parametrize(
    "change,field",
    [
        ({"hubs": []}, "hubs"),
        ({"hubs": "A"}, "hubs"),
        ({"path": ""}, "path"),
        ({"path": "a.py"}, "path"),
        ({"path": "../x.ipynb"}, "path"),
        ({"cores": None}, "cores"),
        ({"cores": {"min": 0}}, "cores.min"),
        ({"cores": {"min": 2, "max": 1}}, "cores.max"),
        ({"memory": {"min": 1.5}}, "memory.min"),
        ({"gpus": -1}, "gpus"),
        ({"duration": "1h"}, "duration"),
        ({"start": {"earliest": "tomorrow"}}, "start.earliest"),
        ({"start": {"earliest": "2026-11-24T18:00:00Z", "latest": "2026-11-24T16:00:00Z"}},
         "start.latest"),
        ({"timeout": 0}, "timeout"),
        ({"timeout": 1000}, "timeout"),
    ],
)
def test_bad_ask_names_the_field(change: dict, field: str) -> None:
    with pytest.raises(FieldError) as info:
        parse_ask({**ASK, **change}, 5)
    assert str(info.value).startswith(field)


DATA = [{"name": "survey", "location": "https://archive.example.org/survey/cat.fits"},
        {"name": "dr1", "ivoid": "ivo://example.org/survey?dr1"},
        {"name": "obj_1", "s3": {"bucket": "survey", "key": "dr1/cat.fits"}},
        {"name": "raw.ms", "rucio": {"scope": "skao", "name": "raw.ms"}}]


def test_ask_data_becomes_resources_and_read_only_volumes() -> None:
    ask = parse_ask({**ASK, "data": DATA}, 5)
    assert [(d.name, d.form) for d in ask.data] == [
        ("survey", "location"), ("dr1", "ivoid"), ("obj_1", "s3"), ("raw.ms", "rucio")]
    doc = build_request(ask, "https://a/n.ipynb", None, NOW)
    kinds = [d["kind"].rsplit("/", 1)[1] for d in doc["data"]]
    assert kinds == ["simple-data-resource.yaml", "ivoa-data-resource.yaml", "S3-data-resource.yaml",
                     "rucio-data-resource.yaml"]
    assert doc["data"][2]["bucket"] == "survey" and doc["data"][2]["object"] == "dr1/cat.fits"
    assert doc["data"][3]["rucio"] == {"scope": "skao", "object": "raw.ms"}
    parsed = parse_request(doc, now=NOW)
    assert parsed.ok, [m.message for m in parsed.messages]
    request = parsed.request
    assert [(d.kind, d.name) for d in request.data] == [
        ("simple-data-resource", "survey"), ("ivoa-data-resource", "dr1"), ("S3-data-resource", "obj_1"),
        ("rucio-data-resource", "raw.ms")]
    assert request.data[0].location == "https://archive.example.org/survey/cat.fits"
    assert request.data[1].extra["ivoa"] == {"ivoid": "ivo://example.org/survey?dr1"}
    assert [(v.path, v.mode, v.resource) for v in request.compute.volumes] == [
        ("/data/survey", "READONLY", "survey"), ("/data/dr1", "READONLY", "dr1"),
        ("/data/obj_1", "READONLY", "obj_1"), ("/data/raw.ms", "READONLY", "raw.ms")]
    assert "volumes" not in build_request(parse_ask(ASK, 5), "u", None, NOW)["compute"]
    assert parse_ask({**ASK, "data": []}, 5).data == ()


@pytest.mark.parametrize(
    "data,field",
    [
        ({"name": "x"}, "data"),
        ([{"name": "s", "location": "u"}] * 21, "data"),
        (["https://a/b"], "data[0]"),
        ([{"location": "https://a/b"}], "data[0].name"),
        ([{"name": "../x", "location": "https://a/b"}], "data[0].name"),
        ([{"name": "a b", "location": "https://a/b"}], "data[0].name"),
        ([{"name": ".hidden", "location": "https://a/b"}], "data[0].name"),
        ([{"name": "x"}], "data[0]"),
        ([{"name": "x", "location": "https://a/b", "ivoid": "ivo://a"}], "data[0]"),
        ([{"name": "x", "location": "ftp://a/b"}], "data[0].location"),
        ([{"name": "x", "location": "https://a/b"}, {"name": "y", "location": ""}], "data[1].location"),
        ([{"name": "x", "ivoid": "https://a/b"}], "data[0].ivoid"),
        ([{"name": "x", "s3": "bucket/key"}], "data[0].s3"),
        ([{"name": "x", "s3": {"bucket": "b"}}], "data[0].s3.key"),
        ([{"name": "x", "s3": {"bucket": "a/b", "key": "k"}}], "data[0].s3.bucket"),
        ([{"name": "x", "rucio": {"name": "n"}}], "data[0].rucio.scope"),
        ([{"name": "x", "location": "https://a/b"}, {"name": "x", "ivoid": "ivo://a/b"}], "data[1].name"),
    ],
)
def test_bad_ask_data_names_the_field(data: Any, field: str) -> None:
    with pytest.raises(FieldError) as info:
        parse_ask({**ASK, "data": data}, 5)
    assert str(info.value).startswith(field + " "), str(info.value)


# -- hubs ---------------------------------------------------------------------------------------------

def test_parse_hub_stores_the_broker_url() -> None:
    hub = parse_hub({"name": "b", "url": "https://b.example.org/hub/", "token": " t0k "}, "execplanner",
                    "this-hub")
    assert (hub.url, hub.token, hub.own) == (BASE, "t0k", False)
    assert hub.public() == {"name": "b", "url": BASE, "own": False, "has_token": True,
                            "kind": "added", "link": None}
    broker = parse_hub({"name": "c", "url": "https://c.example.org/x/services/ep/", "token": "t"},
                       "execplanner", None)
    assert broker.url == "https://c.example.org/x/services/ep/"


@pytest.mark.parametrize(
    "doc,field",
    [
        ([], "The body"),
        ({"url": "https://b/", "token": "t"}, "name"),
        ({"name": "a/b", "url": "https://b/", "token": "t"}, "name"),
        ({"name": "this-hub", "url": "https://b/", "token": "t"}, "name"),
        ({"name": "b", "token": "t"}, "url"),
        ({"name": "b", "url": "ftp://b/", "token": "t"}, "url"),
        ({"name": "b", "url": "https://b/"}, "token"),
        ({"name": "b", "url": "https://b/", "token": "a b"}, "token"),
    ],
)
def test_bad_hub_names_the_field(doc: Any, field: str) -> None:
    with pytest.raises(FieldError) as info:
        parse_hub(doc, "execplanner", "this-hub")
    assert str(info.value).startswith(field)


HUB_ENV = {"JUPYTERHUB_API_URL": "http://127.0.0.1:8081/hub/api", "JUPYTERHUB_API_TOKEN": "t",
           "JUPYTERHUB_BASE_URL": "/"}


@pytest.mark.parametrize(
    "env,configured,origin,expected",
    [
        ({}, "", "http://h:8000", None),  # not under a hub
        ({**HUB_ENV, "JUPYTERHUB_API_TOKEN": ""}, "", "http://h:8000", None),
        (HUB_ENV, "", "http://127.0.0.1:8000", "http://127.0.0.1:8000/services/ep/"),
        (HUB_ENV, "", "http://localhost:8000", "http://localhost:8000/services/ep/"),
        (HUB_ENV, "", None, None),
        ({**HUB_ENV, "JUPYTERHUB_BASE_URL": "/jhub/"}, "", "https://[::1]", "https://[::1]/jhub/services/ep/"),
        ({**HUB_ENV, "JUPYTERHUB_PUBLIC_URL": "https://pub.org/user/alice/"}, "", "http://h:8000",
         "https://pub.org/services/ep/"),
        ({**HUB_ENV, "JUPYTERHUB_PUBLIC_HUB_URL": "https://pub.org/jhub/hub/",
          "JUPYTERHUB_BASE_URL": "/jhub/"}, "", "http://h:8000", "https://pub.org/jhub/services/ep/"),
        ({**HUB_ENV, "JUPYTERHUB_PUBLIC_HUB_URL": "https://pub.org/hub/"}, "https://own.org/", "http://h",
         "https://own.org/services/ep/"),
    ],
)
def test_own_broker_url(env: dict, configured: str, origin: str | None, expected: str | None) -> None:
    assert own_broker_url(env, "ep", configured=configured, request_origin=origin) == expected


@pytest.mark.parametrize(
    "api,origin,trusted,expected",
    [
        ("http://127.0.0.1:8081/hub/api", "http://127.0.0.1:8000", [], True),  # the proxy's port
        ("http://127.0.0.1:8081/hub/api", "http://localhost:8000", [], True),
        ("http://localhost:8081/hub/api", "http://[::1]:8000", [], True),
        ("http://hub:8081/hub/api", "http://HUB:8000", [], True),
        ("http://127.0.0.1:8081/hub/api", "http://evil.example:80", [], False),
        ("http://127.0.0.1:8081/hub/api", "http://127.0.0.1.evil.example", [], False),
        ("http://hub:8081/hub/api", "http://127.0.0.1:8000", [], False),  # not the hub's machine
        ("http://127.0.0.1:8081/hub/api", "https://hub.example.org", ["hub.example.org"], True),
        ("http://127.0.0.1:8081/hub/api", "https://hub.example.org", ["Hub.Example.org:443"], True),
        ("http://127.0.0.1:8081/hub/api", "https://hub.example.org:8443", ["hub.example.org:443"], False),
        ("http://127.0.0.1:8081/hub/api", "https://hub.example.org.evil", ["hub.example.org"], False),
        ("http://127.0.0.1:8081/hub/api", "http://127.0.0.1:notaport", [], False),
        ("", "http://127.0.0.1:8000", [], False),
    ],
)
def test_host_is_trusted(api: str, origin: str, trusted: list, expected: bool) -> None:
    assert host_is_trusted({"JUPYTERHUB_API_URL": api}, origin, trusted) is expected


def test_an_untrusted_host_is_refused_naming_the_settings() -> None:
    with pytest.raises(UntrustedHost) as info:
        own_broker_url(HUB_ENV, "ep", request_origin="http://evil.example:80")
    assert "c.JupyterHub.public_url" in str(info.value) and "own_hub_url" in str(info.value)
    assert info.value.url == "http://evil.example:80/services/ep/"  # to show, never to call
    assert own_broker_url(HUB_ENV, "ep", request_origin="http://evil.example:80",
                          trusted_hosts=["evil.example"]) == "http://evil.example:80/services/ep/"
    # a public URL makes the request's host irrelevant
    public = {**HUB_ENV, "JUPYTERHUB_PUBLIC_URL": "https://pub.org/"}
    assert own_broker_url(public, "ep", request_origin="http://evil.example") == "https://pub.org/services/ep/"
