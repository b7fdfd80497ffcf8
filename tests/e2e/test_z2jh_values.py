"""``config/z2jh-values.yaml`` in a real hub: the hub config the chart would make from an admin's
values plus the snippet starts a real JupyterHub with KubeSpawner, the broker is registered, and
it offers exactly the profiles (and option alternatives) of ``singleuser.profileList``, sized
from a Kubernetes API double (``tests/k8sdouble.py``).

z2jh's own ``jupyterhub_config.py`` is not available offline. The test writes a minimal
equivalent: ``spawner_class = kubespawner.KubeSpawner``, ``c.KubeSpawner.image``,
``node_selector`` and ``profile_list`` from ``singleuser``, then each ``hub.extraConfig`` snippet
in key order with ``exec`` at module level, as z2jh does. The snippet runs verbatim; a test-only
snippet after it puts the broker on loopback (no ``hub`` Service here) and its database in the
test's folder.
"""

from __future__ import annotations

import copy
import os
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from brokers import Broker
from hubprocess import ROOT, RealHub, free_port
from k8sdouble import KubeDouble, node
from requests_lib import KINDS

pytestmark = pytest.mark.e2e

VALUES = ROOT / "config" / "z2jh-values.yaml"
RBAC = ROOT / "config" / "z2jh-rbac.yaml"
GPU = "nvidia.com/gpu"
USER_NODES = {"hub.jupyter.org/node-purpose": "user"}
GPU_NODES = {**USER_NODES, "cloud.google.com/gke-nodepool": "gpu"}
ADMIN_VALUES = yaml.safe_load(
    """
singleuser:
  image: {name: quay.io/jupyter/base-notebook, tag: "2024-12-23"}
  nodeSelector: {hub.jupyter.org/node-purpose: user}
  profileList:
    - display_name: Small
      description: Up to 2 cores
      default: true
      kubespawner_override: {cpu_limit: 2, mem_limit: 4G}
    - display_name: Python
      slug: python
      kubespawner_override: {cpu_guarantee: 1, cpu_limit: 4, mem_limit: 8G}
      profile_options:
        image:
          display_name: Image
          choices:
            scipy: {display_name: SciPy,
                    kubespawner_override: {image: "quay.io/jupyter/scipy-notebook:2024-12-23"}}
            r: {display_name: R, kubespawner_override: {image: "quay.io/jupyter/r-notebook:2024-12-23"}}
          unlisted_choice:
            enabled: true
            display_name: Other image
            validation_regex: "^quay[.]io/jupyter/"
            kubespawner_override: {image: "{value}"}
    - display_name: GPU
      slug: gpu
      kubespawner_override:
        cpu_limit: 8
        mem_limit: 32G
        extra_resource_limits: {nvidia.com/gpu: "1"}
        node_selector: {cloud.google.com/gke-nodepool: gpu}
        tolerations: [{key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}]
"""
)
USER_POOL = "hub.jupyter.org/node-purpose=user"
GPU_POOL = "cloud.google.com/gke-nodepool=gpu,hub.jupyter.org/node-purpose=user"
EXPECTED = [  # slug, options, image, pool
    ("small", {}, "quay.io/jupyter/base-notebook:2024-12-23", USER_POOL),
    # Helm writes the values with sorted keys, so choices come in key order: r before scipy
    ("python", {"image": "r"}, "quay.io/jupyter/r-notebook:2024-12-23", USER_POOL),
    ("python", {"image": "scipy"}, "quay.io/jupyter/scipy-notebook:2024-12-23", USER_POOL),
    ("python", {}, None, USER_POOL),  # the unlisted image a docker-container request fills
    ("gpu", {}, "quay.io/jupyter/base-notebook:2024-12-23", GPU_POOL),
]


