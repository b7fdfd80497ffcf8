"""The lab server extension on a real jupyter server (a subprocess), against two real hubs with the
broker (A is the server's own hub, B another one), a hub that never answers and one that is down."""

from __future__ import annotations

import json
import secrets
import stat
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from brokers import E2E_SETTINGS
from hostile import HOSTILE
from hubprocess import RealHub, free_port
from labprocess import LabServer
from loopback import Loopback, Silent

HUB_SETTINGS = {**E2E_SETTINGS, "offer_expiry": 120}
SURVEY = bytes(range(250)) * 400  # 100 kB on the archive site; hub A holds its own copy
KINDS = "https://www.purl.org/ivoa.net/Calycopis-openapi/schema/v1.0/kinds"
DATA_TYPES = ("urn:execplanner:metric:data-bytes", "urn:execplanner:metric:data-transfer-time",
              "urn:execplanner:metric:data-local")
NOTEBOOK = json.dumps({"cells": [{"cell_type": "markdown", "metadata": {}, "source": "# é"}],
                       "metadata": {}, "nbformat": 4, "nbformat_minor": 5}, indent=1)
REQUIREMENTS = "numpy\n"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    archive = tmp_path_factory.mktemp("archive")
    (archive / "survey").mkdir()
    (archive / "survey" / "cat.fits").write_bytes(SURVEY)
    site = Loopback(archive)
    held = tmp_path_factory.mktemp("a-disk")
    (held / "cat.fits").write_bytes(b"hub A's copy")
    # hub A holds the survey (a data collection); hub B would download it, at 50 kB/s
    settings = {"lab-hub-a": {**HUB_SETTINGS, "data_collections": {
                    "survey": {"path": str(held), "url_prefix": f"{site.url}/survey/"}}},
                "lab-hub-b": {**HUB_SETTINGS, "data_bandwidth": {site.url: 50_000}}}
    with ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(RealHub.start, tmp_path_factory.mktemp(name), settings=settings[name])
                   for name in settings]
        hubs = [f.result() for f in futures]
    a, b = hubs
    silent = Silent()
    server = None
    try:
        env = {"JUPYTERHUB_API_URL": f"{a.url}/hub/api", "JUPYTERHUB_API_TOKEN": a.user_token("alice"),
               "JUPYTERHUB_PUBLIC_HUB_URL": f"{a.url}/hub/"}
        server = LabServer(tmp_path_factory.mktemp("lab-server"), env, ["--ExecPlannerLab.timeout=2"])
        work = server.root / "work"
        work.mkdir()
        (work / "analysis.ipynb").write_text(NOTEBOOK)
        (work / "requirements.txt").write_text(REQUIREMENTS)
        (server.root / "alone.ipynb").write_text(NOTEBOOK)
        yield {"a": a, "b": b, "silent": silent, "server": server, "site": site}
    finally:
        if server is not None:
            server.stop()
        silent.close()
        site.close()
        for hub in hubs:
            hub.stop()


@pytest.fixture
def lab(world: dict[str, Any]) -> Iterator[LabServer]:
    """The server with hubs B, slow (never answers) and down (nothing listens) added."""
    server: LabServer = world["server"]
    hubs = [("B", world["b"].url, world["b"].user_token("alice")), ("slow", world["silent"].url, "x"),
            ("down", f"http://127.0.0.1:{free_port()}/", "x")]
    for name, url, token in hubs:  # the slow and down ones cannot pass the check
        body = {"name": name, "url": url, "token": token, "check": name == "B"}
        assert server.post("hubs", body).status_code == 201
    yield server
    for name, _url, _token in hubs:
        server.http.delete(f"execplanner/hubs/{name}")


def ask(**change: Any) -> dict[str, Any]:
    return {"hubs": ["this-hub", "B"], "path": "work/analysis.ipynb", "cores": {"min": 1, "max": 2},
            "memory": {"min": 1}, "duration": 1800, "timeout": 2, **change}


def test_hubs_are_kept_privately_and_tokens_never_shown(world: dict[str, Any]) -> None:
    server: LabServer = world["server"]
    a, b = world["a"], world["b"]
    assert server.get("hubs").json() == {"hubs": [
        {"name": "this-hub", "url": a.broker, "own": True, "has_token": True, "kind": "own",
         "link": None}]}
    token = b.user_token("alice")
    added = server.post("hubs", {"name": "B", "url": b.url, "token": token})
    assert added.status_code == 201
    assert added.json() == {"name": "B", "url": b.broker, "own": False, "has_token": True,
                            "kind": "added", "link": None, "user": "alice"}  # checked: "connected as alice"
    again = server.post("hubs", {"name": "B", "url": b.broker, "token": token})  # replaces it
    assert again.status_code == 201
    listed = server.get("hubs")
    assert [h["name"] for h in listed.json()["hubs"]] == ["this-hub", "B"]
    assert token not in listed.text and token not in added.text
    assert a.user_token("alice") not in listed.text  # the server's own token neither

    path = server.data / "execplanner" / "hubs.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert json.loads(path.read_text())["hubs"] == [{"name": "B", "url": b.broker, "token": token}]

    assert server.http.delete("execplanner/hubs/this-hub").status_code == 400
    assert server.http.delete("execplanner/hubs/nope").status_code == 404
    assert server.http.delete("execplanner/hubs/B").status_code == 204
    assert [h["name"] for h in server.get("hubs").json()["hubs"]] == ["this-hub"]


