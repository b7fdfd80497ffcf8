"""Live capacity from a Kubernetes cluster. See docs/kubernetes.md.

A part of :class:`~.settings.ExecPlanner`: set these as ``c.ExecPlanner.<name>`` or as keyword arguments
of ``setup_execplanner``."""

from __future__ import annotations

from typing import Any

from traitlets import Float, TraitError, Unicode, validate
from traitlets.config import Configurable

from .traits import CONFIG_SECTION


class ClusterSettings(Configurable):
    # -- capacity from a Kubernetes cluster (issue 4: live capacity) ---------------------------------
    # Read by the service. With the kubernetes provider the pools are the profiles' pools (their node
    # selectors and tolerations), sized from the cluster's nodes and pods by list-and-watch.

    capacity_provider = Unicode(
        "auto",
        help="""
        Where the totals per pool come from: ``"static"`` (``capacity``), ``"host"`` (this host, less
        ``reserve_cores`` and ``reserve_memory``), ``"kubernetes"`` (the cluster: each node's
        allocatable less the requests of the pods scheduled on it, per profile pool, kept current by
        watching nodes and pods; the service needs ``list`` and ``watch`` on nodes and pods cluster-wide),
        or ``"auto"`` (the default): kubernetes when the spawner is KubeSpawner and ``capacity`` is
        empty, else static when ``capacity`` is given, else host.
        """,
    ).tag(config=True)

    kube_config = Unicode(
        "",
        help="""
        Path of the kubeconfig file the kubernetes capacity provider uses. Default: the pod's service
        account when the service runs in the cluster, else ``$KUBECONFIG`` (or ``~/.kube/config``).
        """,
    ).tag(config=True)

    kube_stale_after = Float(
        30.0,
        help="""
        Seconds without news from the Kubernetes API (a list, a watch opened, an event) after which
        the broker stops trusting what it knows of the cluster and answers every request NO with a
        message saying so, until it is back in touch. Watches are renewed every third of this time.
        Default: 30 seconds.
        """,
    ).tag(config=True)

    @validate("capacity_provider")
    def _validate_capacity_provider(self, proposal: Any) -> str:
        if proposal.value not in ("auto", "host", "static", "kubernetes"):
            raise TraitError(
                f"{CONFIG_SECTION}.capacity_provider must be 'auto', 'host', 'static' or 'kubernetes', "
                f"not {proposal.value!r}"
            )
        return proposal.value

    @validate("kube_stale_after")
    def _validate_kube_stale_after(self, proposal: Any) -> float:
        if isinstance(proposal.value, bool) or proposal.value < 1:
            raise TraitError(
                f"{CONFIG_SECTION}.kube_stale_after must be at least 1 second, not {proposal.value!r}"
            )
        return float(proposal.value)
