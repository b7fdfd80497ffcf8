"""End to end through KubeSpawner: an accepted session runs as a real KubeSpawner pod.

A real JupyterHub with ``kubespawner.KubeSpawner`` (one ``profile_list`` profile, no storage, no
internal SSL) and the broker (``setup_execplanner``, capacity from the Kubernetes API double's one
node, a ``data_collections`` entry with a ``hostPath`` volume) talk to ``tests/k8sdouble.py``. The
test plays the cluster's scheduler and kubelet (:class:`Kubelet`): when KubeSpawner's pod appears it
binds it to the node, "mounts" its volumes, starts the pod's command (its ``args``, with its ``env``
and what an image adds: ``PATH`` to this venv, ``HOME`` and the working directory a temporary
folder) as a local process, and marks the pod Running with ``podIP`` 127.0.0.1 and its container
ready. The hub then reaches the "pod" at ``127.0.0.1:<KubeSpawner.port>``.

Proven: the hook's launch reaches the pod KubeSpawner creates (the offer's cores and memory as
limits and requests, the preload wrapper, ``$EXECPLANNER_PRELOAD``, the collection's volume and its
``readOnly`` mount), the real preload in that process fetches the notebook and links the data at
the mount path, the session becomes AVAILABLE through KubeSpawner's reflectors and the proxy, and
cancelling deletes the pod through the API. Not proven: a container runtime (image, isolation,
limits enforced), a real read-only bind mount (the kubelet here links the mount path to the
``hostPath`` folder: a wrong volume or mount path in the spec still fails the preload, but a write
would not be refused), the in-cluster network.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
from hubprocess import RealHub, free_port
from k8sdouble import KubeDouble, node
from loopback import Loopback
from requests_lib import KINDS
from test_sessions_run import Sessions, kinds, poll, wait_for

from jupyterhub_execplanner import launch
from jupyterhub_execplanner.singleuser.plan import PreloadPlan

pytestmark = pytest.mark.e2e

SECRET = "e2e-kube-" + "0" * 55
NAMESPACE = "execplanner-e2e"
NODE = "node-1"
IMAGE = "quay.io/jupyter/base-notebook:2024-12-23"
PROFILES = [{"display_name": "Small", "slug": "small", "default": True,
             "kubespawner_override": {"cpu_guarantee": 0.5, "cpu_limit": 2, "mem_guarantee": "1G",
                                      "mem_limit": "2G"}}]
NOTEBOOK = {"cells": [{"cell_type": "markdown", "metadata": {}, "source": "# Survey"}],
            "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
PLATFORM_COPY = b"the platform's copy, on its volume"


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Kubelet:
    """The scheduler and the kubelet of ``NODE``, for pods of ``NAMESPACE`` (see the module docstring)."""

    def __init__(self, double: KubeDouble, root: Path) -> None:
        self.double, self.root = double, root
        self.home = root / "home"  # the image's HOME and working directory
        self.home.mkdir(parents=True)
        self.log = root / "container.log"
        self.process: subprocess.Popen | None = None

    def wait_for_pod(self, timeout: float, failed: Callable[[], str | None]) -> dict[str, Any]:
        """The pod KubeSpawner creates; fails at once with ``failed()``'s reason when it says so."""

        def created() -> dict[str, Any] | None:
            pods = [p for p in self.double.objects_of("pods") if p["metadata"]["namespace"] == NAMESPACE]
            reason = None if pods else failed()
            assert reason is None, f"no pod was created: {reason}"
            return pods[0] if pods else None

        return wait_for(created, timeout, f"a pod in {NAMESPACE}", interval=0.1)

    def run(self, pod: dict[str, Any]) -> None:
        name = pod["metadata"]["name"]
        pod["spec"]["nodeName"] = NODE  # the scheduler's binding
        pod["status"] = {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "True"}]}
        self.double.put("pods", pod)
        (notebook,) = [c for c in pod["spec"]["containers"] if c["name"] == "notebook"]
        volumes = {v["name"]: v for v in pod["spec"].get("volumes", [])}
        for mount in notebook.get("volumeMounts", []):
            host = volumes[mount["name"]].get("hostPath")
            if host is not None:  # the bind mount, as a link (see the module docstring)
                target = Path(mount["mountPath"])
                target.parent.mkdir(parents=True, exist_ok=True)
                target.symlink_to(host["path"], target_is_directory=True)
        env = {"PATH": f"{Path(sys.executable).parent}{os.pathsep}/usr/bin{os.pathsep}/bin",
               "HOME": str(self.home), "LANG": "C.UTF-8"}
        env.update({e["name"]: e["value"] for e in notebook.get("env", [])})
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(notebook["args"], cwd=self.home, env=env, stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        running = self.double.get("pods", name, NAMESPACE)
        assert running is not None
        running["status"] = {
            "phase": "Running", "podIP": "127.0.0.1", "hostIP": "127.0.0.1", "startTime": _now(),
            "conditions": [{"type": t, "status": "True"} for t in
                           ("PodScheduled", "Initialized", "ContainersReady", "Ready")],
            "containerStatuses": [{"name": "notebook", "image": notebook["image"], "imageID": "",
                                   "ready": True, "started": True, "restartCount": 0,
                                   "state": {"running": {"startedAt": _now()}}}],
        }  # fmt: skip
        self.double.put("pods", running)

    def wait_for_deletion(self, name: str, timeout: float) -> dict[str, Any]:
        """The pod marked for deletion (gracefully, as KubeSpawner asks)."""

        def marked() -> dict[str, Any] | None:
            pod = self.double.get("pods", name, NAMESPACE)
            return pod if pod is not None and "deletionTimestamp" in pod["metadata"] else None

        return wait_for(marked, timeout, f"pod {name} to be deleted", interval=0.05)

    def kill(self, name: str | None = None) -> int | None:
        """End the container (SIGTERM, as the kubelet does) and, given its name, remove the pod."""
        code = None
        if self.process is not None:
            if self.process.poll() is None:
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                code = self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                code = self.process.wait(5)
            self.process = None
        if name is not None:
            self.double.delete_pod(name, NAMESPACE)
        return code

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loopback]:
    folder = tmp_path_factory.mktemp("kube-site")
    (folder / "analysis.ipynb").write_text(json.dumps(NOTEBOOK))
    (folder / "survey").mkdir()
    (folder / "survey" / "cat.fits").write_bytes(b"the archive's copy")
    server = Loopback(folder)
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, site: Loopback) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("kube-session")
    double = KubeDouble().start()
    double.put_node(node(NODE, cpu="4", memory="16Gi"))
    double.put("namespaces", {"metadata": {"name": NAMESPACE}})
    host = root / "node-disk" / "survey"  # the hostPath folder on the node
    host.mkdir(parents=True)
    (host / "cat.fits").write_bytes(PLATFORM_COPY)
    mount = root / "pod" / "data" / "survey"  # the collection's path in the pod
    kubeconfig = double.write_kubeconfig(root / "kubeconfig")
    port = free_port()
    settings = {
        "capacity_provider": "kubernetes", "kube_config": str(kubeconfig),
        "offer_expiry": 60, "prepare_time": 5, "max_offers": 1,
        "data_collections": {"survey": {"path": str(mount), "url_prefix": f"{site.url}/survey/",
                                        "volume": {"hostPath": {"path": str(host), "type": "Directory"}}}},
    }  # fmt: skip
    config = f"""
c.JupyterHub.spawner_class = "kubespawner.KubeSpawner"
c.KubeSpawner.namespace = {NAMESPACE!r}
c.KubeSpawner.image = {IMAGE!r}
c.KubeSpawner.profile_list = {PROFILES!r}
c.KubeSpawner.storage_pvc_ensure = False
c.KubeSpawner.ip = "127.0.0.1"  # the server's bind address in the "pod" (its podIP is 127.0.0.1)
c.KubeSpawner.port = {port}
c.KubeSpawner.start_timeout = 60
"""
    kubelet = Kubelet(double, root)
    env = {"KUBECONFIG": str(kubeconfig), launch.SECRET_ENV: SECRET}
    try:
        hub = RealHub.start(root / "hub", settings=settings, extra_config=config, env=env, timeout=60)
    except Exception:
        double.close()
        raise
    try:
        yield {"hub": hub, "double": double, "kubelet": kubelet, "host": host, "mount": mount,
               "port": port}
    finally:
        kubelet.kill()
        hub.stop()
        double.close()


