"""batchspawner's SlurmSpawner, as a broker session needs it and as JupyterHub 6.1 runs it.

:class:`ExecPlannerSlurmSpawner` changes four things, and nothing for an ordinary server:

* **Users without a system account.** The stock class reads ``pwd.getpwnam(<hub user>)`` for the
  job's ``HOME``, ``SHELL`` and working folder, which fails for a hub whose users are not Unix
  accounts (every authenticator but PAM). Here the account is read when there is one; else ``HOME``
  is ``req_homedir`` (default: the hub's working folder), and ``USER`` the hub user's name.
* **The session's job.** For a broker launch (its signed ``user_options``, checked by the
  ``pre_spawn_hook`` before ``start``), the job asks for the offered size (``--cpus-per-task``,
  ``--mem``, ``--gres=gpu:N``), a time limit of the session's end plus a minute, runs in the session's
  advance reservation when the broker made one (``--reservation``), is not requeued, and carries
  the comment ``execplanner:<session uuid>`` by which the broker tells its sessions' jobs from other jobs.
* **The preload.** The hook wraps the server's command in the preload (``python -m
  jupyterhub_execplanner.singleuser -- CMD``); ``batchspawner-singleuser`` must run just before
  ``CMD`` (it runs its first argument as a Python script, which the preload's Python is not), so
  it is placed after the ``--``.
* **Defaults** that need no sudo: ``exec_prefix`` is empty (the stock ``sudo -E -u {username}``
  needs sudo and accounts; set it back for a site that has them).

It is batchspawner's ``MultiSlurmSpawner`` (a ``SlurmSpawner`` whose ``daemon_resolver`` maps node
names to host names, for nodes whose names do not resolve; empty by default).

Use it as ``c.JupyterHub.spawner_class`` or as ``c.ProfilesSpawner.child_class`` and the class of
each profile (see docs/slurm.md).
"""

from __future__ import annotations

import os
import pwd
import shlex
from datetime import datetime, timedelta, timezone
from typing import Any

from batchspawner import MultiSlurmSpawner
from traitlets import Unicode, default

from ..launch import LAUNCH_OPTION, LaunchSpec
from ..spawnhook import PRELOAD_MODULE
from .slurmcapacity import SESSION_COMMENT, Commands, reservation_name
from .slurmcli import format_limit

GRACE_SECONDS = 60  # the job's time limit runs this long past the session's end (releasing time)


def launch_of(options: Any) -> LaunchSpec | None:
    """The broker launch in ``user_options`` (already checked by the hook), or None."""
    payload = options.get(LAUNCH_OPTION) if isinstance(options, dict) else None
    if not isinstance(payload, dict):
        return None
    try:
        return LaunchSpec.from_dict(payload)
    except (TypeError, ValueError):
        return None


def job_settings(spec: LaunchSpec, now: datetime, *, reservation: str = "") -> dict[str, str]:
    """The ``req_*`` values of a session's job (pure)."""
    end = datetime.fromisoformat(spec.end.replace("Z", "+00:00"))
    remaining = max(end - now, timedelta(0)) + timedelta(seconds=GRACE_SECONDS)
    values = {"req_runtime": format_limit(remaining),
              # not requeued: a server that comes back elsewhere would be a stranger to the hub
              "req_options": f"--no-requeue --comment={SESSION_COMMENT}{spec.session}"}
    if spec.cores > 0:
        values["req_nprocs"] = str(spec.cores)
    if spec.memory > 0:
        values["req_memory"] = f"{spec.memory}G"
    gpus = sum(n for name, n in spec.accelerators.items() if name.lower().endswith("gpu"))
    if gpus:
        values["req_gres"] = f"gpu:{gpus}"
    if reservation:
        values["req_reservation"] = reservation
    return values


def batch_command(singleuser: str, cmd: list[str], args: list[str]) -> str:
    """The job's command: ``batchspawner-singleuser`` just before the server's own command, inside
    the preload when the hook wrapped it."""
    if cmd[1:4] == ["-m", PRELOAD_MODULE, "--"]:
        parts = [*cmd[:4], singleuser, *cmd[4:], *args]
    else:
        parts = [singleuser, *cmd, *args]
    return " ".join(shlex.quote(p) for p in parts)


class ExecPlannerSlurmSpawner(MultiSlurmSpawner):
    """SlurmSpawner for a hub with the execution broker (see the module docstring)."""

    @default("exec_prefix")
    def _exec_prefix_default(self) -> str:
        return ""

    # batchspawner's own req_homedir cannot be configured (it has no config tag); this one can
    req_homedir = Unicode(
        help="The job's working folder and HOME (default: the user's home, else the hub's folder).",
    ).tag(config=True)

    @default("req_homedir")
    def _req_homedir_default(self) -> str:
        account = _account(self.user.name)
        return account.pw_dir if account is not None else os.getcwd()

    slurm_conf = Unicode(
        "",
        help="SLURM_CONF for the Slurm commands and the job (default: the hub's $SLURM_CONF).",
    ).tag(config=True)

    def user_env(self, env: dict[str, str]) -> dict[str, str]:
        env["USER"] = self.user.name
        account = _account(self.user.name)
        env["HOME"] = account.pw_dir if account is not None else self.req_homedir
        if account is not None and account.pw_shell:
            env["SHELL"] = account.pw_shell
        conf = self.slurm_conf or os.environ.get("SLURM_CONF", "")
        if conf:
            env["SLURM_CONF"] = conf
        return env

    def cmd_formatted_for_batch(self) -> str:
        return batch_command(self.batchspawner_singleuser_cmd, list(self.cmd), list(self.get_args()))

    async def start(self) -> Any:
        spec = launch_of(self.user_options)
        if spec is not None:
            name = reservation_name(spec.session)
            held = await self._reservation_exists(name)
            for trait, value in job_settings(spec, datetime.now(timezone.utc),
                                             reservation=name if held else "").items():
                if trait == "req_options" and self.req_options and SESSION_COMMENT not in self.req_options:
                    value = f"{self.req_options} {value}"
                setattr(self, trait, value)
        return await super().start()

    async def _reservation_exists(self, name: str) -> bool:
        commands = Commands(slurm_conf=self.slurm_conf or os.environ.get("SLURM_CONF", ""), timeout=10)
        try:
            out = await self.run_command(
                f"scontrol show reservation {shlex.quote(name)} -o", env=commands.env())
        except Exception:  # no such reservation (scontrol exits 1) or Slurm silent: run without
            return False
        return f"ReservationName={name}" in (out or "")


def _account(name: str) -> Any:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        return None
