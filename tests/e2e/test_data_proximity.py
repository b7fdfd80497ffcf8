"""End to end: three real hubs with different data declarations, policies and prices answer the same
request for a survey: hub A holds it (local, starts now, linked read-only at the requested volume
path), hub B does not (a later start whose preparing covers the download), hub C forbids the source
(NO, saying why). Accepted sessions on A and B reach AVAILABLE with the data in the server's session
folder. Hub D, which forbids the source like C, aggregates A and B: it merges their local and remote
offers, and accepting B's offer through D runs it on B with the data downloaded. Then the cost and
metric limits of a request are enforced by each hub."""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hubprocess import RealHub
from loopback import Loopback
from requests_lib import KINDS
from test_sessions_run import Sessions

from jupyterhub_execplanner import launch

pytestmark = pytest.mark.e2e

SECRET = "e2e-data-" + "0" * 55
SIZE = 250_000  # bytes of the survey file
CONTENT = bytes(range(250)) * (SIZE // 250)
BANDWIDTH = 50_000  # bytes/s hub B configures for the site: a 5 s download
PROFILE = [{"display_name": "Small", "slug": "small",
            "kubespawner_override": {"cpu_guarantee": 1, "cpu_limit": 1, "mem_guarantee": "1G",
                                     "mem_limit": "1G"}}]
BASE: dict[str, Any] = {
    "profiles": PROFILE,
    "capacity": {"default": {"cores": 8, "memory": 16}},
    "offer_expiry": 60,
    "prepare_time": 5,
    "max_offers": 1,
}
LOCAL, MONETARY = "urn:execplanner:metric:data-local", "urn:ivoa:calycopis:cost:monetary"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loopback]:
    folder = tmp_path_factory.mktemp("archive")
    (folder / "survey").mkdir()
    (folder / "survey" / "cat.fits").write_bytes(CONTENT)
    server = Loopback(folder)
    yield server
    server.close()


@pytest.fixture(scope="module")
def hubs(tmp_path_factory: pytest.TempPathFactory, site: Loopback) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("data-hubs")
    held = root / "a-disk" / "survey"
    held.mkdir(parents=True)
    (held / "cat.fits").write_bytes(b"the platform's own copy")
    prefix = f"{site.url}/survey/"
    settings = {
        "a": {**BASE, "data_collections": {"survey": {"path": str(held), "url_prefix": prefix}},
              "prices": {"*": {"core_hour": 1.2, "currency": "EUR"}}},
        "b": {**BASE, "data_bandwidth": {site.url: BANDWIDTH},
              "prices": {"*": {"core_hour": 0.12, "gib_hour": 0.0, "currency": "EUR",
                               "kwh_per_core_hour": 0.01, "kwh_per_gib_hour": 0.0004,
                               "carbon_per_kwh": 250}}},
        "c": {**BASE, "data_denied_sources": [site.url + "/"]},
    }

    def start(name: str) -> RealHub:
        return RealHub.start(root / name, settings=settings[name], env={launch.SECRET_ENV: SECRET})

    with ThreadPoolExecutor(3) as pool:
        futures = {name: pool.submit(start, name) for name in settings}
    started = {name: f.result() for name, f in futures.items() if f.exception() is None}
    try:
        failed = [f.exception() for f in futures.values() if f.exception() is not None]
        if failed:
            raise failed[0]  # type: ignore[misc]
        # hub D forbids the source too, and aggregates A and B (with a token of their user "fed")
        peers = [{"name": n, "url": started[n].url, "token": started[n].user_token("fed")} for n in "ab"]
        started["d"] = RealHub.start(root / "d", env={launch.SECRET_ENV: SECRET},
                                     settings={**settings["c"], "peers": peers, "peer_timeout": 5})
        yield {**started, "held": held}
    finally:
        for hub in started.values():
            hub.stop()


def survey_request(site: Loopback, **extra: Any) -> dict[str, Any]:
    return {
        "executable": {"kind": f"{KINDS}/executable/jupyter-notebook.yaml", "meta": {"name": "survey"}},
        "compute": {"kind": f"{KINDS}/compute/simple-compute-resource.yaml",
                    "cores": {"min": 1}, "memory": {"min": 1},
                    "volumes": [{"kind": f"{KINDS}/volume/simple-volume-mount.yaml",
                                 "path": "/data/survey", "mode": "READONLY", "resource": "survey"}]},
        "data": [{"kind": f"{KINDS}/data/simple-data-resource.yaml", "meta": {"name": "survey"},
                  "location": f"{site.url}/survey/cat.fits"}],
        "schedule": {"requested": {"duration": "PT10M"}},
        **extra,
    }