def survey_request(site: Loopback) -> dict[str, Any]:
    return {
        "executable": {"kind": f"{KINDS}/executable/jupyter-notebook.yaml", "meta": {"name": "survey"},
                       "location": f"{site.url}/analysis.ipynb"},
        "compute": {"kind": f"{KINDS}/compute/simple-compute-resource.yaml",
                    "cores": {"min": 1, "max": 2}, "memory": {"min": 1, "max": 2},
                    "volumes": [{"kind": f"{KINDS}/volume/simple-volume-mount.yaml",
                                 "path": "/data/survey", "mode": "READONLY", "resource": "survey"}]},
        "data": [{"kind": f"{KINDS}/data/simple-data-resource.yaml", "meta": {"name": "survey"},
                  "location": f"{site.url}/survey/cat.fits"}],
        "schedule": {"requested": {"duration": "PT10M"}},
    }


def test_an_accepted_session_runs_as_a_kubespawner_pod(cluster: dict[str, Any], site: Loopback) -> None:
    hub, double, kubelet = cluster["hub"], cluster["double"], cluster["kubelet"]
    mount, host = cluster["mount"], cluster["host"]
    alice = Sessions(hub, "alice")
    offerset = poll(lambda: alice.broker.post("requests", json=survey_request(site)).json(),
                    lambda body: body.get("result") == "YES", 20,
                    "a YES (the broker lists the cluster first)")
    (offer,) = offerset["offers"]
    assert offer["profile"]["slug"] == "small"
    messages = [m["message"] for m in offer["meta"]["messages"]]
    assert "data 'survey' is local at data/survey (collection survey, read-only)" in messages
    cores, memory = offer["compute"]["cores"]["max"], offer["compute"]["memory"]["max"]
    uuid = offer["meta"]["uuid"]
    assert alice.broker.accept(uuid).status_code == 200
    server = launch.server_name_for(uuid)

    # -- KubeSpawner creates the pod the launch asks for --------------------------------------------
    def failed() -> str | None:
        session = alice.get(uuid)
        if session["phase"] != "FAILED":
            return None
        return f"{session['meta']['messages'][-1]['message']}\n-- the hub's log --\n{hub.log_tail(25)}"

    pod = kubelet.wait_for_pod(30, failed)
    name = pod["metadata"]["name"]
    ((kind, posted),) = double.created  # nothing else was created: no PVC, Service or Secret
    assert kind == "pods" and posted["metadata"]["name"] == name
    labels = pod["metadata"]["labels"]
    assert labels["component"] == "singleuser-server"
    assert (labels["hub.jupyter.org/username"], labels["hub.jupyter.org/servername"]) == ("alice", server)
    (container,) = pod["spec"]["containers"]
    assert container["name"] == "notebook" and container["image"] == IMAGE
    assert container["ports"] == [{"name": "notebook-port", "containerPort": cluster["port"]}]
    resources = container["resources"]  # the offer's, not the profile's guarantee of 0.5 core, 1G
    assert float(resources["limits"]["cpu"]) == float(resources["requests"]["cpu"]) == cores
    assert int(resources["limits"]["memory"]) == int(resources["requests"]["memory"]) == memory * 1024**3
    assert container["args"][:5] == ["python3", "-m", "jupyterhub_execplanner.singleuser", "--",
                                     "jupyterhub-singleuser"]
    env = {e["name"]: e["value"] for e in container["env"]}
    plan = PreloadPlan.from_json(env[launch.PRELOAD_ENV])
    assert (plan.spec.session, plan.spec.profile, plan.spec.cores) == (uuid, "small", cores)
    assert plan.spec.notebook == f"{site.url}/analysis.ipynb"
    (data,) = plan.spec.data
    assert (data.mode, data.mount, data.source) == ("local", "data/survey", f"{mount}/cat.fits")
    assert {"name": "execplanner-data-survey", "hostPath": {"path": str(host), "type": "Directory"}} \
        in pod["spec"]["volumes"]
    assert {"name": "execplanner-data-survey", "mountPath": str(mount), "readOnly": True} \
        in container["volumeMounts"]

    # -- the kubelet runs it; the real preload fetches the notebook and links the data --------------
    kubelet.run(pod)
    try:
        session = alice.wait_phase(uuid, {"AVAILABLE", "RUNNING"}, 60)
    except AssertionError as e:
        raise AssertionError(f"{e}\n-- the container's output --\n{kubelet.log_tail()}") from None
    folder = kubelet.home / "execplanner" / server
    assert json.loads((folder / "analysis.ipynb").read_text())["cells"] == NOTEBOOK["cells"]
    link = folder / "data" / "survey"
    assert link.is_symlink() and os.readlink(link) == f"{mount}/cat.fits"
    assert link.read_bytes() == PLATFORM_COPY  # the volume's copy; the archive's was not fetched
    text = " ".join(m["message"] for m in session["meta"]["messages"])
    assert f"data 'survey' is local: linked read-only at data/survey -> {mount}/cat.fits" in text
    (connector,) = session["connectors"]
    path = f"execplanner/{server}/analysis.ipynb"
    assert connector["location"] == f"{hub.url}/user/alice/{server}/lab/tree/{path}"
    contents = httpx.get(f"{hub.url}/user/alice/{server}/api/contents/{path}",
                         headers={"Authorization": f"token {alice.broker.token}"}, timeout=30)
    assert contents.status_code == 200, contents.text[:300]  # through the proxy, to the "pod"
    assert contents.json()["content"]["cells"][0]["source"] == "# Survey"
    model = hub.api("GET", f"users/alice/servers/{server}").json()
    assert model["ready"] and model["user_options"]["profile"] == "small"
    assert model["state"]["pod_name"] == name

    # -- cancel: KubeSpawner deletes the pod through the API ----------------------------------------
    assert alice.broker.accept(uuid, "CANCELLED").json()["phase"] == "CANCELLED"
    kubelet.wait_for_deletion(name, 30)
    assert ("pods", f"{NAMESPACE}/{name}", 1) in double.deleted  # KubeSpawner's delete_grace_period
    kubelet.kill(name)
    wait_for(lambda: alice.server(uuid).status_code == 404, 30, "the server to be removed")
    ended = poll(lambda: alice.get(uuid), lambda s: "urn:execplanner:server-stopped" in kinds(s), 20,
                 "the 'server stopped' message")
    assert ended["phase"] == "CANCELLED" and ended["connectors"][0]["status"] == "FINISHED"
    assert double.get("pods", name, NAMESPACE) is None
    writes = [r.split("?")[0] for r in double.requests if not r.startswith("GET")]
    assert writes == [  # the pod's create and delete; removing the server asks for a PVC never made
        f"POST /api/v1/namespaces/{NAMESPACE}/pods",
        f"DELETE /api/v1/namespaces/{NAMESPACE}/pods/{name}",
        f"DELETE /api/v1/namespaces/{NAMESPACE}/persistentvolumeclaims/claim-alice--{server}",
    ]