@pytest.mark.parametrize(
    "body,field",
    [
        ({"url": "http://x/", "token": "t"}, "name"),
        ({"name": "this-hub", "url": "http://x/", "token": "t"}, "name"),
        ({"name": "x", "url": "not a url", "token": "t"}, "url"),
        ({"name": "x", "url": "http://x/"}, "token"),
    ],
)
def test_bad_hub_bodies(world: dict[str, Any], body: dict, field: str) -> None:
    response = world["server"].post("hubs", body)
    assert response.status_code == 400
    assert response.json()["status"] == 400 and response.json()["message"].startswith(field)


def test_adding_a_hub_checks_it_and_names_the_field_to_fix(world: dict[str, Any]) -> None:
    """Add checks the hub (it answers, runs the broker, takes the token) before keeping it, and the
    same hub cannot be in the list twice."""
    server: LabServer = world["server"]
    b, silent = world["b"], world["silent"]
    cases = [
        ({"name": "B", "url": b.url, "token": "wrong"}, 400, "token"),
        ({"name": "B", "url": f"http://127.0.0.1:{free_port()}/", "token": "t"}, 400, "url"),
        ({"name": "B", "url": world["site"].url, "token": "t"}, 400, "url"),  # not a hub
        ({"name": "mine", "url": world["a"].url, "token": "t"}, 409, "url"),  # the own hub
    ]
    for body, status, field in cases:
        response = server.post("hubs", body)
        assert response.status_code == status, (body, response.text)
        doc = response.json()
        assert doc["field"] == field and doc["message"].startswith(f"{field}: "), doc
    assert "wrong" not in server.get("hubs").text
    started = time.monotonic()
    hung = server.post("hubs", {"name": "slow", "url": silent.url, "token": "t"})
    assert hung.status_code == 400 and hung.json()["field"] == "url"
    assert time.monotonic() - started < 2 + 2.5  # the check is bounded by the timeout
    assert [h["name"] for h in server.get("hubs").json()["hubs"]] == ["this-hub"]

    token = b.user_token("alice")
    assert server.post("hubs", {"name": "B", "url": b.url, "token": token}).json()["user"] == "alice"
    twice = server.post("hubs", {"name": "B2", "url": f"{b.url}/hub/", "token": token})
    assert twice.status_code == 409 and "'B'" in twice.json()["message"]
    assert server.http.delete("execplanner/hubs/B").status_code == 204


def test_not_json_is_400(world: dict[str, Any]) -> None:
    response = world["server"].http.post("execplanner/hubs", content=b"{oops")
    assert response.status_code == 400 and response.json()["message"].startswith("body")


def test_ask_snapshots_the_notebook_and_asks_every_hub_at_once(lab: LabServer, world: dict) -> None:
    started = time.monotonic()
    response = lab.post("ask", ask(hubs=["this-hub", "B", "slow", "down"]))
    took = time.monotonic() - started
    assert response.status_code == 200, response.text
    doc = response.json()
    answers = doc["answers"]
    assert [a["hub"] for a in answers] == ["this-hub", "B", "slow", "down"]
    by_hub = {a["hub"]: a for a in answers}
    assert by_hub["this-hub"]["status"] == "YES" and by_hub["B"]["status"] == "YES"
    assert by_hub["slow"]["status"] == "timeout" and by_hub["slow"]["offers"] == []
    assert "timed out" in by_hub["slow"]["messages"][0]
    assert by_hub["down"]["status"] == "error"
    assert by_hub["this-hub"]["seconds"] < 2 and by_hub["B"]["seconds"] < 2
    assert took < 2 + 2.5, f"the silent hub held the answer back for {took:.1f}s"

    offer = by_hub["B"]["offers"][0]
    assert offer["hub"] == "B" and offer["url"].startswith(world["b"].broker + "sessions/")
    about = offer["profile_about"]  # from the hub's GET /: what the panel explains the offer with
    assert about is not None and set(about) == {"description", "cores_max", "memory_max"}
    assert offer["profile"] == "Small server" and offer["cores"] >= 1 and offer["memory"] >= 1
    assert offer["duration"] == 1800 and offer["preparing"] == 5 and offer["expires"]
    assert by_hub["B"]["offerset"].startswith(world["b"].broker + "offersets/")

    executable = doc["request"]["executable"]
    assert executable["location"].startswith(world["a"].broker + "snapshots/")
    assert executable["requirements"].startswith(world["a"].broker + "snapshots/")
    with httpx.Client(timeout=30) as anonymous:  # another hub's server fetches it without a token
        assert anonymous.get(executable["location"]).content == NOTEBOOK.encode()
        assert anonymous.get(executable["requirements"]).text == REQUIREMENTS