def merged(base: Any, extra: Any) -> Any:
    """Helm's merge of two values files: dicts merged recursively, anything else replaced."""
    if isinstance(base, dict) and isinstance(extra, dict):
        out = dict(base)
        for key, value in extra.items():
            out[key] = merged(base[key], value) if key in base else copy.deepcopy(value)
        return out
    return copy.deepcopy(extra)


def chart_config(values: dict[str, Any], values_file: Path) -> str:
    """The part of z2jh's jupyterhub_config.py this snippet depends on."""
    return textwrap.dedent(
        f"""
        # -- what z2jh's jupyterhub_config.py does with these values (a minimal equivalent) --
        import yaml as _yaml
        with open({str(values_file)!r}) as _f:
            _values = _yaml.safe_load(_f)
        c.JupyterHub.spawner_class = "kubespawner.KubeSpawner"
        _image = _values["singleuser"]["image"]
        c.KubeSpawner.image = f"{{_image['name']}}:{{_image['tag']}}"
        c.KubeSpawner.node_selector = _values["singleuser"]["nodeSelector"]
        c.KubeSpawner.profile_list = _values["singleuser"]["profileList"]
        for _key, _config_py in sorted(_values["hub"]["extraConfig"].items()):
            print(f"Loading extra config: {{_key}}")
            exec(_config_py)
        """
    )


@pytest.fixture(scope="module")
def cluster() -> Iterator[KubeDouble]:
    double = KubeDouble().start()
    double.load(nodes=[
        node("user-1", cpu="8", memory="32Gi", labels=USER_NODES),
        node("gpu-1", cpu="16", memory="64Gi", gpus=2, labels=GPU_NODES,
             taints=[{"key": GPU, "value": "present", "effect": "NoSchedule"}]),
    ])  # fmt: skip
    try:
        yield double
    finally:
        double.close()


@pytest.fixture(scope="module")
def z2jh_hub(tmp_path_factory: pytest.TempPathFactory, cluster: KubeDouble) -> Iterator[RealHub]:
    folder = tmp_path_factory.mktemp("z2jh-hub")
    snippet = yaml.safe_load(VALUES.read_text())
    port = free_port()
    test_only = {
        "zz-test-loopback": textwrap.dedent(
            f"""
            for _service in c.JupyterHub.services:
                if _service["name"] == "execplanner":
                    _service["url"] = "http://127.0.0.1:{port}"
            c.ExecPlanner.db_url = "sqlite:///{folder / 'execplanner.sqlite'}"
            """
        )
    }
    values = merged(merged(ADMIN_VALUES, snippet), {"hub": {"extraConfig": test_only}})
    values_file = folder / "values.yaml"
    values_file.write_text(yaml.safe_dump(values, sort_keys=True))  # as Helm's toYaml
    kubeconfig = cluster.write_kubeconfig(folder / "kubeconfig")
    saved = os.environ.get("KUBECONFIG")
    os.environ["KUBECONFIG"] = str(kubeconfig)  # the hub's KubeSpawner and (via setup_execplanner) the broker
    try:
        hub = RealHub.start(folder, extra_config=chart_config(values, values_file), timeout=60)
    finally:
        if saved is None:
            os.environ.pop("KUBECONFIG", None)
        else:
            os.environ["KUBECONFIG"] = saved
    try:
        yield hub
    finally:
        hub.stop()


def test_the_snippet_is_what_an_admin_adds() -> None:
    values = yaml.safe_load(VALUES.read_text())
    assert set(values) == {"hub", "proxy", "singleuser"}
    assert "profileList" not in values["singleuser"]  # theirs stays theirs
    assert values["hub"]["service"]["extraPorts"][0]["port"] == 10101
    assert values["hub"]["networkPolicy"]["ingress"][0]["ports"] == [{"port": 10101, "protocol": "TCP"}]
    snippet = values["hub"]["extraConfig"]["execplanner"]
    assert "http://hub:10101" in snippet
    # setup_execplanner gives the broker the hub's cluster environment: no environment code here
    assert "environ" not in snippet and "environment" not in snippet
    assert {"podSelector": {"matchLabels": {"component": "hub"}}} in (
        values["hub"]["networkPolicy"]["ingress"][0]["from"]), "the hub's hook reaches the broker"
    secret = values["hub"]["extraEnv"]["EXECPLANNER_LAUNCH_SECRET"]["valueFrom"]["secretKeyRef"]
    assert secret == {"name": "execplanner", "key": "launch-secret"}


