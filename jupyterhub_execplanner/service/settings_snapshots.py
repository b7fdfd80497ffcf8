"""Snapshots: the notebooks the lab panel uploads, served to other hubs by capability URL.

A part of :class:`~.settings.ExecPlanner`: set these as ``c.ExecPlanner.<name>`` or as keyword arguments
of ``setup_execplanner``."""

from __future__ import annotations

from typing import Any

from traitlets import Int, TraitError, validate

from .traits import CONFIG_SECTION, Duration, Settings


class SnapshotSettings(Settings):
    """Snapshots

    ``POST snapshots`` keeps a notebook and its requirements (what the JupyterLab panel sends) behind
    an unguessable URL that any hub can fetch until it expires."""

    snapshot_lifetime = Duration(
        86400,
        help="""
        How long a snapshot (``POST snapshots``: a notebook and its requirements uploaded by the
        JupyterLab panel to be run on any hub) stays readable at its URL. Expired snapshots are
        deleted. Keep it longer than the latest start users ask for. Default: 1 day.
        """,
    ).tag(config=True)

    snapshot_max_size = Int(
        20 * 1024 * 1024,
        help="""
        The largest snapshot accepted, in bytes: the total size of its files (UTF-8). A larger upload
        is answered ``413`` naming this setting. Default: 20 MiB.
        """,
    ).tag(config=True)

    @validate("snapshot_max_size")
    def _validate_snapshot_max_size(self, proposal: Any) -> int:
        if isinstance(proposal.value, bool) or proposal.value < 1024:
            raise TraitError(
                f"{CONFIG_SECTION}.snapshot_max_size must be at least 1024 bytes, not {proposal.value!r}"
            )
        return proposal.value
