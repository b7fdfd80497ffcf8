"""Where this hub's profiles come from: the hub's own configuration (pure over a Config object).

JupyterHub gives services no config API, so the service loads the hub's ``jupyterhub_config.py``
into a traitlets ``Config`` and reads, in order: KubeSpawner's ``profile_list`` when the spawner is
KubeSpawner; else ``c.ExecPlanner.profiles``; else one profile describing this host. KubeSpawner's
list is read by KubeSpawner's own functions (:mod:`.kubeprofiles`: callables, ``profile_options``,
``unlisted_choice``, node selectors and tolerations). For ``c.ExecPlanner.profiles``, spawner-level
resource settings (``c.Spawner.cpu_limit``, ...) are the defaults a profile inherits.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from traitlets.config import Config

from .kubeprofiles import profiles_from_kubespawner
from .profiles import Profile, ProfileDefaults, ProfileError, local_host_profile, profiles_from_list

_RESOURCE_KEYS = ("cpu_guarantee", "cpu_limit", "mem_guarantee", "mem_limit", "image")
KUBESPAWNER_SOURCE = "c.KubeSpawner.profile_list"


def spawner_name(config: Config) -> str:
    """The configured spawner class as a dotted name or entry-point alias (``simple``, ``kubespawner``)."""
    spawner = config.get("JupyterHub", {}).get("spawner_class", "")
    if isinstance(spawner, type):
        return f"{spawner.__module__}.{spawner.__qualname__}"
    return str(spawner or "")


def is_kubespawner(config: Config) -> bool:
    return "kubespawner" in spawner_name(config).lower()


def spawner_defaults(
    config: Config, *, prepare: timedelta, max_duration: timedelta
) -> ProfileDefaults:
    """Resource defaults from ``c.Spawner`` overridden by ``c.KubeSpawner`` (when that is the spawner)."""
    values: dict[str, Any] = {}
    sections = ["Spawner", "LocalProcessSpawner", "SimpleLocalProcessSpawner"]
    if is_kubespawner(config):
        sections.append("KubeSpawner")
    for section in sections:
        block = config.get(section, {}) if section in config else {}
        for key in _RESOURCE_KEYS:
            if key in block and block[key] is not None:
                values[key] = block[key]
    return ProfileDefaults(prepare=prepare, max_duration=max_duration, **values)


def configured_profile_list(config: Config, own: Any) -> tuple[Any, str]:
    """The profile list to use and where it came from (for logs and ``GET /``)."""
    if is_kubespawner(config):
        block = config.get("KubeSpawner", {}) if "KubeSpawner" in config else {}
        if block.get("profile_list"):
            return block["profile_list"], KUBESPAWNER_SOURCE
    if own:
        return own, "c.ExecPlanner.profiles"
    return None, "this host"


def profiles_for_hub(
    config: Config,
    own_profiles: Any,
    host_totals: Mapping[str, float],
    *,
    prepare: timedelta,
    max_duration: timedelta,
) -> tuple[list[Profile], str]:
    """The profiles this hub offers, and their source. Raises ProfileError naming the setting."""
    defaults = spawner_defaults(config, prepare=prepare, max_duration=max_duration)
    profile_list, source = configured_profile_list(config, own_profiles)
    if profile_list is None:
        return [local_host_profile(host_totals, defaults)], source
    try:
        if source == KUBESPAWNER_SOURCE:
            ours = ProfileDefaults(prepare=prepare, max_duration=max_duration)
            profiles = profiles_from_kubespawner(config, defaults=ours)
        else:
            profiles = profiles_from_list(profile_list, defaults=defaults)
    except ProfileError as e:
        raise ProfileError(f"{source}: {e}") from e
    if not profiles:
        raise ProfileError(f"{source} is empty: give at least one profile, or remove the setting.")
    return profiles, source