def test_rbac_lists_and_watches_nodes_and_pods_only() -> None:
    role, binding = yaml.safe_load_all(RBAC.read_text())
    assert (role["kind"], binding["kind"]) == ("ClusterRole", "ClusterRoleBinding")
    assert role["rules"] == [
        {"apiGroups": [""], "resources": ["nodes", "pods"], "verbs": ["list", "watch"]}
    ]
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"][0]["kind"] == "ServiceAccount"
    assert binding["subjects"][0]["name"] == "hub"  # z2jh's hub ServiceAccount


def test_the_hub_runs_kubespawner_and_the_broker(z2jh_hub: RealHub) -> None:
    log = z2jh_hub.log_path.read_text() if z2jh_hub.log_path else ""
    assert "Using Spawner: kubespawner.spawner.KubeSpawner" in log
    assert "Loading extra config: execplanner" in log
    assert z2jh_hub.api("GET", "services/execplanner").json()["name"] == "execplanner"
    # the broker was told where the hub's config is (__file__ in exec'd extraConfig)
    config_file = f"--ExecPlanner.hub_config_file={z2jh_hub.folder / 'jupyterhub_config.py'}"
    assert "Starting service 'execplanner'" in log and config_file in log
    # a user model builds the user's KubeSpawner (it reads the kubeconfig, never the cluster)
    z2jh_hub.user_token("alice")
    assert z2jh_hub.api("GET", "users/alice").status_code == 200


def test_the_broker_offers_the_profile_list(z2jh_hub: RealHub) -> None:
    info = Broker(z2jh_hub.broker, z2jh_hub.user_token("alice")).get("").json()
    found = [(p["slug"], p.get("options", {}), p["image"], p["pool"]) for p in info["profiles"]]
    assert found == EXPECTED
    python_unlisted = info["profiles"][3]
    assert python_unlisted["unlisted_image"] == {"option": "image",
                                                 "validation_regex": "^quay[.]io/jupyter/"}
    assert info["profiles"][4]["accelerators"] == {GPU: 1}
    assert info["profiles"][4]["tolerations"] == [
        {"key": GPU, "operator": "Exists", "effect": "NoSchedule"}
    ]


def test_a_container_request_gets_the_image_option(z2jh_hub: RealHub) -> None:
    broker = Broker(z2jh_hub.broker, z2jh_hub.user_token("alice"))
    request = {
        "executable": {"kind": f"{KINDS}/executable/docker-container.yaml",
                       "image": {"locations": ["quay.io/jupyter/datascience-notebook:2024-12-23"]}},
        "compute": {"kind": f"{KINDS}/compute/simple-compute-resource.yaml",
                    "cores": {"min": 1, "max": 2}, "memory": {"min": 1, "max": 2}},
    }  # fmt: skip
    deadline = time.monotonic() + 20
    while True:  # the broker says NO until its first list of the cluster
        response = broker.post("requests", json=request)
        body = response.json()
        if body.get("result") == "YES" or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert response.status_code in (200, 201), body
    assert body["result"] == "YES", body
    profiles = {(o["profile"]["slug"]) for o in body["offers"]}
    assert profiles == {"python"}
    with httpx.Client() as client:  # an offer's session, read back
        session = client.get(broker.url(f"sessions/{body['offers'][0]['meta']['uuid']}"),
                             headers=broker.headers()).json()  # fmt: skip
    assert session["executable"]["image"]["locations"] == [
        "quay.io/jupyter/datascience-notebook:2024-12-23"
    ]
