"""Slurm: how the broker reads a batch cluster and keeps its promises there. See docs/slurm.md.

A part of :class:`~.settings.ExecPlanner`: set these as ``c.ExecPlanner.<name>`` or as keyword arguments
of ``setup_execplanner``."""

from __future__ import annotations

from traitlets import Bool, Unicode

from .traits import Duration, Settings


class SlurmSettings(Settings):
    """Slurm

    With ``capacity_provider = "slurm"`` (chosen by ``auto`` when the spawner is batchspawner's
    SlurmSpawner, or wrapspawner's ProfilesSpawner over it), the broker reads the cluster with Slurm's
    command line tools, asks the backfill scheduler when each offer can start, and holds an accepted
    session's window with an advance reservation."""

    slurm_conf = Unicode(
        "",
        help="""
        Path of the ``slurm.conf`` the broker's Slurm commands use (``SLURM_CONF``). Default: the
        service's ``$SLURM_CONF``, else Slurm's own default.
        """,
    ).tag(config=True)

    slurm_bin_dir = Unicode(
        "",
        help="Folder of Slurm's commands (``scontrol``, ``sbatch``). Default: found on ``$PATH``.",
    ).tag(config=True)

    slurm_poll_interval = Duration(
        5,
        at_least=0.2,
        help="""
        How often the broker reads the cluster's nodes, partitions and jobs (three ``scontrol``
        commands). Default: 5 seconds.
        """,
    ).tag(config=True)

    slurm_stale_after = Duration(
        30,
        at_least=1,
        help="""
        How long without a successful read of the cluster the broker trusts what it knows; a read
        that fails turns every answer to NO at once, with Slurm's error, until a read succeeds.
        Default: 30 seconds.
        """,
    ).tag(config=True)

    slurm_start_ttl = Duration(
        30,
        zero=True,
        help="""
        How long the backfill scheduler's answer (``sbatch --test-only``) for one job size and time
        limit is reused before it is asked again. 0 asks at every request. Default: 30 seconds.
        """,
    ).tag(config=True)

    slurm_reservations = Bool(
        True,
        help="""
        Hold each accepted session that starts later with a Slurm advance reservation of its cores
        over its window (``scontrol create reservation``; the broker's user must be a Slurm operator
        or administrator), deleted when the session ends. When off, or when Slurm refuses, offers
        say that their start is the scheduler's estimate, not a promise.
        """,
    ).tag(config=True)

    slurm_reservation_user = Unicode(
        "{username}",
        help="""
        The Unix user whose jobs may run in a session's reservation: ``{username}`` (the hub user,
        the default, for a hub whose jobs run as its users) or a fixed name (the account the hub
        submits every job as, when ``exec_prefix`` does not change users).
        """,
    ).tag(config=True)