def test_the_snapshot_leaves_outputs_behind_unless_asked_to_keep_them(lab: LabServer) -> None:
    cell = {"cell_type": "code", "execution_count": 3, "id": "c1", "metadata": {}, "source": "import nope",
            "outputs": [{"output_type": "error", "ename": "ModuleNotFoundError", "evalue": "nope",
                         "traceback": []}]}
    text = json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
    (lab.root / "work" / "ran.ipynb").write_text(text)
    files = lab.get("files?path=work/ran.ipynb")
    assert files.status_code == 200, files.text
    assert files.json()["files"] == [
        {"name": "ran.ipynb", "path": "work/ran.ipynb", "size": len(text.encode()), "outputs": 1},
        {"name": "requirements.txt", "path": "work/requirements.txt", "size": len(REQUIREMENTS)},
    ]
    assert lab.get("files?path=work/none.ipynb").status_code == 404
    assert lab.get("files?path=work/requirements.txt").json()["field"] == "path"
    with httpx.Client(timeout=30) as anonymous:
        for keep in (False, True):
            request = lab.post("prepare", needs(path="work/ran.ipynb", keep_outputs=keep)).json()["request"]
            sent = anonymous.get(request["executable"]["location"]).json()
            assert sent["cells"][0]["source"] == "import nope"
            assert bool(sent["cells"][0]["outputs"]) is keep
            assert sent["cells"][0]["execution_count"] == (3 if keep else None)
    assert lab.post("prepare", needs(keep_outputs="yes")).json()["message"].startswith("keep_outputs")


def test_a_notebook_without_requirements(lab: LabServer) -> None:
    doc = lab.post("ask", ask(path="alone.ipynb", hubs=["this-hub"])).json()
    assert "requirements" not in doc["request"]["executable"]
    assert doc["answers"][0]["status"] == "YES"


def test_no_answers_show_the_reasons(lab: LabServer) -> None:
    doc = lab.post("ask", ask(cores={"min": 1000})).json()
    for answer in doc["answers"]:
        assert answer["status"] == "NO" and answer["offers"] == []
        assert any("cores" in m for m in answer["messages"]), answer["messages"]


def test_data_reaches_the_hubs_and_comes_back_as_proximity(lab: LabServer, world: dict) -> None:
    url = f"{world['site'].url}/survey/cat.fits"
    response = lab.post("ask", ask(data=[{"name": "survey", "location": url}]))
    assert response.status_code == 200, response.text
    doc = response.json()
    assert doc["request"]["data"] == [{"kind": f"{KINDS}/data/simple-data-resource.yaml",
                                       "meta": {"name": "survey"}, "location": url}]
    assert doc["request"]["compute"]["volumes"] == [
        {"kind": f"{KINDS}/volume/simple-volume-mount.yaml", "path": "/data/survey", "mode": "READONLY",
         "resource": "survey"}]
    by_hub = {a["hub"]: a for a in doc["answers"]}
    assert by_hub["this-hub"]["status"] == "YES" and by_hub["B"]["status"] == "YES", by_hub

    def metrics(offer: dict[str, Any]) -> dict[str, tuple[float, str]]:
        return {m["type"]: (m["max"], m["unit"]) for m in offer["metrics"]}

    local, remote = by_hub["this-hub"]["offers"][0], by_hub["B"]["offers"][0]
    assert set(DATA_TYPES) <= set(metrics(local)) and set(DATA_TYPES) <= set(metrics(remote))
    assert metrics(local)[DATA_TYPES[2]] == (1.0, "fraction")
    assert metrics(local)[DATA_TYPES[0]] == (0.0, "bytes")
    assert metrics(remote)[DATA_TYPES[2]] == (0.0, "fraction")
    assert metrics(remote)[DATA_TYPES[0]] == (len(SURVEY), "bytes")  # hub B's HEAD of the site
    assert metrics(remote)[DATA_TYPES[1]] == (2.0, "s")  # 100 kB at 50 kB/s
    assert remote["preparing"] == 5 + 2
    assert any("'survey' is local" in n for n in local["notes"]), local["notes"]
    assert any("'survey' will be downloaded" in n for n in remote["notes"]), remote["notes"]

    # an S3 object and a Rucio object that neither hub can reach: NO, naming data[0]
    for item in ({"name": "obj", "s3": {"bucket": "nowhere", "key": "x.fits"}},
                 {"name": "raw", "rucio": {"scope": "nowhere", "name": "raw.ms"}}):
        answers = lab.post("ask", ask(data=[item])).json()["answers"]
        for answer in answers:
            assert answer["status"] == "NO", answer
            assert any("data[0]" in m for m in answer["messages"]), answer["messages"]


