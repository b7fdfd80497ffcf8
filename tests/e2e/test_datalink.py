"""End to end with a real IVOA data centre: GAVO DaCHS (tests/dachs.py) publishes three FITS images in an
ObsCore table whose ``access_url`` is each image's DataLink document. Two real hubs answer the same
requests: hub "near" holds the collection (``obs_collection: xptest``, a folder of copies), hub "far"
does not but declares the centre's DataLink service for its identifiers. The ObsCore rows are read
with pyvo's TAP client, as an astronomer would.

Checked: an ObsCore row pointing at DataLink is resolved and the dataset's exact bytes quoted; on
"near" the same request is local and linked read-only into the session; on "far" the session's
server has the dataset (the FITS file, not the VOTable); that download is measured and changes the
next offer's preparation time; an ivoid alone resolves through the declared service (and is a NO
on a hub that declares none, saying how to fix it); a DataLink error is a NO quoting the centre."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import pyvo
from dachs import AUTHORITY, COLLECTION, DataCentre
from hubprocess import RealHub
from requests_lib import KINDS
from test_sessions_run import Sessions

from jupyterhub_execplanner import launch
from jupyterhub_execplanner.platform.datasets import human_bytes

pytestmark = pytest.mark.e2e

SECRET = "e2e-datalink-" + "0" * 51
BANDWIDTH = 100_000  # bytes/s "far" configures for the centre: far slower than the loopback really is
BASE: dict[str, Any] = {
    "profiles": [{"display_name": "Small", "slug": "small",
                  "kubespawner_override": {"cpu_guarantee": 1, "cpu_limit": 1, "mem_guarantee": "1G",
                                           "mem_limit": "1G"}}],
    "capacity": {"default": {"cores": 8, "memory": 16}},
    "offer_expiry": 60,
    "prepare_time": 5,
    "max_offers": 1,
}
BYTES, TIME = "urn:execplanner:metric:data-bytes", "urn:execplanner:metric:data-transfer-time"
LOCAL, BANDWIDTH_METRIC = "urn:execplanner:metric:data-local", "urn:execplanner:metric:data-bandwidth"
LATENCY = "urn:execplanner:metric:data-latency"


@pytest.fixture(scope="module")
def centre(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DataCentre]:
    started = DataCentre.start(tmp_path_factory.mktemp("dachs"))
    try:
        yield started
    finally:
        started.close()


@pytest.fixture(scope="module")
def hubs(tmp_path_factory: pytest.TempPathFactory, centre: DataCentre) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("datalink-hubs")
    held = root / "near-disk" / COLLECTION
    held.mkdir(parents=True)
    for dataset in centre.datasets.values():  # the site's own copies of the collection
        shutil.copy(dataset.path, held / dataset.path.name)
    settings = {
        "near": {**BASE, "data_collections": {"xptest": {"path": str(held), "obs_collection": COLLECTION}}},
        "far": {**BASE, "data_bandwidth": {centre.url: BANDWIDTH},
                "datalink_services": {f"ivo://{AUTHORITY}/": centre.service_url}},
    }
    with ThreadPoolExecutor(2) as pool:
        futures = {n: pool.submit(RealHub.start, root / n, settings=s, env={launch.SECRET_ENV: SECRET})
                   for n, s in settings.items()}
    started = {n: f.result() for n, f in futures.items() if f.exception() is None}
    try:
        failed = [f.exception() for f in futures.values() if f.exception() is not None]
        if failed:
            raise failed[0]  # type: ignore[misc]
        yield {**started, "held": held}
    finally:
        for hub in started.values():
            hub.stop()


def obscore_row(centre: DataCentre, name: str) -> dict[str, Any]:
    """The image's ObsCore row, asked of the centre's TAP service with pyvo."""
    service = pyvo.dal.TAPService(centre.tap_url)
    rows = service.search("SELECT obs_id, obs_collection, obs_publisher_did, access_url, access_format "
                          f"FROM ivoa.obscore WHERE obs_id LIKE '%/{name}.fits'")
    [row] = list(rows)
    return {key: str(row[key]) for key in ("obs_id", "obs_collection", "obs_publisher_did", "access_url",
                                            "access_format")}


def ivoa_request(name: str, ivoa: dict[str, Any]) -> dict[str, Any]:
    return {
        "executable": {"kind": f"{KINDS}/executable/jupyter-notebook.yaml", "meta": {"name": "images"}},
        "compute": {"kind": f"{KINDS}/compute/simple-compute-resource.yaml",
                    "cores": {"min": 1}, "memory": {"min": 1}},
        "data": [{"kind": f"{KINDS}/data/ivoa-data-resource.yaml", "meta": {"name": name}, "ivoa": ivoa}],
        "schedule": {"requested": {"duration": "PT10M"}},
    }


def figures(offer: dict[str, Any]) -> dict[str, tuple[float, str]]:
    return {f["type"]: (f["max"], f.get("unit")) for f in offer["metrics"]}


def messages(doc: dict[str, Any]) -> list[str]:
    return [m["message"] for m in doc["meta"]["messages"]]


def errors(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in doc["meta"]["messages"] if m["level"] == "ERROR"]


def folder(hub: RealHub, user: str, uuid: str) -> Path:
    return hub.folder / "home" / user / "execplanner" / launch.server_name_for(uuid)


def test_obscore_row_is_resolved_and_local_where_held(hubs: dict[str, Any], centre: DataCentre) -> None:
    img3 = centre.datasets["img3"]
    request = ivoa_request("img3", {"ivoid": img3.ivoid, "obscore": obscore_row(centre, "img3")})
    assert request["data"][0]["ivoa"]["obscore"]["access_url"] == img3.datalink.replace("%2F", "/")

    far = Sessions(hubs["far"], "alice").broker.post("requests", json=request).json()
    assert far["result"] == "YES", far["meta"]
    offer = far["offers"][0]
    assert figures(offer)[BYTES] == (img3.size, "bytes")  # the FITS file's own bytes, not the VOTable's
    assert figures(offer)[LOCAL] == (0.0, "fraction")
    assert f"data 'img3' resolved through DataLink: image/fits, {human_bytes(img3.size)}" in messages(offer)
    assert figures(offer)[TIME] == (round(img3.size / BANDWIDTH, 1), "s")  # the admin's figure, at first

    alice = Sessions(hubs["near"], "alice")
    near = alice.broker.post("requests", json=request).json()
    assert near["result"] == "YES", near["meta"]
    offer = near["offers"][0]
    assert figures(offer)[LOCAL] == (1.0, "fraction") and figures(offer)[TIME] == (0.0, "s")
    assert "data 'img3' is local at data/img3 (collection xptest, read-only)" in messages(offer)

    uuid = offer["meta"]["uuid"]
    assert alice.broker.accept(uuid).status_code == 200
    session = alice.wait_phase(uuid, {"AVAILABLE", "RUNNING"}, 120)
    link = folder(hubs["near"], "alice", uuid) / "data" / "img3"
    assert link.is_symlink() and Path(link.readlink()) == hubs["held"] / "img3.fits"
    assert link.read_bytes() == img3.path.read_bytes()
    assert any("is local: linked read-only at data/img3" in m for m in messages(session))
    alice.broker.accept(uuid, "CANCELLED")


def test_far_session_downloads_the_dataset_and_measures_the_source(hubs: dict[str, Any],
                                                                  centre: DataCentre) -> None:
    img3 = centre.datasets["img3"]
    request = ivoa_request("img3", {"obscore": obscore_row(centre, "img3")})
    bob = Sessions(hubs["far"], "bob")
    accepted = bob.accept_new(request)
    uuid = accepted["meta"]["uuid"]
    session = bob.wait_phase(uuid, {"AVAILABLE", "RUNNING"}, 120)
    staged = folder(hubs["far"], "bob", uuid) / "data" / "img3"
    assert staged.is_file() and not staged.is_symlink()
    assert staged.read_bytes() == img3.path.read_bytes()  # the dataset, not its DataLink document
    text = " ".join(messages(session))
    assert f"from {img3.url} into data/img3" in text
    bob.broker.accept(uuid, "CANCELLED")

    # the download was measured: the next offer's preparation uses what was measured, not the setting
    again = bob.broker.post("requests", json=request).json()
    assert again["result"] == "YES", again["meta"]
    offer = again["offers"][0]
    measured = figures(offer)
    assert measured[BANDWIDTH_METRIC][1] == "bytes/s" and measured[BANDWIDTH_METRIC][0] > BANDWIDTH
    assert measured[LATENCY][1] == "s" and measured[LATENCY][0] >= 0
    assert measured[TIME][0] < round(img3.size / BANDWIDTH, 1)  # loopback is faster than the setting
    assert any("measured from http://127.0.0.1:" in m for m in messages(offer)), messages(offer)


def test_ivoid_alone_resolves_through_the_declared_service(hubs: dict[str, Any], centre: DataCentre) -> None:
    img1 = centre.datasets["img1"]
    request = ivoa_request("img1", {"ivoid": img1.ivoid})
    far = Sessions(hubs["far"], "carol").broker.post("requests", json=request).json()
    assert far["result"] == "YES", far["meta"]
    assert figures(far["offers"][0])[BYTES] == (img1.size, "bytes")
    assert f"data 'img1' resolved through DataLink: image/fits, {human_bytes(img1.size)}" in messages(
        far["offers"][0])

    near = Sessions(hubs["near"], "carol").broker.post("requests", json=request).json()
    assert near["result"] == "NO"
    [why] = errors(near)
    assert why["values"]["path"] == "data[0]"
    assert f"this hub has neither a DataLink service nor a registry to look up {img1.ivoid}" in why["message"]
    assert "c.ExecPlanner.datalink_services" in why["message"]
    assert "c.ExecPlanner.datalink_registry" in why["message"]


def test_datalink_error_is_a_no_with_the_centres_reason(hubs: dict[str, Any], centre: DataCentre) -> None:
    missing = f"ivo://{AUTHORITY}/~?{centre.schema}/data/nowhere.fits"
    answer = Sessions(hubs["far"], "dave").broker.post(
        "requests", json=ivoa_request("nowhere", {"ivoid": missing})).json()
    assert answer["result"] == "NO" and not answer["offers"]
    [why] = errors(answer)
    assert why["values"]["path"] == "data[0]" and why["kind"] == "urn:execplanner:data-unresolved"
    # DaCHS's own words, quoted
    assert f"NotFoundFault: accref '{centre.schema}/data/nowhere.fits' could not be located" in why["message"]


def test_a_url_that_answers_with_a_datalink_document_is_resolved(hubs: dict[str, Any],
                                                                 centre: DataCentre) -> None:
    """No access_format: the broker's HEAD finds the DataLink content type, and it reads the document."""
    img2 = centre.datasets["img2"]
    answer = Sessions(hubs["far"], "erin").broker.post(
        "requests", json=ivoa_request("img2", {"obscore": {"access_url": img2.datalink}})).json()
    assert answer["result"] == "YES", answer["meta"]
    offer = answer["offers"][0]
    assert figures(offer)[BYTES] == (img2.size, "bytes")
    assert f"data 'img2' resolved through DataLink: image/fits, {human_bytes(img2.size)}" in messages(offer)
