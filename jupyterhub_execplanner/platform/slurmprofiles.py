"""What a Slurm hub offers: its profiles, from the hub's own configuration and the cluster (pure over
a Config object and a read of the cluster).

In order: wrapspawner's ``c.ProfilesSpawner.profiles`` whose spawner is a batchspawner
``SlurmSpawner`` (each ``(display name, key, class, config)`` tuple a profile of fixed size: its
``req_partition``, ``req_nprocs``, ``req_memory``, ``req_ngpus`` or ``req_gres`` and ``req_runtime``);
else ``c.ExecPlanner.profiles`` (KubeSpawner's ``profile_list`` format, GPUs as
``extra_resource_limits: {"gpu": 1}``, the partition as ``execplanner: {pool: ...}``); else one
profile describing the default partition (its largest node, its ``MaxTime``). ``c.SlurmSpawner``'s
own ``req_*`` settings are the defaults of every profile. The pool of a profile is its partition.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from traitlets.config import Config
from traitlets.utils.importstring import import_item

from .profiles import Profile, ProfileDefaults, ProfileError, profile_from_entry, profiles_from_list
from .slurmcli import Node, Partition, memory_gib, time_limit

PROFILES_SOURCE = "c.ProfilesSpawner.profiles"
_SECTIONS = ("BatchSpawnerBase", "SlurmSpawner", "ExecPlannerSlurmSpawner")


def _class_of(value: Any) -> type | None:
    if isinstance(value, type):
        return value
    if isinstance(value, str) and "." in value:
        try:
            found = import_item(value)
        except Exception:  # not importable here: not a class this module can recognise
            return None
        return found if isinstance(found, type) else None
    return None


def _is_slurm_class(value: Any) -> bool:
    cls = _class_of(value)
    if cls is None:
        return isinstance(value, str) and "slurmspawner" in value.lower()
    return any(c.__name__ == "SlurmSpawner" for c in cls.__mro__)


def _is_profiles_spawner(value: Any) -> bool:
    cls = _class_of(value)
    names = [c.__name__ for c in cls.__mro__] if cls is not None else [str(value)]
    return any("ProfilesSpawner" in n for n in names)


def is_slurm_hub(config: Config) -> bool:
    """The spawner is a batchspawner SlurmSpawner, or wrapspawner's ProfilesSpawner over one."""
    spawner = config.get("JupyterHub", {}).get("spawner_class", "")
    if _is_slurm_class(spawner):
        return True
    if not _is_profiles_spawner(spawner):
        return False
    block = config.get("ProfilesSpawner", {}) if "ProfilesSpawner" in config else {}
    if _is_slurm_class(block.get("child_class")):
        return True
    return any(_is_slurm_class(p[2]) for p in block.get("profiles") or () if len(p) >= 3)


def slurm_defaults(config: Config) -> dict[str, Any]:
    """The ``req_*`` settings every Slurm profile inherits (``c.SlurmSpawner.req_nprocs``, ...)."""
    found: dict[str, Any] = {}
    for section in _SECTIONS:
        block = config.get(section, {}) if section in config else {}
        found.update({k: v for k, v in block.items() if k.startswith("req_")})
    return found


def _gpus(settings: Mapping[str, Any], where: str) -> int:
    if settings.get("req_ngpus"):
        return _count(settings["req_ngpus"], f"{where}: req_ngpus")
    gres = str(settings.get("req_gres") or "")
    match = re.search(r"(?:^|,)(?:gres[:/])?gpu(?::[^:,]+)?:(\d+)", gres)
    return int(match.group(1)) if match else (1 if re.search(r"(?:^|,)gpu$", gres) else 0)


def _count(value: Any, where: str) -> int:
    try:
        number = int(str(value).strip())
    except ValueError:
        raise ProfileError(f"{where} must be a whole number, not {value!r}") from None
    if number < 0:
        raise ProfileError(f"{where} must be 0 or more, not {value!r}")
    return number


