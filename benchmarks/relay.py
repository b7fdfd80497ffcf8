"""Linked accounts benchmark: what the relay through the user's own hub adds, and how long linking takes.

Starts two trial hubs as docs/linked-accounts.md says (``scripts/hub.sh``; hub A whose users link
their accounts on hub B), links alice on hub A to ``alice-b`` on hub B through the hubs' own login
and consent pages (an HTTP client that keeps cookies, as a browser would), then, ``--requests``
rounds, interleaved:

- ``GET sessions`` on hub B's broker with alice-b's linked token, directly (the baseline);
- the same through hub A's relay (``GET peers/hub-b/sessions`` with alice's hub A token);
- ``POST requests`` likewise, each offer rejected at once so that none holds room.

It prints the p50 and p90 of each, the relay's added time, and how long linking took (from opening
``links/hub-b/authorize`` to the callback page, both logins and the consent included).

Run: ``python benchmarks/relay.py [--requests 25] [--json]``. Everything is on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from quickhubs import link, linked_pair, linked_token, user_token  # noqa: E402

PEER = "hub-b"
NOTEBOOK = '{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'


class Folders:
    """What ``linked_pair`` needs of pytest's ``tmp_path_factory``."""

    def __init__(self, root: Path) -> None:
        self.root, self.n = root, 0

    def mktemp(self, name: str) -> Path:
        self.n += 1
        path = self.root / f"{name}{self.n}"
        path.mkdir()
        return path


def timed(call: Any) -> float:
    started = time.perf_counter()
    answer = call()
    elapsed = 1000 * (time.perf_counter() - started)
    assert answer.status_code == 200, answer.text[:300]
    return elapsed


def figures(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {"p50": round(statistics.median(ordered), 1),
            "p90": round(ordered[int(0.9 * (len(ordered) - 1))], 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=25,
                        help="rounds (each asks hub B twice; its default limit is 60 asks a minute)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="relay-bench-") as root:
        pair = linked_pair(Folders(Path(root)), "relay-benchmark-secret-0123456789", PEER)
        a, b = next(pair)
        try:
            started = time.perf_counter()
            link(a, b, "alice", "alice-b", PEER)
            linking = time.perf_counter() - started
            own = user_token(a, "alice")
            linked = linked_token(a, "alice", PEER)
            via_a = httpx.Client(base_url=f"{a.url}/services/execplanner/peers/{PEER}/", trust_env=False,
                                 timeout=60, headers={"Authorization": f"token {own}"})
            on_b = httpx.Client(base_url=f"{b.url}/services/execplanner/", trust_env=False, timeout=60,
                                headers={"Authorization": f"Bearer {linked}"})
            snapshot = httpx.post(f"{a.url}/services/execplanner/snapshots", trust_env=False, timeout=60,
                                  headers={"Authorization": f"token {own}"},
                                  json={"files": {"n.ipynb": NOTEBOOK}}).json()["urls"]["n.ipynb"]
            request = {"executable": {"kind": "https://www.purl.org/ivoa.net/Calycopis-openapi/schema/"
                                              "v1.0/kinds/executable/jupyter-notebook.yaml",
                                      "location": snapshot},
                       "schedule": {"requested": {"duration": "PT10M"}}}
            reject = {"kind": "uri:enum-value-update", "path": "phase", "value": "REJECTED"}
            samples: dict[str, list[float]] = {k: [] for k in
                                               ("sessions direct", "sessions relayed",
                                                "requests direct", "requests relayed")}
            for _ in range(3):  # warm both paths (connections, caches)
                on_b.get("sessions")
                via_a.get("sessions")
            for _ in range(args.requests):
                for name, client in (("direct", on_b), ("relayed", via_a)):
                    samples[f"sessions {name}"].append(timed(lambda c=client: c.get("sessions")))
                    answer: dict[str, Any] = {}

                    def ask(c: httpx.Client = client, out: dict[str, Any] = answer) -> httpx.Response:
                        response = c.post("requests", json=request)
                        out.update(response.json())
                        return response

                    samples[f"requests {name}"].append(timed(ask))
                    for offer in answer.get("offers", []):
                        on_b.post(f"sessions/{offer['meta']['uuid']}", json=reject)
            result: dict[str, Any] = {k: figures(v) for k, v in samples.items()}
            for what in ("sessions", "requests"):
                result[f"{what} added by the relay (p50, ms)"] = round(
                    result[f"{what} relayed"]["p50"] - result[f"{what} direct"]["p50"], 1)
            result["linking (s)"] = round(linking, 2)
            result["requests"] = args.requests
        finally:
            pair.close()
    if args.json:
        print(json.dumps(result, indent=1))
        return
    for key, value in result.items():
        print(f"{key:40} {value}")


if __name__ == "__main__":
    main()
