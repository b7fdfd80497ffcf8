"""Data benchmark: what DataLink resolution adds to ``POST requests``, and how close the preparation-time
estimate is to the real download once the hub has measured a source.

Starts a real IVOA data centre (GAVO DaCHS, ``tests/dachs.py``: three FITS images in an ObsCore table
whose ``access_url`` is each image's DataLink document), a throttled loopback site (``--rate`` bytes/s
after a ``--first-byte`` delay, like a remote archive), and two real hubs (``tests/hubprocess.py``)
with the broker: "cached" keeps DataLink answers 10 minutes, "uncached" never (``datalink_cache_ttl``
0). Both declare ``data_bandwidth`` 10 MB/s for the site, a deliberately wrong starting value.

1. **Resolution time.** ``--requests`` rounds of ``POST requests`` on each hub, interleaved: the image as
   an ObsCore row pointing at its DataLink document (resolved: cached on one hub, read from DaCHS on
   the other), and the same image as a DataLink row with its ``access_url`` and ``content_length``
   (nothing to resolve: the baseline). The p50 (and p90) of each, and the differences.
2. **Estimate against the download.** ``--downloads`` sessions on the "cached" hub, one after the
   other, each of a file of the throttled site (sizes cycling through ``--sizes``): the offer's
   estimated transfer time (``urn:execplanner:metric:data-transfer-time``) against the download's real
   time, measured by the site from the request to the last byte sent. The first uses the admin's
   bandwidth; every later one what the hub measured of the earlier downloads.

Everything listens on and talks to 127.0.0.1; the hubs, DaCHS and the site are stopped at the end.

Run: ``python benchmarks/data.py [--requests 30] [--downloads 4] [--json]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from dachs import AUTHORITY, DataCentre  # noqa: E402
from hubprocess import RealHub  # noqa: E402
from machine import NO_USER_LIMITS, machine  # noqa: E402

KINDS = "https://www.purl.org/ivoa.net/Calycopis-openapi/schema/v1.0/kinds"
DL = "application/x-votable+xml;content=datalink"
TIME = "urn:execplanner:metric:data-transfer-time"
SECRET = "bench-data-" + "0" * 53
BASE: dict[str, Any] = {
    **NO_USER_LIMITS,
    "profiles": [{"display_name": "Small", "slug": "small",
                  "kubespawner_override": {"cpu_guarantee": 1, "cpu_limit": 1, "mem_guarantee": "1G",
                                           "mem_limit": "1G"}}],
    "capacity": {"default": {"cores": 4096, "memory": 8192}},  # the timed offers hold capacity too
    "offer_expiry": 30,
    "prepare_time": 1,
    "max_offers": 1,
}


class Throttled:
    """Serves ``files`` at ``rate`` bytes/s after ``first_byte`` seconds; records each GET's time."""

    def __init__(self, files: dict[str, bytes], rate: float, first_byte: float) -> None:
        self.times: dict[str, list[float]] = {}
        times = self.times

        class Handler(BaseHTTPRequestHandler):
            def _head(self) -> bytes | None:
                body = files.get(self.path.lstrip("/"))
                if body is None:
                    self.send_error(404)
                    return None
                self.send_response(200)
                self.send_header("Content-Type", "application/fits")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                return body

            def do_HEAD(self) -> None:  # noqa: N802
                self._head()

            def do_GET(self) -> None:  # noqa: N802
                started = time.monotonic()
                time.sleep(first_byte)
                body = self._head()
                if body is None:
                    return
                chunk = max(1, int(rate / 20))
                for at in range(0, len(body), chunk):
                    self.wfile.write(body[at:at + chunk])
                    self.wfile.flush()
                    pause = started + first_byte + (at + chunk) / rate - time.monotonic()
                    if pause > 0:
                        time.sleep(pause)
                times.setdefault(self.path.lstrip("/"), []).append(time.monotonic() - started)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def request(name: str, ivoa: dict[str, Any]) -> dict[str, Any]:
    return {
        "executable": {"kind": f"{KINDS}/executable/jupyter-notebook.yaml", "meta": {"name": "bench"}},
        "compute": {"kind": f"{KINDS}/compute/simple-compute-resource.yaml", "cores": {"min": 1},
                    "memory": {"min": 1}},
        "data": [{"kind": f"{KINDS}/data/ivoa-data-resource.yaml", "meta": {"name": name}, "ivoa": ivoa}],
        "schedule": {"requested": {"duration": "PT5M"}},
    }


def update(phase: str) -> dict[str, str]:
    return {"kind": "uri:enum-value-update", "path": "phase", "value": phase}


def quantiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    cut = statistics.quantiles(ordered, n=10) if len(ordered) > 1 else [ordered[0]] * 9
    return {"p50": round(statistics.median(ordered) * 1000, 2), "p90": round(cut[8] * 1000, 2),
            "n": len(ordered)}


def timed_posts(client: httpx.Client, url: str, bodies: dict[str, dict[str, Any]], rounds: int,
                check: Callable[[dict[str, Any]], None]) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {k: [] for k in bodies}
    for i in range(rounds):
        order = list(bodies) if i % 2 == 0 else list(reversed(bodies))
        for key in order:
            started = time.perf_counter()
            answer = client.post(url + "requests", json=bodies[key])
            times[key].append(time.perf_counter() - started)
            check(answer.json())
    return times