def test_accept_show_list_and_cancel(lab: LabServer) -> None:
    offer = lab.post("ask", ask(hubs=["B"])).json()["answers"][0]["offers"][0]
    path = f"sessions/B/{offer['uuid']}"
    accepted = lab.post(path, {"action": "accept"})
    assert accepted.status_code == 200, accepted.text
    session = accepted.json()
    assert session["phase"] == "ACCEPTED" and session["progress"] == 10 and not session["terminal"]
    assert session["hub"] == "B" and session["open_url"] is None and session["messages"]
    shown = lab.get(path).json()
    assert shown["uuid"] == offer["uuid"] and shown["phase"] == "ACCEPTED"

    started = time.monotonic()
    listing = lab.get("sessions").json()
    assert time.monotonic() - started < 2 + 2.5
    assert any(s["uuid"] == offer["uuid"] and s["hub"] == "B" for s in listing["sessions"])
    assert all(s["phase"] != "OFFERED" for s in listing["sessions"])
    assert {e["hub"] for e in listing["errors"]} == {"slow", "down"}

    cancelled = lab.post(path, {"action": "cancel"}).json()
    assert cancelled["phase"] == "CANCELLED" and cancelled["terminal"] and cancelled["progress"] == 10
    assert cancelled["stopping"] is False  # no server was started for it
    again = lab.post(path, {"action": "accept"})
    assert again.status_code == 409 and again.json()["message"].startswith("B: ")
    assert lab.post(path, {"action": "launch"}).status_code == 400
    assert lab.get("sessions/nope/x").status_code == 404
    assert lab.get("sessions/B/00000000-0000-0000-0000-000000000000").status_code == 404
    slow = lab.get("sessions/slow/00000000-0000-0000-0000-000000000000")  # never answers
    assert slow.status_code == 504 and slow.json()["message"].startswith("slow: "), slow.text


def needs(**change: Any) -> dict[str, Any]:
    """The body of POST execplanner/prepare: the ask's body without hubs and timeout."""
    body = {k: v for k, v in ask(**change).items() if k not in ("hubs", "timeout")}
    return {**body, **{k: v for k, v in change.items() if k in ("hubs", "timeout")}}


def test_prepare_then_each_hub_answers_as_soon_as_it_can(lab: LabServer, world: dict) -> None:
    """What the panel does: prepare once, then one ask per hub at the same time; the hubs that
    answer are back long before the one that never does times out."""
    prepared = lab.post("prepare", needs())
    assert prepared.status_code == 200, prepared.text
    request = prepared.json()["request"]
    assert set(prepared.json()) == {"request"}
    executable = request["executable"]
    assert executable["location"].startswith(world["a"].broker + "snapshots/")
    assert executable["requirements"].startswith(world["a"].broker + "snapshots/")
    assert request["compute"]["cores"] == {"min": 1, "max": 2}
    assert request["schedule"]["requested"] == {"duration": "PT30M"}
    with httpx.Client(timeout=30) as anonymous:
        assert anonymous.get(executable["location"]).content == NOTEBOOK.encode()

    def one(hub: str) -> tuple[float, httpx.Response]:
        with httpx.Client(base_url=lab.url, timeout=30,
                          headers={"Authorization": f"token {lab.token}"}) as http:
            started = time.monotonic()
            response = http.post("execplanner/ask", json={"hubs": [hub], "request": request,
                                                          "timeout": 3})
            return time.monotonic() - started, response

    names = ["slow", "this-hub", "B", "down"]
    with ThreadPoolExecutor(len(names)) as pool:
        results = dict(zip(names, pool.map(one, names), strict=True))
    for name, (_took, response) in results.items():
        assert response.status_code == 200, (name, response.text)
        doc = response.json()
        assert doc["request"] == request, "the prepared request is sent as it is"
        assert [a["hub"] for a in doc["answers"]] == [name]
    status = {name: r.json()["answers"][0]["status"] for name, (_took, r) in results.items()}
    assert status == {"slow": "timeout", "this-hub": "YES", "B": "YES", "down": "error"}
    assert results["slow"][0] >= 3
    for name in ("this-hub", "B", "down"):
        assert results[name][0] < 2.5, f"{name} waited {results[name][0]:.1f} s for the silent hub"
    offer = results["B"][1].json()["answers"][0]["offers"][0]
    assert offer["hub"] == "B" and offer["duration"] == 1800
    assert lab.get(f"sessions/B/{offer['uuid']}").json()["phase"] == "OFFERED"