def figures(offer: dict[str, Any]) -> dict[str, tuple[float, str]]:
    return {f["type"]: (f["max"], f.get("unit")) for f in [*offer["costs"], *offer["metrics"]]}


def messages(doc: dict[str, Any]) -> list[str]:
    return [m["message"] for m in doc["meta"]["messages"]]


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def session_folder(hub: RealHub, user: str, uuid: str) -> Path:
    return hub.folder / "home" / user / "execplanner" / launch.server_name_for(uuid)


def test_same_request_local_remote_and_no(hubs: dict[str, Any], site: Loopback) -> None:
    request = survey_request(site)
    answers = {n: Sessions(hubs[n], "alice").broker.post("requests", json=request).json() for n in "abc"}

    a, b, c = answers["a"], answers["b"], answers["c"]
    assert a["result"] == "YES" and b["result"] == "YES", (a, b)
    offer_a, offer_b = a["offers"][0], b["offers"][0]
    assert figures(offer_a)[LOCAL] == (1.0, "fraction")
    assert figures(offer_a)["urn:execplanner:metric:data-transfer-time"] == (0.0, "s")
    assert "data 'survey' is local at data/survey (collection survey, read-only)" in messages(offer_a)
    assert offer_a["schedule"]["preparing"]["duration"] == "PT5S"

    assert figures(offer_b)[LOCAL] == (0.0, "fraction")
    assert figures(offer_b)["urn:execplanner:metric:data-bytes"] == (SIZE, "bytes")  # measured by HEAD
    assert figures(offer_b)["urn:execplanner:metric:data-transfer-time"] == (5.0, "s")
    assert "data 'survey' will be downloaded: 250 kB, about 5 s at 50 kB/s" in messages(offer_b)
    assert offer_b["schedule"]["preparing"]["duration"] == "PT10S"  # 5 s to start + 5 s to download
    start_a = _time(offer_a["schedule"]["available"]["start"].split("/")[0])
    start_b = _time(offer_b["schedule"]["available"]["start"].split("/")[0])
    assert (start_b - start_a).total_seconds() >= 4  # asked within a second of each other

    # costs: a at 1.2 EUR per core-hour for 10 minutes; b with energy and carbon
    assert figures(offer_a)[MONETARY] == (pytest.approx(0.2), "EUR")
    assert figures(offer_b)[MONETARY] == (pytest.approx(0.02), "EUR")
    assert figures(offer_b)["urn:ivoa:calycopis:cost:energy"] == (pytest.approx(0.001733, abs=1e-6), "kWh")
    assert figures(offer_b)["urn:ivoa:calycopis:cost:carbon"] == (pytest.approx(0.433, abs=1e-3), "gCO2")

    assert c["result"] == "NO" and not c["offers"]
    [why] = [m for m in c["meta"]["messages"] if m["level"] == "ERROR"]
    assert why["values"]["path"] == "data[0]" and why["kind"] == "urn:execplanner:data-denied"
    assert f"data_denied_sources has '{site.url}/'" in why["message"]


def test_remote_offer_downloads_during_preparing(hubs: dict[str, Any], site: Loopback) -> None:
    hub = hubs["b"]
    bob = Sessions(hub, "bob")
    accepted = bob.accept_new(survey_request(site))
    uuid = accepted["meta"]["uuid"]
    session = bob.wait_phase(uuid, {"AVAILABLE", "RUNNING"}, 90)
    staged = session_folder(hub, "bob", uuid) / "data" / "survey"
    assert staged.is_file() and not staged.is_symlink()
    assert staged.read_bytes() == CONTENT  # the archive's copy, downloaded
    text = " ".join(messages(session))
    assert f"downloading data 'survey' (250 kB) from {site.url}/survey/cat.fits into data/survey" in text
    assert "downloaded data 'survey': 250 kB" in text
    bob.broker.accept(uuid, "CANCELLED")