def resolution(centre: DataCentre, hubs: dict[str, RealHub], rounds: int) -> dict[str, Any]:
    img = centre.datasets["img3"]
    obscore = {"obs_collection": "xptest", "access_url": img.datalink, "access_format": DL}
    bodies = {"datalink": request("img3", {"obscore": obscore}),
              "given": request("img3", {"datalink": {"access_url": img.url, "content_length": img.size,
                                                     "content_type": "image/fits"}})}

    def check(doc: dict[str, Any]) -> None:
        assert doc["result"] == "YES", doc["meta"]["messages"]

    out: dict[str, Any] = {}
    for name, hub in hubs.items():
        auth = {"Authorization": f"token {hub.user_token('bench')}"}
        with httpx.Client(headers=auth, timeout=60) as client:
            timed_posts(client, hub.broker, bodies, 2, check)  # warm up (and fill the cache)
            times = timed_posts(client, hub.broker, bodies, rounds, check)
        figures = {k: quantiles(v) for k, v in times.items()}
        figures["added_p50_ms"] = round(figures["datalink"]["p50"] - figures["given"]["p50"], 2)
        out[name] = figures
    return out


def estimates(hub: RealHub, site: Throttled, sizes: list[int], downloads: int) -> list[dict[str, Any]]:
    token = hub.user_token("bench")
    rows = []
    with httpx.Client(headers={"Authorization": f"token {token}"}, timeout=60) as client:
        for i in range(downloads):
            name = f"f{sizes[i % len(sizes)]}"
            url = f"{site.url}/{name}"
            body = request(name, {"datalink": {"access_url": url}})  # the size is measured by HEAD
            offerset = client.post(hub.broker + "requests", json=body).json()
            assert offerset["result"] == "YES", offerset["meta"]
            offer = offerset["offers"][0]
            estimate = next(m["max"] for m in offer["metrics"] if m["type"] == TIME)
            uuid = offer["meta"]["uuid"]
            accepted = client.post(hub.broker + f"sessions/{uuid}", json=update("ACCEPTED"))
            assert accepted.status_code == 200, accepted.text
            deadline = time.monotonic() + 180
            while True:
                session = client.get(hub.broker + f"sessions/{uuid}").json()
                if session["phase"] in ("AVAILABLE", "RUNNING"):
                    break
                assert session["phase"] != "FAILED" and time.monotonic() < deadline, session["meta"]
                time.sleep(0.5)
            client.post(hub.broker + f"sessions/{uuid}", json=update("CANCELLED"))
            actual = site.times[name][-1]
            rows.append({"download": i + 1, "bytes": sizes[i % len(sizes)], "estimate_s": estimate,
                         "actual_s": round(actual, 3), "ratio": round(estimate / actual, 3),
                         "from": "data_bandwidth setting" if i == 0 else "measured"})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=30, help="POST rounds per kind and hub")
    parser.add_argument("--downloads", type=int, default=4, help="sessions with a download")
    parser.add_argument("--sizes", default="2000000,3000000,1500000", help="file sizes (bytes), cycled")
    parser.add_argument("--rate", type=float, default=1_000_000, help="the site's bytes/s")
    parser.add_argument("--first-byte", type=float, default=0.2, help="the site's delay before the answer")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory(prefix="bench-data-") as tmp:
        folder = Path(tmp)
        site = Throttled({f"f{s}": bytes(s) for s in sizes}, args.rate, args.first_byte)
        centre = DataCentre.start(folder / "dachs")
        hubs: dict[str, RealHub] = {}
        try:
            common = {**BASE, "data_bandwidth": {site.url: 10e6},
                      "datalink_services": {f"ivo://{AUTHORITY}/": centre.service_url}}
            for name, ttl in (("cached", 600), ("uncached", 0)):
                hubs[name] = RealHub.start(folder / name, settings={**common, "datalink_cache_ttl": ttl},
                                           env={"EXECPLANNER_LAUNCH_SECRET": SECRET})
            report = {"machine": machine(), "resolution": resolution(centre, hubs, args.requests),
                      "estimates": estimates(hubs["cached"], site, sizes, args.downloads),
                      "settings": {"rate": args.rate, "first_byte": args.first_byte, "sizes": sizes}}
        finally:
            for hub in hubs.values():
                hub.stop()
            centre.close()
            site.close()
    if args.json:
        print(json.dumps(report, indent=2))
        return
    m = report["machine"]
    print(f"machine: {m['cores']} cores, {m['cpu']}, Python {m['python']}")
    for name, figures in report["resolution"].items():
        print(f"{name}: POST requests p50 {figures['datalink']['p50']} ms with DataLink, "
              f"{figures['given']['p50']} ms given; added p50 {figures['added_p50_ms']} ms "
              f"(p90 {figures['datalink']['p90']} / {figures['given']['p90']} ms, n={figures['given']['n']})")
    for row in report["estimates"]:
        print(f"download {row['download']}: {row['bytes']} bytes, estimate {row['estimate_s']} s "
              f"({row['from']}), actual {row['actual_s']} s, ratio {row['ratio']}")


if __name__ == "__main__":
    main()