def test_prepare_data_and_the_old_form_make_the_same_request(lab: LabServer, world: dict) -> None:
    url = f"{world['site'].url}/survey/cat.fits"
    data = [{"name": "survey", "location": url}]
    prepared = lab.post("prepare", needs(data=data, hubs=["ignored"], timeout=4)).json()["request"]
    asked = lab.post("ask", ask(data=data, hubs=["this-hub"])).json()["request"]
    for doc in (prepared, asked):  # each has its own snapshot
        doc["executable"].pop("location")
        doc["executable"].pop("requirements")
    assert prepared == asked


@pytest.mark.parametrize(
    "change,field,status",
    [
        ({"path": "work/analysis.py"}, "path", 400),
        ({"path": "work/missing.ipynb"}, "path", 404),
        ({"cores": {"min": 0}}, "cores.min", 400),
        ({"memory": None}, "memory", 400),
        ({"timeout": 0}, "timeout", 400),
        ({"data": [{"name": "x", "s3": {"key": "k"}}]}, "data[0].s3.bucket", 400),
    ],
)
def test_bad_prepare_bodies(world: dict[str, Any], change: dict, field: str, status: int) -> None:
    response = world["server"].post("prepare", needs(**change))
    assert response.status_code == status, response.text
    assert field in response.json()["message"]
    if status == 400:
        assert response.json()["message"].startswith(field)


@pytest.mark.parametrize(
    "body,field",
    [
        ({"hubs": ["this-hub"], "request": "analysis.ipynb"}, "request"),
        ({"hubs": ["this-hub"], "request": {}}, "request"),
        ({"hubs": ["this-hub"], "request": [1]}, "request"),
        ({"hubs": ["this-hub"], "request": {"name": "x" * (1024 * 1024)}}, "request"),
        ({"hubs": ["this-hub"], "request": {"name": "n"}, "path": "work/analysis.ipynb"}, "request"),
        ({"request": {"name": "n"}}, "hubs"),
        ({"hubs": ["nope"], "request": {"name": "n"}}, "hubs"),
        ({"hubs": ["this-hub"], "request": {"name": "n"}, "timeout": 500}, "timeout"),
    ],
)
def test_bad_request_asks(world: dict[str, Any], body: dict, field: str) -> None:
    response = world["server"].post("ask", body)
    assert response.status_code == 400, response.text
    assert response.json()["message"].startswith(field)


def test_a_hub_refusing_a_prepared_request_is_an_answer_not_a_failure(lab: LabServer) -> None:
    """The lab server passes the request on as it is; the hub that cannot read it says so."""
    response = lab.post("ask", {"hubs": ["B"], "request": {"name": "no executable"}, "timeout": 2})
    assert response.status_code == 200, response.text
    answer = response.json()["answers"][0]
    assert answer["hub"] == "B" and answer["status"] in ("NO", "error") and answer["messages"], answer
    assert answer["offers"] == []


@pytest.mark.parametrize(
    "change,field",
    [
        ({"hubs": []}, "hubs"),
        ({"hubs": ["nope"]}, "hubs"),
        ({"path": "work/analysis.py"}, "path"),
        ({"cores": {"min": 0}}, "cores.min"),
        ({"memory": "lots"}, "memory.min"),
        ({"timeout": -1}, "timeout"),
        ({"data": "https://a/b"}, "data"),
        ({"data": [{"name": "x", "location": "https://a/b"}] * 21}, "data"),
        ({"data": [{"name": "a/b", "location": "https://a/b"}]}, "data[0].name"),
        ({"data": [{"name": "x"}]}, "data[0]"),
        ({"data": [{"name": "x", "location": "https://a/b"}, {"name": "y", "location": "file:///etc"}]},
         "data[1].location"),
        ({"data": [{"name": "x", "ivoid": "example.org/x"}]}, "data[0].ivoid"),
        ({"data": [{"name": "x", "s3": {"key": "k"}}]}, "data[0].s3.bucket"),
        ({"data": [{"name": "x", "rucio": {"scope": "s"}}]}, "data[0].rucio.name"),
    ],
)
def test_bad_ask_bodies(world: dict[str, Any], change: dict, field: str) -> None:
    response = world["server"].post("ask", ask(**change))
    assert response.status_code == 400
    assert response.json()["message"].startswith(field)


