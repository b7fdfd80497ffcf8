"""Putting a Slurm cluster under the broker: the provider, the profiles, and the manager's hooks.

Called by the service when ``capacity_provider`` resolves to ``"slurm"`` (see
:class:`~..service.app.ExecPlannerApp`): :func:`slurm_platform` reads the cluster once (the default
partition and its nodes describe the one profile of a hub that lists none) and builds the provider;
:func:`connect` gives the session manager the provider's health, node sizes, start facts and
promises, and keeps the calendar current after every read of the cluster.
"""

from __future__ import annotations

import logging
from typing import Any

from traitlets.config import Config

from ..sessions.manager import SessionManager
from .profiles import Profile
from .slurmcapacity import ClusterView, Commands, SlurmCapacity
from .slurmprofiles import slurm_profiles
from .slurmpromises import SlurmPromises

log = logging.getLogger(__name__)


def slurm_platform(settings: Any, config: Config) -> tuple[SlurmCapacity, list[Profile], str]:
    """The provider over the profiles' partitions, the profiles and their source. ``settings`` is
    the :class:`~..service.settings.ExecPlanner` of the service. Raises ProfileError."""
    commands = Commands(slurm_conf=settings.slurm_conf, bin_dir=settings.slurm_bin_dir)
    probe = SlurmCapacity([], commands=commands)
    view = probe.refresh()
    if view is None:
        log.warning("Slurm cannot be read at start (%s): answering NO until it can", probe.error)
    profiles, source = slurm_profiles(
        config, settings.profiles,
        view.partitions if view is not None else (), view.nodes if view is not None else (),
        prepare=settings.duration("prepare_time"), max_duration=settings.duration("max_duration"),
    )
    capacity = SlurmCapacity(
        sorted({p.pool for p in profiles}), commands=commands,
        poll_interval=float(settings.slurm_poll_interval),
        stale_after=float(settings.slurm_stale_after), start_ttl=float(settings.slurm_start_ttl),
    )
    if view is not None:
        capacity.view, capacity.last_ok = view, capacity.clock()
    else:
        capacity.error = probe.error
    return capacity, profiles, source


def connect(capacity: SlurmCapacity, manager: SessionManager, settings: Any) -> SlurmPromises:
    """The manager's hooks, and the calendar kept current by every read of the cluster."""
    manager.health, manager.node_fit = capacity.stale_reason, capacity.node_fit
    promises = SlurmPromises(capacity, manager, reservations=settings.slurm_reservations,
                             reservation_user=settings.slurm_reservation_user)
    promises.install()

    def changed(view: ClusterView) -> None:
        capacity.apply(manager.calendar, view, manager.clock())
        promises.watch_jobs()

    capacity.on_change = changed
    if capacity.view is not None:
        changed(capacity.view)
    return promises
