"""Every setting of the broker: one config section, ``c.ExecPlanner``, made of one class per concept.

:class:`ExecPlanner` is shared by the service (:class:`~.app.ExecPlannerApp` inherits it), by the
pre-spawn hook and by ``setup_execplanner(c, **settings)``, which validates keyword arguments against
it when the hub reads its configuration, so a wrong setting stops the hub at start with a message that
names it. Each concept's settings are in a module of their own (:data:`CONCEPTS`, in the order of
docs/configuration.md); those classes are not config sections (see :mod:`.traits`). Some of them were
before: a setting written under such a name (``c.RunSettings.driver_interval``) stops the hub, naming
``c.ExecPlanner.driver_interval`` (:func:`misplaced_settings`, :func:`guard_sections`).
"""

from __future__ import annotations

from typing import Any

from traitlets.config import Config, Configurable

from .settings_capacity import CapacitySettings
from .settings_data import DataSettings
from .settings_database import DatabaseSettings
from .settings_ivoa import IvoaSettings
from .settings_limits import LimitSettings
from .settings_metrics import MetricsSettings
from .settings_offers import OfferSettings
from .settings_peers import PeerSettings
from .settings_run import RunSettings
from .settings_service import ServiceSettings
from .settings_slurm import SlurmSettings
from .settings_snapshots import SnapshotSettings
from .traits import CONFIG_SECTION, Settings

__all__ = ["CONCEPTS", "CONFIG_SECTION", "ExecPlanner", "guard_sections", "misplaced_settings"]

class ExecPlanner(
    ServiceSettings,
    DatabaseSettings,
    OfferSettings,
    CapacitySettings,
    SlurmSettings,
    LimitSettings,
    RunSettings,
    DataSettings,
    IvoaSettings,
    PeerSettings,
    SnapshotSettings,
    MetricsSettings,
    Configurable,
):
    """The broker's settings. Set them as ``c.ExecPlanner.<name>`` or as keyword arguments of
    ``setup_execplanner(c, <name>=...)``."""


# each concept's settings, in the order of the documentation
CONCEPTS: tuple[type[Settings], ...] = tuple(
    base for base in ExecPlanner.__bases__ if issubclass(base, Settings)
)


# The classes that were config sections of their own before every setting moved to c.ExecPlanner (and
# were read without its checks): a broker setting written under one of them is refused, not ignored.
# Other keys there are left alone: the name may be another package's section.
RETIRED_SECTIONS = ("DataSettings", "RunSettings", "ClusterSettings", "PeerSettings", "LimitSettings")


def _is_setting(key: str) -> bool:
    return key in ExecPlanner.class_trait_names(config=True)


def _refusal(section: str, key: str) -> str:
    return (
        f"c.{section}.{key}: the broker's settings are all in one section, c.{CONFIG_SECTION}; "
        f"write c.{CONFIG_SECTION}.{key} = ... (or setup_execplanner(c, {key}=...))"
    )


def misplaced_settings(config: Config) -> list[str]:
    """A message for each broker setting ``config`` has under a retired section name instead of
    ``ExecPlanner`` (traitlets would ignore it)."""
    return [
        _refusal(section, key)
        for section in RETIRED_SECTIONS
        if isinstance(config.get(section), dict)
        for key in config[section]
        if _is_setting(key)
    ]


class _RetiredSection(Config):
    """A config section that refuses the broker's settings, with a message saying where they belong.
    ``section`` is set on a subclass per name (a Config copies itself by its type)."""

    section = ""

    def __setitem__(self, key: str, value: Any) -> None:
        if _is_setting(key):
            raise ValueError(_refusal(self.section, key))
        super().__setitem__(key, value)

    def __getitem__(self, key: str) -> Any:
        if _is_setting(key) and not dict.__contains__(self, key):  # c.RunSettings.pip_extra_args.append
            raise ValueError(_refusal(self.section, key))
        return super().__getitem__(key)


_RETIRED = {name: type(f"Retired{name}", (_RetiredSection,), {"section": name}) for name in RETIRED_SECTIONS}


def guard_sections(c: Config) -> None:
    """Make each retired section name in the hub's config ``c`` refuse the broker's settings, so
    ``c.RunSettings.driver_interval = 7`` later in the config file stops the hub with a message naming
    ``c.ExecPlanner.driver_interval``. Raises ValueError for such a setting already in ``c``."""
    found = misplaced_settings(c)
    if found:
        raise ValueError(found[0])
    for name, retired in _RETIRED.items():
        if not isinstance(dict.get(c, name), _RetiredSection):
            dict.__setitem__(c, name, retired(dict.get(c, name) or {}))