def test_missing_notebook_is_404(world: dict[str, Any]) -> None:
    response = world["server"].post("ask", ask(path="work/missing.ipynb", hubs=["this-hub"]))
    assert response.status_code == 404 and "path" in response.json()["message"]


def test_without_a_hub_there_is_no_own_hub_and_no_ask(tmp_path: Path) -> None:
    server = LabServer(tmp_path, {})
    try:
        assert server.get("hubs").json() == {"hubs": []}
        (server.root / "a.ipynb").write_text(NOTEBOOK)
        server.post("hubs", {"name": "x", "url": "http://127.0.0.1:9/", "token": "t", "check": False})
        response = server.post("ask", ask(hubs=["x"], path="a.ipynb"))
        assert response.status_code == 400 and "JupyterHub" in response.json()["message"]
        response = server.post("prepare", needs(path="a.ipynb"))
        assert response.status_code == 400 and "JupyterHub" in response.json()["message"]
        # a request made elsewhere needs no snapshot: it is sent (here to a port nobody listens on)
        response = server.post("ask", {"hubs": ["x"], "request": {"name": "n"}, "timeout": 2})
        assert response.status_code == 200, response.text
        assert response.json()["answers"][0]["status"] == "error"
        assert httpx.get(server.url + "execplanner/hubs").status_code == 403  # no token: refused
    finally:
        server.stop()


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_bodies_get_a_4xx_that_says_why(world: dict[str, Any], name: str) -> None:
    content_type, body = HOSTILE[name]
    server: LabServer = world["server"]
    before = server.get("hubs").json()
    for path in ("hubs", "prepare", "ask", "sessions/this-hub/00000000-0000-0000-0000-000000000000"):
        response = server.http.post(f"execplanner/{path}", content=body,
                                    headers={"Content-Type": content_type})
        assert 400 <= response.status_code < 500, (path, response.status_code, response.text[:300])
        assert response.json()["message"], (path, "every 4xx says what is wrong")
    assert server.get("hubs").json() == before, "no hub was added, changed or lost"


# -- hubs that misbehave, a forged Host header, files that are not UTF-8 --------------------------------

SECRET = "SECRET-SERVER-TOKEN-" + secrets.token_hex(8)


class Fake:
    """A loopback HTTP server answering every request with ``answer(handler)``; it records each
    request's method, target (an absolute URL when it is used as a proxy) and Authorization."""

    def __init__(self, answer: Any) -> None:
        self.seen: list[tuple[str, str, str | None]] = []
        self.stop = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _any(self) -> None:
                fake.seen.append((self.command, self.path, self.headers.get("Authorization")))
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                answer(self, fake.stop)

            do_GET = do_POST = _any  # noqa: N815

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/"

    def close(self) -> None:
        self.stop.set()
        self.server.shutdown()
        self.server.server_close()


def fixed(body: bytes, content_type: str, status: int = 200) -> Any:
    def answer(handler: BaseHTTPRequestHandler, _stop: threading.Event) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)
    return answer


def trickle(handler: BaseHTTPRequestHandler, stop: threading.Event) -> None:
    """A 200 whose body comes one byte every half second: no single read ever times out."""
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", "100000")
    handler.end_headers()
    while not stop.is_set():
        try:
            handler.wfile.write(b" ")
            handler.wfile.flush()
        except OSError:
            return
        time.sleep(0.5)


