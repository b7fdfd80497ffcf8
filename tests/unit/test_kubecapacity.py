"""Cluster capacity arithmetic: nodes' allocatable minus pods' requests, per pool (pure)."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from k8sdouble import container, node, pod

from jupyterhub_execplanner.model.request import (
    AcceleratorRequest,
    ComputeSpec,
    ExecutableSpec,
    ExecutionRequest,
    IntRange,
    ScheduleSpec,
)
from jupyterhub_execplanner.planning.nodefit import fit_to_nodes
from jupyterhub_execplanner.platform.kubecapacity import (
    ClusterState,
    PoolSpec,
    Taint,
    Toleration,
    node_from_json,
    pod_from_json,
    pool_totals,
    pools_for_profiles,
)
from jupyterhub_execplanner.platform.kuberesources import effective_requests, parse_quantity
from jupyterhub_execplanner.platform.profiles import Profile

GPU = "nvidia.com/gpu"
GIB = 1024**3
GPU_TAINT = {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}
GPU_POOL = PoolSpec("gpu", {"accelerator": "a100"}, (Toleration("nvidia.com/gpu", "Exists"),), (GPU,))
DEFAULT = PoolSpec("default")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("2", 2.0), ("500m", 0.5), ("0.25", 0.25), (".5", 0.5), (3, 3.0), (1.5, 1.5),
        ("100n", 1e-7), ("250u", 2.5e-4), ("1k", 1e3), ("1M", 1e6), ("2G", 2e9),
        ("16Gi", 16 * GIB), ("512Mi", 512 * 1024**2), ("12345Ki", 12345 * 1024), ("1Ti", 1024**4),
        ("1e3", 1e3), ("1E3", 1e3), ("1E", 1e18), ("129e6", 129e6), ("+1", 1.0),
    ],
)  # fmt: skip
def test_quantities(text: object, value: float) -> None:
    assert parse_quantity(text) == pytest.approx(value)


@pytest.mark.parametrize("text", ["", "1.2.3", "Gi", "1Gb", "1 Gi", "abc", None, "1ki", True])
def test_bad_quantities(text: object) -> None:
    with pytest.raises(ValueError):
        parse_quantity(text)


def _spec(**parts: object) -> dict:
    return pod("p", "n", **parts)["spec"]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        # the containers' sum
        (_spec(containers=[container("a", "1", "1Gi"), container("b", "500m", "2Gi")]),
         {"cores": 1.5, "memory": 3.0}),
        # an init container larger than the sum wins, per resource
        (_spec(cpu="1", memory="1Gi", init=[container("i", "3", "512Mi")]),
         {"cores": 3.0, "memory": 1.0}),
        # the largest init container, not their sum
        (_spec(cpu="1", memory="1Gi", init=[container("i1", "2"), container("i2", "3")]),
         {"cores": 3.0, "memory": 1.0}),
        # a sidecar (init container with restartPolicy Always) adds to the containers and to the
        # init containers that start after it
        (_spec(cpu="1", memory="1Gi",
               init=[container("side", "1", restartPolicy="Always"), container("i", "2")]),
         {"cores": 3.0, "memory": 1.0}),
        (_spec(cpu="2", memory="1Gi",
               init=[container("i", "2"), container("side", "1", restartPolicy="Always")]),
         {"cores": 3.0, "memory": 1.0}),
        # pod overhead (RuntimeClass) is added
        ({**_spec(cpu="1", memory="1Gi"), "overhead": {"cpu": "250m", "memory": "128Mi"}},
         {"cores": 1.25, "memory": 1.125}),
        # a limit without a request requests the limit; GPUs are limits only
        (_spec(containers=[{"name": "c", "resources": {"limits": {"cpu": "2", "memory": "1Gi"}}}]),
         {"cores": 2.0, "memory": 1.0}),
        (_spec(cpu="1", memory="1Gi", gpus=2), {"cores": 1.0, "memory": 1.0, GPU: 2.0}),
        # no requests at all (BestEffort)
        (_spec(containers=[{"name": "c", "image": "x"}]), {}),
        # native resources other than cpu and memory are not planned
        (_spec(containers=[{"name": "c", "resources": {"requests": {"ephemeral-storage": "1Gi",
                                                                    "hugepages-2Mi": "2Mi"}}}]),
         {}),
    ],
)  # fmt: skip
def test_effective_requests(spec: dict, expected: dict) -> None:
    assert effective_requests(spec) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("toleration", "taint", "tolerated"),
    [
        (Toleration("gpu", "Equal", "yes", "NoSchedule"), Taint("gpu", "yes", "NoSchedule"), True),
        (Toleration("gpu", "Equal", "no", "NoSchedule"), Taint("gpu", "yes", "NoSchedule"), False),
        (Toleration("gpu", "Exists", "", "NoSchedule"), Taint("gpu", "yes", "NoSchedule"), True),
        (Toleration("gpu", "Exists"), Taint("gpu", "yes", "NoExecute"), True),  # any effect
        (Toleration("gpu", "Exists", "", "NoExecute"), Taint("gpu", "", "NoSchedule"), False),
        (Toleration("", "Exists"), Taint("anything", "x", "NoSchedule"), True),  # tolerates all
        (Toleration("other", "Exists"), Taint("gpu", "", "NoSchedule"), False),
        (Toleration("gpu"), Taint("gpu", "", "NoSchedule"), True),  # Equal with empty values
        (Toleration("gpu", "Lt", "5"), Taint("gpu", "3", "NoSchedule"), False),  # unknown operator
    ],
)  # fmt: skip
def test_tolerations(toleration: Toleration, taint: Taint, tolerated: bool) -> None:
    assert toleration.tolerates(taint) is tolerated


def test_toleration_from_kubespawner_dict() -> None:
    doc = {"key": "hub.jupyter.org/dedicated", "operator": "Equal", "value": "user",
           "effect": "NoSchedule"}  # fmt: skip
    assert Toleration.from_dict(doc) == Toleration("hub.jupyter.org/dedicated", "Equal", "user", "NoSchedule")
    assert Toleration.from_dict({"operator": "Exists"}) == Toleration("", "Exists")


def test_node_record() -> None:
    obj = node("g1", cpu="7910m", memory="30Gi", gpus=4, labels={"accelerator": "a100"},
               taints=[GPU_TAINT, {"key": "soft", "effect": "PreferNoSchedule"}])  # fmt: skip
    record = node_from_json(obj)
    assert record.allocatable == pytest.approx({"cores": 7.91, "memory": 30.0, GPU: 4.0})
    assert record.taints == (Taint(GPU, "present", "NoSchedule"),)  # PreferNoSchedule ignored
    assert record.usable and record.labels["accelerator"] == "a100"
    assert not node_from_json(node("x", ready=False)).usable
    assert not node_from_json(node("x", unschedulable=True)).usable
    no_conditions = node("x")
    del no_conditions["status"]["conditions"]
    assert not node_from_json(no_conditions).usable


@pytest.mark.parametrize(
    ("obj", "active", "placeholder", "session"),
    [
        (pod("a", "n1"), True, False, False),
        (pod("a"), False, False, False),  # pending: not scheduled yet
        (pod("a", "n1", phase="Succeeded"), False, False, False),
        (pod("a", "n1", phase="Failed"), False, False, False),
        (pod("a", "n1", phase="Pending"), True, False, False),  # bound, pulling its image
        (pod("a", "n1", phase="Unknown"), True, False, False),
        (pod("a", "n1", labels={"component": "user-placeholder"}), True, True, False),
        (pod("a", "n1", annotations={"hub.jupyter.org/servername": "ep-0123456789ab"}), True, False, True),
        (pod("a", "n1", annotations={"hub.jupyter.org/servername": "mine"}), True, False, False),
    ],
)  # fmt: skip
def test_pod_record(obj: dict, active: bool, placeholder: bool, session: bool) -> None:
    record = pod_from_json(obj)
    assert (record.active, record.placeholder, record.session) == (active, placeholder, session)
    assert record.key == "default/a"


def _cluster() -> tuple[list[dict], list[dict]]:
    nodes = [
        node("c1", cpu="8", memory="32Gi"),
        node("c2", cpu="4", memory="16Gi"),
        node("cordoned", cpu="64", memory="256Gi", unschedulable=True),
        node("down", cpu="64", memory="256Gi", ready=False),
        node("g1", cpu="16", memory="64Gi", gpus=4, labels={"accelerator": "a100"}, taints=[GPU_TAINT]),
        node("g2", cpu="16", memory="64Gi", gpus=2, labels={"accelerator": "a100"}, taints=[GPU_TAINT]),
        node("t4", cpu="16", memory="64Gi", gpus=1, labels={"accelerator": "t4"}, taints=[GPU_TAINT]),
    ]
    pods = [
        pod("web", "c1", cpu="2", memory="4Gi"),
        pod("init", "c1", cpu="1", memory="1Gi", init=[container("i", "3", "1Gi")]),  # 3 cores
        pod("done", "c1", cpu="4", memory="4Gi", phase="Succeeded"),
        pod("pending", "", cpu="4", memory="4Gi"),
        pod("placeholder", "c2", cpu="4", memory="16Gi", labels={"component": "user-placeholder"}),
        pod("on-cordoned", "cordoned", cpu="1", memory="1Gi"),
        pod("train", "g1", cpu="4", memory="16Gi", gpus=3),
        pod("session", "g2", cpu="8", memory="8Gi", gpus=1,
            annotations={"hub.jupyter.org/servername": "ep-0123456789ab"}),
        pod("too-big", "c2", cpu="6", memory="1Gi"),  # overcommitted: c2 has 0 cores free, not -2
    ]  # fmt: skip
    return nodes, pods


TAINTED = PoolSpec("tainted-any", {}, (Toleration("nvidia.com/gpu", "Exists"),), (GPU,))


@pytest.mark.parametrize(
    ("pool", "free_total", "largest", "count"),
    [
        # c1: 8-5 cores, 32-5 GiB; c2: 4-6 -> 0 cores, 16-1 GiB (the placeholder counts as free);
        # cordoned, NotReady and tainted nodes are not in a pool that does not tolerate the taint
        (DEFAULT, {"cores": 3, "memory": 42}, {"cores": 3, "memory": 27}, 2),
        # g1: 16-4, 64-16, 4-3 GPUs; g2: the broker's session is held in the calendar, so the total
        # counts it free, but the largest free on one node does not
        (GPU_POOL, {"cores": 28, "memory": 112, GPU: 3}, {"cores": 12, "memory": 56, GPU: 1}, 2),
        (PoolSpec("t4", {"accelerator": "t4"}, (Toleration("nvidia.com/gpu", "Exists"),), (GPU,)),
         {"cores": 16, "memory": 64, GPU: 1}, {"cores": 16, "memory": 64, GPU: 1}, 1),
        # the right label, but the taint is not tolerated
        (PoolSpec("untolerated", {"accelerator": "a100"}), {"cores": 0, "memory": 0},
         {"cores": 0, "memory": 0}, 0),
        # a toleration of the wrong value
        (PoolSpec("wrong", {"accelerator": "a100"},
                  (Toleration("nvidia.com/gpu", "Equal", "absent", "NoSchedule"),)),
         {"cores": 0, "memory": 0}, {"cores": 0, "memory": 0}, 0),
        # no selector and a toleration: every usable node
        (TAINTED, {"cores": 47, "memory": 218, GPU: 4}, {"cores": 16, "memory": 64, GPU: 1}, 5),
        (PoolSpec("nowhere", {"accelerator": "h100"}), {"cores": 0, "memory": 0},
         {"cores": 0, "memory": 0}, 0),
    ],
)  # fmt: skip
def test_pool_totals(pool: PoolSpec, free_total: dict, largest: dict, count: int) -> None:
    nodes, pods = _cluster()
    records = [node_from_json(n) for n in nodes], [pod_from_json(p) for p in pods]
    result = pool_totals(*records, [pool])[pool.name]
    assert result.free_total == pytest.approx(free_total)
    assert result.largest_node_free == pytest.approx(largest)
    assert result.nodes == count
    state = ClusterState([pool])  # the incremental state agrees
    state.replace_nodes(records[0])
    state.replace_pods(records[1])
    assert state.pool_free()[pool.name] == result
    assert state.totals() == {pool.name: pytest.approx(free_total)}


def test_state_follows_events_and_agrees_with_the_plain_arithmetic() -> None:
    rng = random.Random(4)
    pools = [DEFAULT, GPU_POOL, TAINTED]
    state = ClusterState(pools)
    nodes: dict[str, dict] = {}
    pods: dict[str, dict] = {}
    for step in range(1500):
        action = rng.random()
        if action < 0.15 or not nodes:
            name = f"n{rng.randrange(30)}"
            gpu = rng.random() < 0.3
            nodes[name] = node(
                name, cpu=str(rng.choice([4, 8, 16])), memory=f"{rng.choice([16, 32, 64])}Gi",
                gpus=rng.choice([1, 2, 4]) if gpu else 0,
                labels={"accelerator": "a100"} if gpu else {}, taints=[GPU_TAINT] if gpu else [],
                ready=rng.random() > 0.1, unschedulable=rng.random() < 0.05,
            )  # fmt: skip
            state.set_node(node_from_json(nodes[name]))
        elif action < 0.2:
            name = rng.choice(sorted(nodes))
            del nodes[name]
            state.delete_node(name)
        elif action < 0.75 or not pods:
            name = f"p{rng.randrange(200)}"
            target = rng.choice([*sorted(nodes), "", "gone"])
            pods[name] = pod(
                name, target, cpu=f"{rng.randrange(1, 4000)}m", memory=f"{rng.randrange(1, 8)}Gi",
                gpus=rng.choice([0, 0, 1]), phase=rng.choice(["Running", "Running", "Succeeded"]),
                labels={"component": "user-placeholder"} if rng.random() < 0.1 else {},
                annotations={"hub.jupyter.org/servername": "ep-00000000000" + str(step % 10)}
                if rng.random() < 0.1 else None,
            )  # fmt: skip
            state.set_pod(pod_from_json(pods[name]))
        else:
            name = rng.choice(sorted(pods))
            del pods[name]
            state.delete_pod(f"default/{name}")
        if step % 100 == 0 or step == 1499:
            expected = pool_totals(
                [node_from_json(n) for n in nodes.values()],
                [pod_from_json(p) for p in pods.values()],
                pools,
            )
            got = state.pool_free()
            for pool in pools:
                assert got[pool.name].nodes == expected[pool.name].nodes
                assert got[pool.name].free_total == pytest.approx(expected[pool.name].free_total, abs=1e-6)
                assert got[pool.name].largest_node_free == pytest.approx(
                    expected[pool.name].largest_node_free, abs=1e-6
                )
    state.replace_pods([])
    state.replace_nodes([])
    assert state.totals()["default"] == {"cores": 0.0, "memory": 0.0}
    assert not state._slot, "every column was given back"


@pytest.mark.parametrize(
    ("need", "want", "expected"),
    [
        # the node that gives the most of what is wanted
        ({"cores": 1, "memory": 1}, {"cores": 8, "memory": 8}, "big"),
        # memory matters too: only "fat" has 40 GiB free
        ({"cores": 1, "memory": 40}, {"cores": 8, "memory": 48}, "fat"),
        # a GPU is needed: only "gpu" has one free, although "big" has more cores
        ({"cores": 2, "memory": 1, GPU: 1}, {"cores": 16, "memory": 8, GPU: 1}, "gpu"),
        # nobody has 100 cores: the closest node is named, so the caller can say how close
        ({"cores": 100, "memory": 1}, {"cores": 100, "memory": 1}, "big"),
    ],
)  # fmt: skip
def test_node_fit(need: dict, want: dict, expected: str) -> None:
    free = {
        "big": {"cores": 14.0, "memory": 10.0, GPU: 0.0},
        "fat": {"cores": 2.0, "memory": 60.0, GPU: 0.0},
        "gpu": {"cores": 3.0, "memory": 12.0, GPU: 1.0},
    }
    state = ClusterState([TAINTED])
    state.replace_nodes([
        node_from_json(node("big", cpu="16", memory="16Gi", gpus=2, taints=[GPU_TAINT])),
        node_from_json(node("fat", cpu="4", memory="64Gi")),
        node_from_json(node("gpu", cpu="4", memory="16Gi", gpus=1, taints=[GPU_TAINT])),
    ])  # fmt: skip
    state.replace_pods([
        pod_from_json(pod("a", "big", cpu="2", memory="6Gi", gpus=2)),
        pod_from_json(pod("b", "fat", cpu="2", memory="4Gi")),
        pod_from_json(pod("c", "gpu", cpu="1", memory="4Gi")),
    ])  # fmt: skip
    assert state.node_fit("tainted-any", need, want) == free[expected]
    assert state.node_fit("unknown", need, want) is None
    empty = ClusterState([DEFAULT])
    assert empty.node_fit("default", need, want) is None


def _profile(slug: str, pool: str = "default", selector: dict | None = None,
             tolerations: tuple = (), **kw: object) -> Profile:
    return Profile(slug, slug, pool=pool, node_selector=selector or {}, tolerations=tolerations, **kw)  # type: ignore[arg-type]


def test_pools_for_profiles() -> None:
    gpu_tol = ({"key": GPU, "operator": "Exists", "effect": "NoSchedule"},)
    profiles = [
        _profile("small"),
        _profile("a100", "gpu", {"accelerator": "a100"}, gpu_tol, accelerators={GPU: 1}),
        _profile("a100x2", "gpu", {"accelerator": "a100"}, gpu_tol, accelerators={GPU: 2}),
    ]
    pools = {p.name: p for p in pools_for_profiles(profiles)}
    assert pools["default"] == PoolSpec("default", {}, (), ())
    assert pools["gpu"].node_selector == {"accelerator": "a100"}
    assert pools["gpu"].tolerations == (Toleration(GPU, "Exists", "", "NoSchedule"),)
    assert pools["gpu"].names == ("cores", "memory", GPU)
    with pytest.raises(ValueError, match="'small' and 'other' are both in pool 'default'"):
        pools_for_profiles([_profile("small"), _profile("other", selector={"x": "y"})])


def _request(cores: tuple[int, int], memory: tuple[int, int], gpus: int = 0) -> ExecutionRequest:
    accel = (AcceleratorRequest(None, None, GPU, IntRange(gpus, gpus)),) if gpus else ()
    return ExecutionRequest(
        executable=ExecutableSpec(kind="jupyter-notebook"),
        compute=ComputeSpec(cores=IntRange(*cores), memory=IntRange(*memory), accelerators=accel),
        schedule=ScheduleSpec(duration=timedelta(hours=1)),
    )


@pytest.mark.parametrize(
    ("request_", "profile", "free", "cores_max", "memory_max", "gpus", "short"),
    [
        # capped to the best node
        (_request((1, 32), (1, 64)), _profile("p", cores_max=None, memory_max=None),
         {"cores": 12.0, "memory": 40.0}, 12.0, 40.0, None, ""),
        # the profile's own limit is lower: kept
        (_request((1, 32), (1, 64)), _profile("p", cores_max=4, memory_max=8),
         {"cores": 12.0, "memory": 40.0}, 4, 8, None, ""),
        # no node has the minimum: capped below it, with a message naming the largest
        (_request((16, 16), (1, 1)), _profile("p"), {"cores": 12.0, "memory": 40.0}, 12.0, 40.0,
         None, "no node of its pool has 16 cores free now (the node with the most has 12 cores)"),
        # GPUs: what the node has free
        (_request((1, 4), (1, 8), gpus=1), _profile("g", "gpu", accelerators={GPU: 2}),
         {"cores": 3.0, "memory": 12.0, GPU: 1.0}, 3.0, 12.0, 1, ""),
        (_request((1, 4), (1, 8), gpus=1), _profile("g", "gpu", accelerators={GPU: 2}),
         {"cores": 3.0, "memory": 12.0, GPU: 0.0}, 3.0, 12.0, 0, "1 nvidia.com/gpu free now"),
    ],
)  # fmt: skip
def test_fit_to_nodes(request_: ExecutionRequest, profile: Profile, free: dict, cores_max: float,
                      memory_max: float, gpus: int | None, short: str) -> None:  # fmt: skip
    asked: list[tuple] = []

    def node_fit(pool: str, need: dict, want: dict) -> dict:
        asked.append((pool, need, want))
        return free

    [capped], notes = fit_to_nodes(request_, [profile], node_fit)
    assert (capped.cores_max, capped.memory_max) == (cores_max, memory_max)
    if gpus is not None:
        assert dict(capped.accelerators) == {GPU: gpus}
        assert asked[0][1][GPU] == 1 and asked[0][2][GPU] == 1  # need and want name the GPU
    assert (short in notes[0].message) if short else not notes
    assert len(asked) == 1
    untouched, _ = fit_to_nodes(request_, [profile], lambda *_: None)
    assert untouched == [profile]