def entry_from_settings(display: str, slug: str, settings: Mapping[str, Any], *,
                        partition: str) -> dict[str, Any]:
    """One ``req_*`` set as a ``profile_list`` entry of fixed size (a batch job gets what it asks)."""
    where = f"{PROFILES_SOURCE}[{slug!r}]"
    override: dict[str, Any] = {}
    if settings.get("req_nprocs"):
        cores = _count(settings["req_nprocs"], f"{where}: req_nprocs")
        override.update(cpu_guarantee=cores, cpu_limit=cores)
    if settings.get("req_memory"):
        try:
            gib = memory_gib(str(settings["req_memory"]))
        except ValueError:
            raise ProfileError(f"{where}: req_memory must be like '4G' or '4000' (MB), not "
                               f"{settings['req_memory']!r}") from None
        override.update(mem_guarantee=int(gib * 1024**3), mem_limit=int(gib * 1024**3))
    gpus = _gpus(settings, where)
    if gpus:
        override["extra_resource_limits"] = {"gpu": gpus}
    ours: dict[str, Any] = {"pool": str(settings.get("req_partition") or partition)}
    if settings.get("req_runtime"):
        runtime = time_limit(str(settings["req_runtime"]))
        if runtime is None:
            raise ProfileError(f"{where}: req_runtime must be a Slurm time like '1:00:00', not "
                               f"{settings['req_runtime']!r}")
        ours["max_duration"] = runtime.total_seconds()
    return {"display_name": display, "slug": slug, "kubespawner_override": override,
            "execplanner": ours}


def default_partition_profile(partition: Partition, nodes: Sequence[Node],
                              defaults: ProfileDefaults) -> Profile:
    """One profile for the default partition: up to its largest node that takes jobs."""
    usable = [n for n in nodes if partition.name in n.partitions and n.usable] or [
        n for n in nodes if partition.name in n.partitions]
    largest: Mapping[str, float] = max((n.total for n in usable), key=lambda t: t.get("cores", 0),
                                       default={})
    cores, memory = largest.get("cores", 0.0), largest.get("memory", 0.0)
    gpus = {k: int(v) for k, v in largest.items() if k not in ("cores", "memory") and v >= 1}
    ours: dict[str, Any] = {"pool": partition.name}
    if partition.max_time is not None:
        ours["max_duration"] = partition.max_time.total_seconds()
    entry = {
        "display_name": f"Partition {partition.name} ({cores:g} cores, {memory:.0f} GiB a node)",
        "slug": partition.name,
        "description": f"A batch job in the Slurm partition {partition.name}.",
        "kubespawner_override": {"cpu_guarantee": 1, "cpu_limit": cores or None,
                                 "mem_guarantee": 0, "mem_limit": int(memory * 1024**3) or None,
                                 "extra_resource_limits": gpus},
        "execplanner": ours,
        "default": True,
    }
    return profile_from_entry(f"partition {partition.name}", entry, defaults)


def slurm_profiles(
    config: Config,
    own_profiles: Any,
    partitions: Sequence[Partition],
    nodes: Sequence[Node],
    *,
    prepare: timedelta,
    max_duration: timedelta,
) -> tuple[list[Profile], str]:
    """The profiles of a Slurm hub and their source. Raises ProfileError naming the setting."""
    defaults = ProfileDefaults(prepare=prepare, max_duration=max_duration)
    default = next((p for p in partitions if p.default), partitions[0] if partitions else None)
    fallback = default.name if default is not None else "default"
    inherited = slurm_defaults(config)
    block = config.get("ProfilesSpawner", {}) if "ProfilesSpawner" in config else {}
    listed = [p for p in block.get("profiles") or () if len(p) >= 4 and (
        _is_slurm_class(p[2]) or _is_slurm_class(block.get("child_class")))]
    if listed:
        entries = [entry_from_settings(str(p[0]), str(p[1]), {**inherited, **dict(p[3])},
                                       partition=fallback) for p in listed]
        return profiles_from_list(entries, defaults=defaults), PROFILES_SOURCE
    if own_profiles:
        items = own_profiles if isinstance(own_profiles, list) else [
            {"slug": k, **v} for k, v in sorted(own_profiles.items())]
        entries = []
        for item in items:
            entry = dict(item)
            entry["execplanner"] = {"pool": fallback, **dict(entry.get("execplanner") or {})}
            entries.append(entry)
        try:
            return profiles_from_list(entries, defaults=defaults), "c.ExecPlanner.profiles"
        except ProfileError as e:
            raise ProfileError(f"c.ExecPlanner.profiles: {e}") from e
    if inherited:
        entry = entry_from_settings(f"Partition {inherited.get('req_partition') or fallback}",
                                    str(inherited.get("req_partition") or fallback), inherited,
                                    partition=fallback)
        if entry["kubespawner_override"]:
            return [profile_from_entry("c.SlurmSpawner", entry, defaults)], "c.SlurmSpawner"
    if default is None:
        raise ProfileError("Slurm shows no partition: define one in slurm.conf, or give "
                           "c.ExecPlanner.profiles with execplanner.pool set to a partition.")
    return [default_partition_profile(default, nodes, defaults)], f"partition {default.name}"