@pytest.fixture(scope="module")
def bare(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A server whose hub API is on 127.0.0.1 (nothing listens there) and which sends every request
    to a host other than 127.0.0.1 through ``capture``, an HTTP proxy that records what would have
    left the machine. Remote access is allowed, as under a hub's proxy (else jupyter-server itself
    refuses a Host that is not local)."""
    capture = Fake(fixed(b"", "text/plain", 500))
    proxy = capture.url.rstrip("/")
    env = {"JUPYTERHUB_API_URL": "http://127.0.0.1:9/hub/api", "JUPYTERHUB_API_TOKEN": SECRET,
           "HTTP_PROXY": proxy, "http_proxy": proxy, "NO_PROXY": "127.0.0.1,localhost",
           "no_proxy": "127.0.0.1,localhost"}
    server = LabServer(tmp_path_factory.mktemp("bare-lab"), env,
                       ["--ExecPlannerLab.timeout=2", "--ExecPlannerLab.accept_timeout=4",
                        "--ExecPlannerLab.trusted_hosts=trusted.example",
                        "--ServerApp.allow_remote_access=True"])
    (server.root / "n.ipynb").write_text(NOTEBOOK)
    try:
        yield {"server": server, "capture": capture}
    finally:
        server.stop()
        capture.close()


ACTIONS_ = ("accept", "reject", "cancel")
ODD_ANSWERS = {
    "html": (b"<html><body>Sign in</body></html>", "text/html"),
    "list": (b"[1, 2]", "application/json"),
    "empty": (b"", "application/json"),
    "string": (b'"x"', "application/json"),
    "null": (b"null", "application/json"),
}


@pytest.mark.parametrize("kind", sorted(ODD_ANSWERS))
def test_a_hub_answering_something_else_than_a_session_is_a_502_naming_it(bare: dict, kind: str) -> None:
    server: LabServer = bare["server"]
    odd = Fake(fixed(*ODD_ANSWERS[kind]))
    name = f"odd-{kind}"
    try:
        body = {"name": name, "url": odd.url, "token": "t", "check": False}
        assert server.post("hubs", body).status_code == 201
        path = f"sessions/{name}/00000000-0000-0000-0000-000000000000"
        calls = [server.get(path)] + [server.post(path, {"action": a}) for a in ACTIONS_]
        for response in calls:
            assert response.status_code == 502, response.text
            message = response.json()["message"]
            assert message.startswith(f"{name}: "), message
            assert "the answer is not a session" in message or "neither JSON nor YAML" in message, message
        listing = server.get("sessions")
        assert listing.status_code == 200
        assert any(e["hub"] == name for e in listing.json()["errors"]), listing.text
        asked = server.post("ask", {"hubs": [name], "request": {"name": "n"}, "timeout": 2})
        assert asked.status_code == 200 and asked.json()["answers"][0]["status"] == "error"
        # every call reached the hub (the ask two: the request, and GET / for the profiles)
        assert len(odd.seen) == 7, odd.seen
        assert ("GET", "/services/execplanner/", "token t") in odd.seen
    finally:
        server.http.delete(f"execplanner/hubs/{name}")
        odd.close()


def test_a_hub_answering_another_object_than_a_session_is_a_502_naming_it(bare: dict) -> None:
    """A session call answered with an object that is no session (here a listing): not a session
    with every field blank, but the hub named and what it sent."""
    server: LabServer = bare["server"]
    odd = Fake(fixed(b'{"sessions": []}', "application/json"))
    try:
        body = {"name": "odd-object", "url": odd.url, "token": "t", "check": False}
        assert server.post("hubs", body).status_code == 201
        path = "sessions/odd-object/00000000-0000-0000-0000-000000000000"
        for response in [server.get(path)] + [server.post(path, {"action": a}) for a in ACTIONS_]:
            assert response.status_code == 502, response.text
            assert response.json()["message"].startswith(
                "odd-object: the answer is not a session (an object without a 'phase')"), response.text
    finally:
        server.http.delete("execplanner/hubs/odd-object")
        odd.close()


def test_a_hub_that_trickles_its_answer_times_out_as_a_whole(bare: dict) -> None:
    """httpx bounds each read; a hub sending a byte every half second must still give up at the
    timeout (2 s here; accept gets accept_timeout, 4 s), as a 504 naming the hub."""
    server: LabServer = bare["server"]
    slow = Fake(trickle)
    try:
        body = {"name": "trickle", "url": slow.url, "token": "t", "check": False}
        assert server.post("hubs", body).status_code == 201
        path = "sessions/trickle/00000000-0000-0000-0000-000000000000"
        calls = [(lambda: server.get(path), 2), (lambda: server.post(path, {"action": "cancel"}), 2),
                 (lambda: server.post(path, {"action": "accept"}), 4)]
        for call, least in calls:
            started = time.monotonic()
            response = call()
            took = time.monotonic() - started
            assert response.status_code == 504, response.text
            assert response.json()["message"].startswith("trickle: no answer within"), response.text
            assert least - 0.5 < took < least + 3, took
        started = time.monotonic()
        listing = server.get("sessions").json()
        assert time.monotonic() - started < 2 + 3
        assert any(e["hub"] == "trickle" and "timed out" in e["message"] for e in listing["errors"])
    finally:
        server.http.delete("execplanner/hubs/trickle")
        slow.close()


def test_a_forged_host_never_gets_the_servers_token(bare: dict) -> None:
    """Without a public URL, the own hub is found from the Host the browser used; a Host that is not
    the hub's (nor a trusted one) is refused, and the capture proxy sees no request at all."""
    server: LabServer = bare["server"]
    capture: Fake = bare["capture"]
    capture.seen.clear()
    forged = {"Host": "evil.example:80"}
    refused = [
        server.http.post("execplanner/prepare", json={"path": "n.ipynb", "cores": 1, "memory": 1},
                         headers=forged),
        server.http.post("execplanner/ask", json={"hubs": ["this-hub"], "path": "n.ipynb", "cores": 1,
                                                  "memory": 1}, headers=forged),
        server.http.post("execplanner/ask", json={"hubs": ["this-hub"], "request": {"name": "n"}},
                         headers=forged),
        server.http.get("execplanner/sessions/this-hub/x", headers=forged),
        server.http.post("execplanner/sessions/this-hub/x", json={"action": "cancel"}, headers=forged),
    ]
    for response in refused:
        assert response.status_code == 400, response.text
        message = response.json()["message"]
        assert "evil.example" in message and "c.JupyterHub.public_url" in message, message
    listing = server.http.get("execplanner/sessions", headers=forged).json()
    assert any(e["hub"] == "this-hub" and "public_url" in e["message"] for e in listing["errors"])
    assert capture.seen == [], "the server's token went to the forged host"

    # the control: a trusted host is called (through the capture proxy), with the server's token
    trusted = server.http.post("execplanner/prepare", json={"path": "n.ipynb", "cores": 1, "memory": 1},
                               headers={"Host": "trusted.example:80"})
    assert trusted.status_code == 502, trusted.text
    assert capture.seen == [("POST", "http://trusted.example/services/execplanner/snapshots",
                             f"token {SECRET}")]
    assert SECRET not in trusted.text


