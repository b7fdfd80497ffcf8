"""Live cluster capacity against the Kubernetes API double: the reflectors of KubeCapacity, then the
broker in-process on a KubeSpawner hub whose offers follow the double's cluster."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hubprocess import RealHub
from k8sdouble import KubeDouble, node, pod
from traitlets.config import Config

from jupyterhub_execplanner.platform.kubecapacity import PoolSpec, Toleration
from jupyterhub_execplanner.platform.kubewatch import KubeCapacity
from jupyterhub_execplanner.service.app import ExecPlannerApp

GPU = "nvidia.com/gpu"
TAINT = {"key": GPU, "value": "present", "effect": "NoSchedule"}
GPU_LABELS = {"accelerator": "a100"}
POOLS = [PoolSpec("default"), PoolSpec("gpu", GPU_LABELS, (Toleration(GPU, "Exists"),), (GPU,))]


@pytest.fixture
def double() -> Iterator[KubeDouble]:
    server = KubeDouble().start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
async def capacity(
    double: KubeDouble, tmp_path: Path
) -> AsyncIterator[Callable[..., Awaitable[KubeCapacity]]]:
    started: list[KubeCapacity] = []

    async def start(**options: Any) -> KubeCapacity:
        options.setdefault("stale_after", 3)
        kube = KubeCapacity(POOLS, kube_config=str(double.write_kubeconfig(tmp_path / "kubeconfig")),
                            debounce=0.01, **options)  # fmt: skip
        await kube.start()
        started.append(kube)
        assert await kube.wait_synced(5), kube.stale_reason()
        return kube

    yield start
    for kube in started:
        await kube.stop()


async def follows(check: Callable[[], bool], within: float = 1.0) -> float:
    """Seconds until ``check()`` holds; fails after ``within``."""
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > within:
            raise AssertionError(f"not within {within} s")
        await asyncio.sleep(0.01)
    return time.monotonic() - start


async def test_list_then_watch_follows_the_cluster(double: KubeDouble, capacity) -> None:
    double.load(
        [node("c1", cpu="8", memory="32Gi"),
         node("g1", cpu="16", memory="64Gi", gpus=2, labels=GPU_LABELS, taints=[TAINT])],
        [pod("web", "c1", cpu="2", memory="4Gi")],
    )  # fmt: skip
    kube = await capacity()
    changes: list[dict] = []
    kube.on_change = changes.append
    assert kube.totals() == {"default": {"cores": 6.0, "memory": 28.0},
                             "gpu": {"cores": 16.0, "memory": 64.0, GPU: 2.0}}  # fmt: skip
    nodes, pods = kube.reflectors
    assert (nodes.lists, pods.lists) == (1, 1)

    double.put_node(node("c2", cpu="4", memory="16Gi"))  # a node joins
    await follows(lambda: kube.totals()["default"]["cores"] == 10.0)
    double.put_pod(pod("train", "g1", cpu="4", memory="8Gi", gpus=2))  # a pod starts
    await follows(lambda: kube.totals()["gpu"][GPU] == 0.0)
    assert kube.pool_free()["gpu"].largest_node_free == {"cores": 12.0, "memory": 56.0, GPU: 0.0}
    double.put_pod(pod("train", "g1", cpu="4", memory="8Gi", gpus=2, phase="Succeeded"))
    await follows(lambda: kube.totals()["gpu"][GPU] == 2.0)  # a pod ends
    double.put_pod(pod("web2", "c2", cpu="1", memory="1Gi"))
    double.delete_pod("web")  # a pod is deleted
    await follows(lambda: kube.totals()["default"] == {"cores": 11.0, "memory": 47.0})
    double.put_node(node("c2", cpu="4", memory="16Gi", unschedulable=True))  # cordoned
    await follows(lambda: kube.totals()["default"] == {"cores": 8.0, "memory": 32.0})
    double.delete_node("g1")
    await follows(lambda: kube.totals()["gpu"] == {"cores": 0.0, "memory": 0.0, GPU: 0.0})
    await follows(lambda: bool(changes) and changes[-1] == kube.totals())
    assert (nodes.lists, pods.lists) == (1, 1), "events only: no list after the first"


async def test_a_dropped_watch_is_opened_again_from_where_it_was(double: KubeDouble, capacity) -> None:
    double.load([node("c1", cpu="8", memory="32Gi")])
    kube = await capacity()
    nodes, pods = kube.reflectors
    before = pods.watches
    for round_ in range(3):
        double.drop_watches()
        double.put_pod(pod(f"p{round_}", "c1", cpu="1", memory="1Gi"))
        await follows(lambda r=round_: kube.totals()["default"]["cores"] == 7.0 - r)
    assert pods.watches >= before + 3
    assert pods.lists == 1, "re-watched from the last version, not listed again"
    assert not kube.stale


async def test_410_gone_lists_again(double: KubeDouble, capacity) -> None:
    double.load([node("c1", cpu="8", memory="32Gi")])
    kube = await capacity()
    nodes, pods = kube.reflectors
    # a change the open watch misses, then the history is compacted and the watch cut: the
    # reflector's version is too old, so it must list to see the change
    double.put_pod(pod("missed", "c1", cpu="3", memory="1Gi"), notify=False)
    double.compact()
    double.drop_watches()
    await follows(lambda: kube.totals()["default"]["cores"] == 5.0)
    assert pods.lists == 2
    await follows(lambda: nodes.lists == 2)  # its version is older than the compaction too
    assert any("resourceVersion=" in r and "watch=True" in r for r in double.requests)


async def test_a_large_cluster_is_listed_in_pages(double: KubeDouble, capacity) -> None:
    double.load([node(f"n{i:03}", cpu="4", memory="8Gi") for i in range(120)],
                [pod(f"p{i:03}", f"n{i % 120:03}", cpu="500m", memory="1Gi") for i in range(300)])
    kube = await capacity(page_size=50)
    assert kube.totals()["default"] == {"cores": 120 * 4 - 150.0, "memory": 120 * 8 - 300.0}
    pages = [r for r in double.requests if r.startswith("GET /api/v1/pods?") and "watch" not in r]
    assert len(pages) == 6 and sum("continue=" in r for r in pages) == 5


async def test_stale_while_the_api_is_away_then_current_again(double: KubeDouble, capacity) -> None:
    double.load([node("c1", cpu="8", memory="32Gi")])
    kube = await capacity(stale_after=2)
    assert kube.stale_reason() is None
    double.stop()
    heard = min(r.last_ok for r in kube.reflectors if r.last_ok is not None)
    await follows(lambda: kube.stale, within=4)
    # stale only once stale_after has passed since the API was last heard from (not at the cut)
    assert kube.clock() - heard > 2
    reason = kube.stale_reason()
    assert reason and "has not heard from the Kubernetes API" in reason and "last error" in reason
    double.put_pod(pod("meanwhile", "c1", cpu="2", memory="1Gi"))  # while nobody watched
    double.start()
    await follows(lambda: not kube.stale, within=3)
    await follows(lambda: kube.totals()["default"]["cores"] == 6.0)


async def test_no_configuration_is_a_stale_reason(tmp_path: Path) -> None:
    kube = KubeCapacity(POOLS, kube_config=str(tmp_path / "missing"))
    await kube.start()
    try:
        assert "cannot reach the Kubernetes API" in (kube.stale_reason() or "")
    finally:
        await kube.stop()


async def test_a_wrong_token_is_an_error_not_an_empty_cluster(double: KubeDouble, tmp_path: Path) -> None:
    config = double.write_kubeconfig(tmp_path / "kubeconfig")
    config.write_text(config.read_text().replace(double.token, "wrong"))
    kube = KubeCapacity(POOLS, kube_config=str(config), stale_after=2)
    await kube.start()
    try:
        await follows(lambda: "401" in (kube.stale_reason() or ""), within=3)
    finally:
        await kube.stop()


@pytest.mark.parametrize(
    ("spawner", "setting", "capacity", "expected"),
    [
        ("kubespawner.KubeSpawner", "auto", {}, "kubernetes"),
        ("kubespawner.KubeSpawner", "auto", {"default": {"cores": 4, "memory": 8}}, "static"),
        ("simple", "auto", {}, "host"),
        ("simple", "auto", {"default": {"cores": 4, "memory": 8}}, "static"),
        ("simple", "kubernetes", {}, "kubernetes"),
        ("kubespawner.KubeSpawner", "host", {}, "host"),
    ],
)  # fmt: skip
def test_capacity_provider_auto(spawner: str, setting: str, capacity: dict, expected: str) -> None:
    config = Config()
    config.JupyterHub.spawner_class = spawner
    config.ExecPlanner.capacity_provider = setting
    config.ExecPlanner.capacity = capacity
    assert ExecPlannerApp(config=config).resolve_capacity_provider() == expected


def test_capacity_provider_is_checked() -> None:
    config = Config()
    config.ExecPlanner.capacity_provider = "cluster"
    with pytest.raises(Exception, match="'auto', 'host', 'static', 'kubernetes' or 'slurm'"):
        ExecPlannerApp(config=config)


# -- the broker on a KubeSpawner hub ---------------------------------------------------------------

KINDS = "https://www.purl.org/ivoa.net/Calycopis-openapi/schema/v1.0/kinds"
PROFILE_LIST = [
    {"display_name": "CPU", "slug": "cpu",
     "kubespawner_override": {"cpu_guarantee": 1, "cpu_limit": 16, "mem_guarantee": "1G",
                              "mem_limit": "16G"}},
    {"display_name": "GPU", "slug": "gpu",
     "kubespawner_override": {"cpu_guarantee": 1, "cpu_limit": 4, "mem_guarantee": "1G",
                              "mem_limit": "8G", "extra_resource_limits": {GPU: "1"},
                              "node_selector": GPU_LABELS,
                              "tolerations": [{"key": GPU, "operator": "Exists",
                                               "effect": "NoSchedule"}]}},
]  # fmt: skip


def ask(cores: int = 1, gpus: int = 0) -> dict[str, Any]:
    compute: dict[str, Any] = {"kind": f"{KINDS}/compute/simple-compute-resource.yaml",
                               "cores": {"min": cores}, "memory": {"min": 1}}  # fmt: skip
    if gpus:
        compute["accelerators"] = [{"resource": GPU, "count": {"min": gpus}}]
    return {"executable": {"kind": f"{KINDS}/executable/jupyter-notebook.yaml"}, "compute": compute,
            "schedule": {"requested": {"duration": "PT1H"}}}  # fmt: skip


@pytest.fixture
async def kube_broker(service_hub: tuple[RealHub, int, str], double: KubeDouble, tmp_path: Path,
                      monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[ExecPlannerApp]:  # fmt: skip
    """The broker in-process as in conftest's start_service, on a KubeSpawner hub's config with no
    ``capacity``, so ``capacity_provider`` "auto" picks the cluster."""
    hub, port, token = service_hub
    for name, value in {
        "JUPYTERHUB_API_URL": f"{hub.url}/hub/api", "JUPYTERHUB_API_TOKEN": token,
        "JUPYTERHUB_SERVICE_NAME": "execplanner", "JUPYTERHUB_SERVICE_PREFIX": "/services/execplanner/",
        "JUPYTERHUB_SERVICE_URL": f"http://127.0.0.1:{port}", "JUPYTERHUB_HOST": "",
        "JUPYTERHUB_CLIENT_ID": "service-execplanner",
        "JUPYTERHUB_OAUTH_CALLBACK_URL": "/services/execplanner/oauth_callback",
    }.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    config = Config()
    config.JupyterHub.spawner_class = "kubespawner.KubeSpawner"
    config.KubeSpawner.profile_list = PROFILE_LIST
    config.ExecPlanner.db_url = f"sqlite:///{tmp_path / 'execplanner.sqlite'}"
    config.ExecPlanner.hub_poll_interval = 10  # not used with the cluster: pods count already
    config.ExecPlanner.driver_interval = 0
    config.ExecPlanner.kube_config = str(double.write_kubeconfig(tmp_path / "kubeconfig"))
    config.ExecPlanner.kube_stale_after = 2
    app = ExecPlannerApp(config=config)
    app.initialize([])
    ready = asyncio.Event()
    task = asyncio.create_task(app.serve(ready))
    await asyncio.wait_for(ready.wait(), 10)
    try:
        yield app
    finally:
        task.cancel()
        try:
            await task
        except (asyncio.CancelledError, Exception):
            pass
        app.store.close()


async def test_offers_follow_the_cluster(kube_broker: ExecPlannerApp, double: KubeDouble,
                                         client: httpx.AsyncClient) -> None:  # fmt: skip
    app = kube_broker
    base = f"http://127.0.0.1:{app.port}/services/execplanner/"
    assert app.resolve_capacity_provider() == "kubernetes" and app.kube is not None
    assert {p.pool for p in app.manager.profiles} == {"default", "accelerator=a100"}

    async def post(body: dict[str, Any]) -> dict[str, Any]:
        answer = await client.post(base + "requests", json=body)
        assert answer.status_code == 200, answer.text
        return answer.json()

    async def eventually(body: dict[str, Any], result: str, within: float = 1.0) -> dict[str, Any]:
        deadline = time.monotonic() + within
        while True:
            doc = await post(body)
            for offer in doc.get("offers", []):  # do not let this probe hold capacity
                await client.post(offer["meta"]["url"], json={
                    "kind": "uri:enum-value-update", "path": "phase", "value": "REJECTED"})
            if doc["result"] == result or time.monotonic() > deadline:
                assert doc["result"] == result, doc
                return doc
            await asyncio.sleep(0.05)

    double.load(
        [node("c1", cpu="8", memory="32Gi"),
         node("g1", cpu="16", memory="64Gi", gpus=1, labels=GPU_LABELS, taints=[TAINT])],
        [pod("system", "c1", cpu="2", memory="2Gi", namespace="kube-system")],
    )  # fmt: skip
    assert await app.kube.wait_synced(5)

    # a GPU request: offers from the GPU profile only, while g1 has its GPU free
    doc = await eventually(ask(gpus=1), "YES")
    offers = [app.manager.record(o["meta"]["uuid"]) for o in doc["offers"]]
    assert {r.offer.profile for r in offers} == {"gpu"}
    assert {r.offer.accelerators[GPU] for r in offers} == {1}
    assert {r.phase.value for r in offers} == {"REJECTED"}

    # a pod takes the GPU: NO within a second, saying no node has one free
    double.put_pod(pod("train", "g1", cpu="1", memory="1Gi", gpus=1, namespace="ml"))
    doc = await eventually(ask(gpus=1), "NO")
    text = " ".join(m["message"] for m in doc["meta"]["messages"])
    assert "1 nvidia.com/gpu free now" in text, text
    double.delete_pod("train", "ml")
    await eventually(ask(gpus=1), "YES")

    # cores: at most what one node has free (6 of c1, 16 of g1 is not in the CPU profile's pool)
    doc = await eventually(ask(cores=8), "NO")
    assert "no node of its pool has 8 cores free now (the node with the most has 6 cores)" in " ".join(
        m["message"] for m in doc["meta"]["messages"])
    double.put_node(node("c2", cpu="12", memory="32Gi"))  # a node joins
    doc = await eventually(ask(cores=8), "YES")

    # the API server goes away for longer than kube_stale_after: NO with the reason, then back
    double.stop()
    doc = await eventually(ask(), "NO", within=5)
    [message] = [m for m in doc["meta"]["messages"] if m["kind"] == "urn:platform-unavailable"]
    assert "cannot plan sessions now" in message["message"]
    assert "has not heard from the Kubernetes API" in message["message"]
    double.start()
    await eventually(ask(), "YES", within=5)
    assert not app.manager.calendar._external, "no hub polling: the pods' requests count already"
