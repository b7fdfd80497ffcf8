"""Capacity: what the hub offers (profiles) and how much of it there is (static, this host, or a
Kubernetes cluster), less what the hub's other servers hold. See docs/kubernetes.md.

A part of :class:`~.settings.ExecPlanner`: set these as ``c.ExecPlanner.<name>`` or as keyword arguments
of ``setup_execplanner``."""

from __future__ import annotations

from typing import Any

from traitlets import Dict, Float, List, TraitError, Unicode, Union, validate

from .traits import CONFIG_SECTION, Duration, Settings


class CapacitySettings(Settings):
    """Profiles and capacity

    What the hub offers and how much of it: the profiles (KubeSpawner's own ``profile_list`` on a
    KubeSpawner hub), the totals per pool (given, this host, or the cluster, kept current by
    list-and-watch), and what the hub's other running servers hold."""

    profiles = Union(
        [List(Dict()), Dict()],
        default_value=[],
        help="""
        What this hub offers, for spawners other than KubeSpawner, in KubeSpawner's ``profile_list``
        format: a list of ``{display_name, slug, description, kubespawner_override: {cpu_guarantee,
        cpu_limit, mem_guarantee, mem_limit, image, extra_resource_limits}}`` dicts (or a dict of slug
        to profile). A profile may add ``execplanner: {max_duration, prepare, pool}`` (durations as
        the settings': seconds or ISO 8601). With KubeSpawner, its own ``c.KubeSpawner.profile_list``
        is used and this is ignored. When neither is given, the hub offers one profile describing this
        host. Example::

            c.ExecPlanner.profiles = [
                {"display_name": "Small", "slug": "small",
                 "kubespawner_override": {"cpu_limit": 2, "mem_limit": "4G"}},
            ]
        """,
    ).tag(config=True)

    capacity_provider = Unicode(
        "auto",
        help="""
        Where the totals per pool come from: ``"static"`` (``capacity``), ``"host"`` (this host, less
        ``reserve_cores`` and ``reserve_memory``), ``"kubernetes"`` (the cluster: each node's
        allocatable less the requests of the pods scheduled on it, per profile pool, kept current by
        watching nodes and pods; the service needs ``list`` and ``watch`` on nodes and pods cluster-wide),
        ``"slurm"`` (the partitions of a Slurm cluster and the jobs running there, read with Slurm's
        tools; see the Slurm settings), or ``"auto"`` (the default): kubernetes when the spawner is
        KubeSpawner and ``capacity`` is empty, slurm when it is batchspawner's SlurmSpawner (or
        wrapspawner's ProfilesSpawner over it) and ``capacity`` is empty, else static when
        ``capacity`` is given, else host.
        """,
    ).tag(config=True)

    capacity = Dict(
        help="""
        The totals this hub can give, per pool: ``{"default": {"cores": 32, "memory": 128,
        "nvidia.com/gpu": 2}}`` (memory in GiB). Empty (the default): the cores and memory of this host,
        less ``reserve_cores`` and ``reserve_memory``.
        """
    ).tag(config=True)

    reserve_cores = Float(
        0.0,
        help="Cores of this host kept back for the hub itself when ``capacity`` is not given.",
    ).tag(config=True)

    reserve_memory = Float(
        0.0,
        help="GiB of this host's memory kept back for the hub itself when ``capacity`` is not given.",
    ).tag(config=True)

    server_footprint = Dict(
        {"cores": 1, "memory": 1},
        help="""
        What a running server holds when nothing else says: ``{"cores": 1, "memory": 1}`` (GiB).
        Every running or starting server of the hub counts against what the broker offers, except
        the servers of the broker's own sessions (its calendar holds those): one started with a known
        ``profile`` user option holds that profile's guarantees, one whose options carry a broker
        launch the larger of that launch's resources and this, any other this.
        """,
    ).tag(config=True)

    hub_poll_interval = Duration(
        10,
        zero=True,
        help="""
        How often the broker reads the hub's running servers (``GET /hub/api/users?state=active``),
        which the calendar subtracts from capacity. 0 turns the reads off. Not used with the
        kubernetes provider, whose pods count already. Default: 10 seconds.
        """,
    ).tag(config=True)

    kube_config = Unicode(
        "",
        help="""
        Path of the kubeconfig file the kubernetes capacity provider uses. Default: the pod's service
        account when the service runs in the cluster, else ``$KUBECONFIG`` (or ``~/.kube/config``).
        """,
    ).tag(config=True)

    kube_stale_after = Duration(
        30,
        at_least=1,
        help="""
        How long without news from the Kubernetes API (a list, a watch opened, an event) the broker
        waits before it stops trusting what it knows of the cluster and answers every request NO with
        a message saying so, until it is back in touch. Watches are renewed every third of this time.
        Default: 30 seconds.
        """,
    ).tag(config=True)

    @validate("capacity_provider")
    def _validate_capacity_provider(self, proposal: Any) -> str:
        if proposal.value not in ("auto", "host", "static", "kubernetes", "slurm"):
            raise TraitError(
                f"{CONFIG_SECTION}.capacity_provider must be 'auto', 'host', 'static', 'kubernetes' "
                "or 'slurm', "
                f"not {proposal.value!r}"
            )
        return proposal.value

    @validate("capacity")
    def _validate_capacity(self, proposal: Any) -> dict:
        cleaned: dict[str, dict[str, float]] = {}
        for pool, totals in proposal.value.items():
            if not isinstance(totals, dict):
                raise TraitError(
                    f"{CONFIG_SECTION}.capacity[{pool!r}] must be a dict like "
                    "{'cores': 8, 'memory': 32}"
                )
            cleaned[str(pool)] = {}
            for key, amount in totals.items():
                if isinstance(amount, bool) or not isinstance(amount, (int, float)) or amount < 0:
                    raise TraitError(
                        f"{CONFIG_SECTION}.capacity[{pool!r}][{key!r}] must be a number >= 0, "
                        f"not {amount!r}"
                    )
                cleaned[str(pool)][str(key)] = float(amount)
            for needed in ("cores", "memory"):
                cleaned[str(pool)].setdefault(needed, 0.0)
        return cleaned

    @validate("server_footprint")
    def _validate_footprint(self, proposal: Any) -> dict:
        value = proposal.value
        for key, amount in value.items():
            if isinstance(amount, bool) or not isinstance(amount, (int, float)) or amount < 0:
                raise TraitError(
                    f"{CONFIG_SECTION}.server_footprint[{key!r}] must be a number >= 0, not {amount!r}"
                )
        return {str(k): float(v) for k, v in value.items()}