def test_files_that_are_not_utf8_are_a_400_without_the_servers_paths(bare: dict) -> None:
    server: LabServer = bare["server"]
    capture: Fake = bare["capture"]
    capture.seen.clear()
    folder = server.root / "latin"
    folder.mkdir()
    (folder / "n.ipynb").write_text(NOTEBOOK)
    (folder / "requirements.txt").write_bytes(b"\xff\xfe\x00numpy")
    (server.root / "bad.ipynb").write_bytes(b"\xff{}")
    response = server.post("prepare", {"path": "latin/n.ipynb", "cores": 1, "memory": 1})
    assert response.status_code == 400, response.text
    message = response.json()["message"]
    assert message.startswith("requirements.txt: 'latin/requirements.txt'") and "UTF-8" in message
    response = server.post("prepare", {"path": "bad.ipynb", "cores": 1, "memory": 1})
    assert response.status_code == 400 and response.json()["message"].startswith("path"), response.text
    for text in (message, response.text):
        assert str(server.folder) not in text, text
    assert capture.seen == []


LINKS_ANSWERS = {  # what an own broker may answer to GET links, and what the panel is told
    "hostile-entries": (fixed(b'{"links": [{"hub": "../x", "state": "linked"}, 7, {"hub": "b", '
                              b'"state": "maybe"}]}', "application/json"), "is not a hub's name"),
    "login-page": (fixed(b"<html><body>Sign in</body></html>", "text/html"), "a login page?"),
    "server-error": (fixed(b'{"message": "boom"}', "application/json", 500), "boom"),
    "no-list": (fixed(b'{"links": {"b": 1}}', "application/json"), "without a 'links' list"),
    "trickle": (trickle, "timed out"),
}


def test_an_own_broker_that_cannot_list_links_leaves_the_other_hubs_listed(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """``GET execplanner/hubs`` asks the own broker for the linked hubs within the timeout; whatever
    it answers instead (hostile entries, a login page, an error, nothing), the own and added hubs are
    listed and ``links_error`` says what went wrong. A broker without linked accounts (404) is no
    error: its hubs are listed without ``links_error``."""
    current: dict[str, Any] = {"answer": fixed(b"{}", "application/json", 404)}
    own = Fake(lambda handler, stop: current["answer"](handler, stop))
    env = {"JUPYTERHUB_API_URL": "http://127.0.0.1:9/hub/api", "JUPYTERHUB_API_TOKEN": SECRET}
    server = LabServer(tmp_path_factory.mktemp("links-lab"), env,
                       ["--ExecPlannerLab.timeout=2", f"--ExecPlannerLab.own_hub_url={own.url}"])
    try:
        plain = server.get("hubs")
        assert plain.status_code == 200 and "links_error" not in plain.json(), plain.text
        assert own.seen == [("GET", "/services/execplanner/links", f"token {SECRET}")]
        for name, (answer, said) in LINKS_ANSWERS.items():
            current["answer"] = answer
            started = time.monotonic()
            response = server.get("hubs")
            assert time.monotonic() - started < 2 + 3, name
            assert response.status_code == 200, (name, response.text)
            doc = response.json()
            assert [h["kind"] for h in doc["hubs"]] == ["own"], (name, doc)
            assert doc["links_error"].startswith("this-hub: ") and said in doc["links_error"], (name, doc)
            assert SECRET not in response.text
    finally:
        server.stop()
        own.close()
