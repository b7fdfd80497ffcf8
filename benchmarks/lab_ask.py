"""Lab-panel ask benchmark: ``POST execplanner/ask`` through the lab server extension to several real
hubs, and ``POST requests`` on an aggregator hub with one real peer against hubs without peers.

Starts three real JupyterHubs (``tests/hubprocess.py``), each with the broker as its hub-managed service
(the e2e profiles ``Small server`` and ``Large server``, a pool so large that no round runs out of room,
``offer_expiry`` 30 s, the phase driver off since no offer is accepted):

* **A**: the own hub of a real ``jupyter server`` with the ``jupyterhub_execplanner.labserver``
  extension (``JUPYTERHUB_API_URL``/``JUPYTERHUB_API_TOKEN``/``JUPYTERHUB_PUBLIC_HUB_URL`` point at A,
  the token is user ``alice``'s); it also stores each ask's notebook snapshot;
* **B**: another hub, added to the lab server by name, URL and alice's token on B (``POST
  execplanner/hubs``);
* **AGG**: an aggregator whose one peer is B (``peers``, with a token of B's user ``fed-agg``).

And a loopback socket that accepts connections and never answers (**slow**), added to the lab server
as a third hub. Then ``--warmup`` unmeasured rounds and ``--rounds`` measured ones; in each round, in an
order that rotates from round to round:

* lab ``own``: ``POST execplanner/ask`` for ``work/analysis.ipynb`` (a one-cell notebook and a
  ``requirements.txt`` beside it) asking A alone, the default per-hub timeout (5 s);
* lab ``two``: the same asking A and B;
* lab ``slow``: the same asking A, B and slow, with ``timeout`` 2 s;
* lab ``split``: what the panel does: ``POST execplanner/prepare`` (the snapshot and the request), then
  one ``POST execplanner/ask`` with that request per hub, A, B and slow at the same time (``timeout``
  2 s), each on its own keep-alive connection as the browser's; timed from the start of prepare until
  the first of A and B is back (its offers are on the page), until both are, and until slow's is;
* hub ``aggregator``: ``POST requests`` on AGG (it plans itself and asks B at the same time);
* hub ``no-peers``: the same request on A, a hub without peers and the same settings;
* hub ``peer-alone``: the same request on B directly.

Timed: the whole HTTP call as a client sees it (a keep-alive connection with a token, as the panel's
``ServerConnection`` has one), and for the lab asks each hub's ``seconds`` from the answer. The figures are
p50, p95 and max over the measured rounds. Each answer's statuses are counted (a real hub should say YES,
slow should be ``timeout``); the aggregator's answers are checked to hold B's offers.

Everything listens on and talks to 127.0.0.1 on free ports; the hubs, the lab server and the socket are
stopped and the temporary folder removed at the end (also on Ctrl-C or SIGTERM; ``--keep`` keeps it).

Run: ``python benchmarks/lab_ask.py [--rounds 30] [--warmup 3] [--json]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
from machine import NO_USER_LIMITS, machine

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from brokers import E2E_PROFILES  # noqa: E402
from hubprocess import RealHub  # noqa: E402
from labprocess import LabServer  # noqa: E402
from loopback import Silent  # noqa: E402

# the file the wheel installs into etc/jupyter/jupyter_server_config.d, which enables the extension
KINDS = "https://www.purl.org/ivoa.net/Calycopis-openapi/schema/v1.0/kinds"
HUB_SETTINGS: dict[str, Any] = {
    "profiles": E2E_PROFILES,
    "capacity": {"default": {"cores": 1_000_000, "memory": 4_000_000}},
    "offer_expiry": 30,
    "prepare_time": 5,
    "driver_interval": 0,  # no offer is accepted: no phase driver
    "hub_poll_interval": 10,  # the product's default (RealHub's is 1 s, for tests)
    **NO_USER_LIMITS,
}
NOTEBOOK = json.dumps({"cells": [{"cell_type": "markdown", "metadata": {}, "source": "# Benchmark"}],
                       "metadata": {}, "nbformat": 4, "nbformat_minor": 5}, indent=1)
OWN = "this-hub"  # the lab server's name for its own hub
SLOW_TIMEOUT = 2.0
LAB = {"own": [OWN], "two": [OWN, "B"], "slow": [OWN, "B", "slow"]}
SPLIT = [OWN, "B", "slow"]  # the panel's per-hub asks
FEDERATION = ("aggregator", "no-peers", "peer-alone")
REFERENCE = ("lab-hubs", "snapshot")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def execution_request() -> dict[str, Any]:
    """What the lab server builds from an ask, less the snapshot: 1-2 cores, 1 GiB, 30 minutes."""
    return {
        "executable": {"kind": f"{KINDS}/executable/jupyter-notebook.yaml", "meta": {"name": "bench"}},
        "compute": {"kind": f"{KINDS}/compute/simple-compute-resource.yaml",
                    "cores": {"min": 1, "max": 2}, "memory": {"min": 1}},
        "schedule": {"requested": {"duration": "PT30M"}},
    }


def ask_body(hubs: list[str], timeout: float | None) -> dict[str, Any]:
    body: dict[str, Any] = {"hubs": hubs, "path": "work/analysis.ipynb", "cores": {"min": 1, "max": 2},
                            "memory": {"min": 1}, "duration": 1800}
    if timeout is not None:
        body["timeout"] = timeout
    return body


# -- one measurement of each kind ---------------------------------------------------------------------


def lab_ask(lab: LabServer, scenario: str) -> dict[str, Any]:
    hubs = LAB[scenario]
    tic = time.perf_counter()
    response = lab.post("ask", ask_body(hubs, SLOW_TIMEOUT if scenario == "slow" else None))
    whole = time.perf_counter() - tic
    if response.status_code != 200:
        raise RuntimeError(f"ask {scenario}: {response.status_code} {response.text[:500]}")
    answers = response.json()["answers"]
    return {"whole": whole,
            "seconds": {a["hub"]: a["seconds"] for a in answers},
            "status": {a["hub"]: a["status"] for a in answers},
            "offers": sum(len(a["offers"]) for a in answers)}


class SplitAsker:
    """The panel's way: prepare, then one ask per hub at once, each on its own keep-alive connection
    (made once, as the browser keeps its connections), from threads started once."""

    def __init__(self, lab: LabServer) -> None:
        self.lab = lab
        self.clients = [httpx.Client(base_url=f"http://127.0.0.1:{lab.port}/", timeout=60,
                                     headers={"Authorization": f"token {lab.token}"}) for _ in SPLIT]
        self.pool = ThreadPoolExecutor(len(SPLIT))

    def _one(self, client: httpx.Client, hub: str, request: dict[str, Any], tic: float) -> dict[str, Any]:
        response = client.post("execplanner/ask", json={"hubs": [hub], "request": request,
                                                        "timeout": SLOW_TIMEOUT})
        back = time.perf_counter() - tic
        if response.status_code != 200:
            raise RuntimeError(f"split ask {hub}: {response.status_code} {response.text[:500]}")
        (answer,) = response.json()["answers"]
        return {"back": back, "seconds": answer["seconds"], "status": answer["status"]}

    def ask(self) -> dict[str, Any]:
        tic = time.perf_counter()
        prepared = self.clients[0].post("execplanner/prepare", json={
            k: v for k, v in ask_body([], None).items() if k != "hubs"})
        prepare = time.perf_counter() - tic
        if prepared.status_code != 200:
            raise RuntimeError(f"prepare: {prepared.status_code} {prepared.text[:500]}")
        request = prepared.json()["request"]
        futures = [self.pool.submit(self._one, c, hub, request, tic)
                   for c, hub in zip(self.clients, SPLIT, strict=True)]
        results = dict(zip(SPLIT, (f.result() for f in futures), strict=True))
        answered = [results[OWN]["back"], results["B"]["back"]]
        return {"prepare": prepare, "first": min(answered), "both": max(answered),
                "whole": max(r["back"] for r in results.values()),
                "seconds": {hub: r["seconds"] for hub, r in results.items()},
                "status": {hub: r["status"] for hub, r in results.items()}}

    def stop(self) -> None:
        self.pool.shutdown(wait=True)
        for client in self.clients:
            client.close()


def hub_request(http: httpx.Client, broker: str, peer_broker: str | None) -> dict[str, Any]:
    tic = time.perf_counter()
    response = http.post(broker + "requests", json=execution_request())
    whole = time.perf_counter() - tic
    if response.status_code != 200:
        raise RuntimeError(f"POST requests on {broker}: {response.status_code} {response.text[:500]}")
    doc = response.json()
    offers = doc.get("offers") or []
    from_peer = sum(o["meta"]["url"].startswith(peer_broker) for o in offers) if peer_broker else 0
    messages = [m.get("kind") for m in (doc.get("meta") or {}).get("messages") or []]
    return {"whole": whole, "result": doc.get("result"), "offers": len(offers), "from_peer": from_peer,
            "peer_trouble": any(k in ("urn:execplanner:peer-timeout", "urn:execplanner:peer-error")
                                for k in messages)}


def reference(lab: LabServer, http: httpx.Client, broker: str, name: str) -> dict[str, Any]:
    """``lab-hubs``: ``GET execplanner/hubs``, the lab server's own round trip (no hub asked);
    ``snapshot``: ``POST snapshots`` on A directly with the files an ask uploads."""
    tic = time.perf_counter()
    if name == "lab-hubs":
        response = lab.http.get("execplanner/hubs")
    else:
        files = {"analysis.ipynb": NOTEBOOK, "requirements.txt": "numpy\n"}
        response = http.post(broker + "snapshots", json={"files": files})
    whole = time.perf_counter() - tic
    if response.status_code not in (200, 201):
        raise RuntimeError(f"{name}: {response.status_code} {response.text[:500]}")
    return {"whole": whole}


def client_cost(n: int = 20) -> dict[str, Any]:
    """What making an ``httpx.AsyncClient`` costs (the lab server and the aggregator make one per hub
    asked, and the lab server one more for the snapshot): with certificate checks, and without."""
    times: dict[str, list[float]] = {"verify": [], "no-verify": []}
    for _ in range(n):
        for key, kwargs in (("verify", {}), ("no-verify", {"verify": False})):
            tic = time.perf_counter()
            httpx.AsyncClient(**kwargs)  # type: ignore[arg-type]
            times[key].append(time.perf_counter() - tic)
    return {key: figures(values) for key, values in times.items()}


# -- figures --------------------------------------------------------------------------------------------


def figures(values: list[float]) -> dict[str, float | int | None]:
    if not values:
        return {"p50": None, "p95": None, "max": None, "min": None, "n": 0}
    ordered = sorted(values)
    p95 = statistics.quantiles(ordered, n=20, method="inclusive")[18] if len(ordered) > 1 else ordered[0]
    return {"p50": statistics.median(ordered), "p95": p95, "max": ordered[-1], "min": ordered[0],
            "n": len(ordered)}


def summarise(lab_rounds: dict[str, list[dict]], hub_rounds: dict[str, list[dict]],
              ref_rounds: dict[str, list[dict]], split_rounds: list[dict]) -> dict[str, Any]:
    lab: dict[str, Any] = {}
    for scenario, rounds in lab_rounds.items():
        row: dict[str, Any] = {"whole": figures([r["whole"] for r in rounds]), "hubs": {}, "status": {}}
        for hub in LAB[scenario]:
            row["hubs"][hub] = figures([r["seconds"][hub] for r in rounds])
            row["status"][hub] = dict(Counter(r["status"][hub] for r in rounds))
        # what the lab server adds to the slowest hub: reading the notebook, the snapshot on A, building
        # the request, the clients, the answer's shape, and the browser's own round trip
        row["overhead"] = figures([r["whole"] - max(r["seconds"].values()) for r in rounds])
        row["offers"] = figures([float(r["offers"]) for r in rounds])
        lab[scenario] = row
    hubs: dict[str, Any] = {}
    for name, rounds in hub_rounds.items():
        hubs[name] = {"whole": figures([r["whole"] for r in rounds]),
                      "result": dict(Counter(r["result"] for r in rounds)),
                      "offers": figures([float(r["offers"]) for r in rounds]),
                      "from_peer": figures([float(r["from_peer"]) for r in rounds]),
                      "peer_trouble": sum(r["peer_trouble"] for r in rounds)}
    agg, alone = hubs["aggregator"]["whole"], hubs["no-peers"]["whole"]
    federation = {"p50_added": agg["p50"] - alone["p50"], "p95_added": agg["p95"] - alone["p95"],
                  "p50_ratio": agg["p50"] / alone["p50"]}
    refs = {name: figures([r["whole"] for r in rounds]) for name, rounds in ref_rounds.items()}
    split = {key: figures([r[key] for r in split_rounds]) for key in ("prepare", "first", "both", "whole")}
    split["hubs"] = {hub: figures([r["seconds"][hub] for r in split_rounds]) for hub in SPLIT}
    split["status"] = {hub: dict(Counter(r["status"][hub] for r in split_rounds)) for hub in SPLIT}
    return {"lab": lab, "hubs": hubs, "federation": federation, "reference": refs, "split": split}


def ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.0f}"


def row(label: str, f: dict[str, Any], extra: str = "") -> str:
    return f"  {label:44} {ms(f['p50']):>7} {ms(f['p95']):>7} {ms(f['max']):>7}  {extra}"


def print_table(report: dict[str, Any]) -> None:
    m, cfg, s = report["machine"], report["config"], report["summary"]
    print(f"machine: {m['cores']} cores, {m['cpu']}, Python {m['python']}; "
          f"load before {report['load_before']}, after {report['load_after']}")
    print(f"rounds: {cfg['rounds']} measured (+{cfg['warmup']} warm-up); milliseconds")
    print()
    print(f"  {'POST execplanner/ask (lab server)':44} {'p50':>7} {'p95':>7} {'max':>7}  statuses")
    for scenario, title in (("own", "own hub A only"), ("two", "A + B"),
                            ("slow", f"A + B + silent hub, timeout {SLOW_TIMEOUT:g} s")):
        lab = s["lab"][scenario]
        print(row(f"{title}: whole call", lab["whole"]))
        for hub in LAB[scenario]:
            statuses = ", ".join(f"{k} {v}" for k, v in lab["status"][hub].items())
            print(row(f"    {hub}: its 'seconds'", lab["hubs"][hub], statuses))
        print(row("    whole - slowest hub", lab["overhead"]))
    split = s["split"]
    print(f"  the panel's way: prepare, then one ask per hub (A, B, silent; timeout {SLOW_TIMEOUT:g} s)")
    print(row("    prepare (snapshot, request)", split["prepare"]))
    print(row("    first of A and B back (offers visible)", split["first"]))
    print(row("    both A and B back", split["both"]))
    statuses = ", ".join(f"{k} {v}" for k, v in split["status"]["slow"].items())
    print(row("    silent hub's answer back", split["whole"], statuses))
    for hub in (OWN, "B"):
        statuses = ", ".join(f"{k} {v}" for k, v in split["status"][hub].items())
        print(row(f"    {hub}: its 'seconds'", split["hubs"][hub], statuses))
    print()
    print(f"  {'POST requests (hub broker)':44} {'p50':>7} {'p95':>7} {'max':>7}  results")
    for name, title in (("aggregator", "aggregator AGG, peer B"), ("no-peers", "hub A, no peers"),
                        ("peer-alone", "hub B alone")):
        hub = s["hubs"][name]
        results = ", ".join(f"{k} {v}" for k, v in hub["result"].items())
        extra = f"{results}; offers {hub['offers']['p50']:g}"
        if name == "aggregator":
            extra += f" ({hub['from_peer']['p50']:g} from B); peer timeouts/errors {hub['peer_trouble']}"
        print(row(title, hub["whole"], extra))
    print()
    print(f"  {'for reference':44} {'p50':>7} {'p95':>7} {'max':>7}")
    print(row("GET execplanner/hubs (lab round trip)", s["reference"]["lab-hubs"]))
    print(row("POST snapshots on A, directly", s["reference"]["snapshot"]))
    print(row("httpx.AsyncClient() made (in this process)", report["client_cost"]["verify"]))
    print(row("  the same with verify=False", report["client_cost"]["no-verify"]))
    fed = s["federation"]
    print()
    print(f"federation adds {ms(fed['p50_added'])} ms at p50 ({fed['p50_ratio']:.2f}x), "
          f"{ms(fed['p95_added'])} ms at p95")


# -- the run ------------------------------------------------------------------------------------------


def start_hubs(specs: list[tuple[Path, dict[str, Any]]], stack: list[Any]) -> list[RealHub]:
    """Start hubs at once, in threads; every hub that started goes on ``stack``, also when another
    failed or Ctrl-C came while waiting (the threads are waited for, so no hub is left running)."""
    pool = ThreadPoolExecutor(len(specs))
    futures = [pool.submit(RealHub.start, folder, settings=settings) for folder, settings in specs]
    try:
        pool.shutdown(wait=True)
    finally:
        pool.shutdown(wait=True)  # again, if Ctrl-C interrupted the first wait
        stack.extend(f.result() for f in futures if f.exception() is None)
    return [f.result() for f in futures]


def start_world(folder: Path, stack: list[Any]) -> dict[str, Any]:
    """Start A and B (at once), then AGG, the silent socket and the lab server; each is put on
    ``stack`` as soon as it runs, so that the caller stops whatever started."""
    log(f"starting hubs A and B in {folder}")
    a, b = start_hubs([(folder / "a", HUB_SETTINGS), (folder / "b", HUB_SETTINGS)], stack)
    log("starting the aggregator AGG (peer: B)")
    peers = [{"name": "b", "url": b.url, "token": b.user_token("fed-agg")}]
    (agg,) = start_hubs([(folder / "agg", {**HUB_SETTINGS, "peers": peers})], stack)
    silent = Silent()
    stack.append(silent)
    log("starting jupyter server with the lab extension (own hub: A)")
    env = {"JUPYTERHUB_API_URL": f"{a.url}/hub/api", "JUPYTERHUB_API_TOKEN": a.user_token("alice"),
           "JUPYTERHUB_PUBLIC_HUB_URL": f"{a.url}/hub/"}
    lab = LabServer(folder / "lab", env)
    stack.append(lab)
    work = lab.root / "work"
    work.mkdir()
    (work / "analysis.ipynb").write_text(NOTEBOOK)
    (work / "requirements.txt").write_text("numpy\n")
    for name, url, token in (("B", b.url, b.user_token("alice")), ("slow", silent.url, "never-used")):
        added = lab.post("hubs", {"name": name, "url": url, "token": token})
        if added.status_code != 201:
            raise RuntimeError(f"adding hub {name}: {added.status_code} {added.text}")
    return {"a": a, "b": b, "agg": agg, "lab": lab}


def run(args: argparse.Namespace, folder: Path, stack: list[Any]) -> dict[str, Any]:
    report: dict[str, Any] = {"machine": machine(), "load_before": load(),
                              "config": {"rounds": args.rounds, "warmup": args.warmup,
                                         "slow_timeout": SLOW_TIMEOUT, "hub_settings": {
                                             k: v for k, v in HUB_SETTINGS.items() if k != "profiles"}}}
    world = start_world(folder, stack)
    a, b, agg, lab = world["a"], world["b"], world["agg"], world["lab"]
    clients = {name: httpx.Client(timeout=60, headers={"Authorization": f"token {hub.user_token('bench')}"})
               for name, hub in (("aggregator", agg), ("no-peers", a), ("peer-alone", b))}
    stack.extend(clients.values())
    brokers = {"aggregator": (agg.broker, b.broker), "no-peers": (a.broker, None),
               "peer-alone": (b.broker, None)}
    split = SplitAsker(lab)
    stack.append(split)
    kinds = ([("lab", s) for s in LAB] + [("split", "split")] + [("hub", h) for h in FEDERATION]
             + [("ref", r) for r in REFERENCE])
    lab_rounds: dict[str, list[dict]] = {s: [] for s in LAB}
    hub_rounds: dict[str, list[dict]] = {h: [] for h in FEDERATION}
    ref_rounds: dict[str, list[dict]] = {r: [] for r in REFERENCE}
    split_rounds: list[dict] = []
    for index in range(-args.warmup, args.rounds):
        shift = index % len(kinds)
        for kind, name in kinds[shift:] + kinds[:shift]:
            time.sleep(args.settle)
            if kind == "lab":
                result = lab_ask(lab, name)
                if index >= 0:
                    lab_rounds[name].append(result)
            elif kind == "split":
                result = split.ask()
                if index >= 0:
                    split_rounds.append(result)
            elif kind == "ref":
                result = reference(lab, clients["no-peers"], a.broker, name)
                if index >= 0:
                    ref_rounds[name].append(result)
            else:
                broker, peer = brokers[name]
                result = hub_request(clients[name], broker, peer)
                if index >= 0:
                    hub_rounds[name].append(result)
        if index < 0:
            log(f"warm-up round {index + args.warmup + 1}/{args.warmup} done")
            continue
        log(f"round {index}: " + ", ".join(
            f"{name} {rounds[-1]['whole'] * 1000:.0f} ms" for name, rounds in
            (*lab_rounds.items(), ("split-both", [{"whole": split_rounds[-1]["both"]}]),
             *hub_rounds.items(), *ref_rounds.items())))
    report["load_after"] = load()
    report["summary"] = summarise(lab_rounds, hub_rounds, ref_rounds, split_rounds)
    report["client_cost"] = client_cost()
    report["rounds"] = {"lab": lab_rounds, "split": split_rounds, "hubs": hub_rounds,
                        "reference": ref_rounds}
    return report


def stop_all(stack: list[Any]) -> None:
    for thing in reversed(stack):
        try:
            thing.close() if isinstance(thing, (httpx.Client, Silent)) else thing.stop()
        except Exception as e:  # keep stopping the others
            log(f"stopping {thing!r}: {e}")
    stack.clear()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=30, help="measured rounds (30)")
    parser.add_argument("--warmup", type=int, default=3, help="unmeasured rounds first (3)")
    parser.add_argument("--settle", type=float, default=0.2, help="seconds of rest before each call (0.2)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs)")
    parser.add_argument("--json", action="store_true", help="print the figures and every round as JSON")
    args = parser.parse_args()
    # Ctrl-C (also where the shell started us with SIGINT ignored) and SIGTERM end the run; everything
    # started is still stopped
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"
    folder = Path(tempfile.mkdtemp(prefix="execplanner-lab-ask-"))
    stack: list[Any] = []
    try:
        report = run(args, folder, stack)
    finally:
        stop_all(stack)
        if args.keep:
            log(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_table(report)


if __name__ == "__main__":
    main()