def test_local_offer_links_the_platforms_copy(hubs: dict[str, Any], site: Loopback) -> None:
    hub = hubs["a"]
    alice = Sessions(hub, "alice")
    accepted = alice.accept_new(survey_request(site))
    uuid = accepted["meta"]["uuid"]
    session = alice.wait_phase(uuid, {"AVAILABLE", "RUNNING"}, 90)
    link = session_folder(hub, "alice", uuid) / "data" / "survey"
    assert link.is_symlink()
    assert os.readlink(link) == str(hubs["held"] / "cat.fits")
    assert link.read_bytes() == b"the platform's own copy"  # not the archive's
    assert any("is local: linked read-only at data/survey" in m for m in messages(session))
    alice.broker.accept(uuid, "CANCELLED")


def test_cost_and_metric_limits(hubs: dict[str, Any], site: Loopback) -> None:
    cost = {"kind": f"{KINDS}/costs/simple-minmax-float-cost.yaml", "type": MONETARY, "max": 0.05}
    plain = survey_request(site)
    del plain["data"], plain["compute"]["volumes"]
    plain["costs"] = [cost]
    answers = {n: Sessions(hubs[n], "dave").broker.post("requests", json=plain).json() for n in "abc"}
    assert [answers[n]["result"] for n in "abc"] == ["NO", "YES", "NO"]
    [too_dear] = [m for m in answers["a"]["meta"]["messages"] if m["level"] == "ERROR"]
    assert too_dear["values"]["path"] == "costs[0].max"
    assert "quotes 0.2 EUR" in too_dear["message"]
    assert "Raise costs[0].max to at least 0.2" in too_dear["message"]
    [unquoted] = [m for m in answers["c"]["meta"]["messages"] if m["level"] == "ERROR"]
    assert unquoted["values"]["path"] == "costs[0].type" and "does not quote" in unquoted["message"]
    assert figures(answers["b"]["offers"][0])[MONETARY][0] <= 0.05

    local_only = survey_request(site, metrics=[{"kind": f"{KINDS}/metrics/simple-minmax-float-metric.yaml",
                                                "type": LOCAL, "min": 1}])
    answers = {n: Sessions(hubs[n], "dave").broker.post("requests", json=local_only).json() for n in "ab"}
    assert answers["a"]["result"] == "YES"
    assert answers["b"]["result"] == "NO"
    [remote] = [m for m in answers["b"]["meta"]["messages"] if m["level"] == "ERROR"]
    assert remote["values"]["path"] == "metrics[0].min"


def test_aggregator_merges_local_and_remote_and_runs_the_remote_offer(hubs: dict[str, Any],
                                                                     site: Loopback) -> None:
    d, a, b = hubs["d"], hubs["a"], hubs["b"]
    erin = Sessions(d, "erin")
    merged = erin.broker.post("requests", json=survey_request(site)).json()
    assert merged["result"] == "YES", merged["meta"]
    by_hub = {n: [o for o in merged["offers"] if o["meta"]["url"].startswith(hubs[n].broker)] for n in "abd"}
    assert len(by_hub["a"]) == 1 and len(by_hub["b"]) == 1 and not by_hub["d"], merged
    assert merged["offers"] == by_hub["a"] + by_hub["b"]  # by start: the local copy first
    assert figures(by_hub["a"][0])[LOCAL][0] == 1.0 and figures(by_hub["b"][0])[LOCAL][0] == 0.0
    # D's own NO comes along as a message, not as an error of the merged answer
    assert any("data_denied_sources" in m for m in messages(merged)), messages(merged)

    remote = by_hub["b"][0]
    uuid = remote["meta"]["uuid"]
    accepted = erin.broker.accept(uuid)
    assert accepted.status_code == 200 and accepted.json()["phase"] == "ACCEPTED", accepted.text
    session = erin.wait_phase(uuid, {"AVAILABLE", "RUNNING"}, 90)  # read through D
    assert session["meta"]["url"] == remote["meta"]["url"]
    staged = session_folder(b, "fed", uuid) / "data" / "survey"
    assert staged.is_file() and staged.read_bytes() == CONTENT
    sibling = Sessions(a, "fed").get(by_hub["a"][0]["meta"]["uuid"])
    assert sibling["phase"] == "REJECTED"
    erin.broker.accept(uuid, "CANCELLED")
