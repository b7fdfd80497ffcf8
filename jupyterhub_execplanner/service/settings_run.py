"""Running accepted sessions: the preload in the session's server and the phase driver.

A part of :class:`~.settings.ExecPlanner`: set these as ``c.ExecPlanner.<name>`` or as keyword arguments
of ``setup_execplanner``."""

from __future__ import annotations

from typing import Any

from traitlets import Bool, Int, List, TraitError, Unicode, validate

from .traits import CONFIG_SECTION, Duration, Settings


class RunSettings(Settings):
    """Running accepted sessions

    After an offer is accepted, the phase driver starts the session's named server at the offered
    time, and a preload in that server fetches the notebook, installs its requirements and downloads
    its data before Jupyter starts; these settings bound what the preload may fetch and install, and
    how long each step may take."""

    # -- preloading a session's server (spawner hook and singleuser preload) ---------------------------
    # Read by the pre-spawn hook in the hub process from the hub's config (c.ExecPlanner.*), and passed
    # to the preload that runs in the session's server before jupyterhub-singleuser.

    preload_max_notebook_size = Int(
        20 * 1024 * 1024,
        help="""
        The largest notebook a session's server downloads, in bytes; a larger one fails the session
        with a message naming the URL and the limit. Default: 20 MiB.
        """,
    ).tag(config=True)

    preload_max_data_size = Int(
        1024**3,
        help="""
        The largest data resource (and requirements file) a session's server downloads, in bytes.
        Default: 1 GiB.
        """,
    ).tag(config=True)

    preload_timeout = Duration(
        60,
        help="""
        How long a session's server may spend on each download (notebook, requirements file, each data
        resource), and the connect and read timeout of each. Default: 60 seconds.
        """,
    ).tag(config=True)

    preload_start_timeout = Duration(
        600,
        whole=True,
        help="""
        How long the hub waits for a session's server to answer, preload included (installing the
        requirements may take minutes): a session's spawner gets ``http_timeout`` at least this long
        (rounded up to whole seconds). It also bounds the installer's run. Default: 600 seconds.
        """,
    ).tag(config=True)

    requirements_allow_options = Bool(
        False,
        help="""
        Whether a session's requirements file may use pip options (``-e``, ``-r``, ``-c``,
        ``--index-url``, ``--extra-index-url``, ``--find-links``, ``--trusted-host``, ...), local
        paths, URLs and ``name @ url`` references. Default: False, a requirements file may only name
        packages with extras, version specifiers and environment markers (and ``--hash``); any other
        line fails the session with a message naming the line.
        """,
    ).tag(config=True)

    requirements_max_lines = Int(
        100,
        help="""
        The most requirement lines a session's requirements file may have (continued lines joined,
        comments and blank lines not counted), with or without ``requirements_allow_options``; a
        longer file fails the session with a message naming this limit. Default: 100.
        """,
    ).tag(config=True)

    @validate("requirements_max_lines")
    def _validate_requirements_max_lines(self, proposal: Any) -> int:
        if isinstance(proposal.value, bool) or proposal.value < 1:
            raise TraitError(
                f"{CONFIG_SECTION}.requirements_max_lines must be at least 1, not {proposal.value!r}"
            )
        return proposal.value

    pip_extra_args = List(
        Unicode(),
        default_value=[],
        help="""
        Arguments added to every requirements install (``uv pip install`` or ``pip install``), e.g.
        a local mirror: ``["--no-index", "--find-links", "http://mirror/wheels/"]`` or
        ``["--index-url", "https://pypi.example.org/simple"]``.
        """,
    ).tag(config=True)

    preload_installer = Unicode(
        "auto",
        help="""
        What installs a session's requirements: ``"uv"`` (``uv venv`` and ``uv pip install``, much
        faster), ``"pip"`` (``python -m venv`` and ``pip install``), or ``"auto"``: uv when it is on the
        server's ``PATH``, else pip. uv is given the server's pip configuration (``pip.conf`` and
        ``PIP_*``: index, extra indexes, find-links, certificates, trusted hosts, constraints) unless
        the server's environment configures uv itself; with ``"auto"``, when uv cannot reach the
        package index, pip installs instead. The session's messages say which installer ran and why.
        """,
    ).tag(config=True)

    preload_python = Unicode(
        "",
        help="""
        The Python that runs the preload (``python -m jupyterhub_execplanner.singleuser``) in a
        session's server, and is the base of its environment; jupyterhub-execplanner must be installed
        in it. Default: the hub's own Python for spawners that run servers on the hub's host, and
        ``python3`` for spawners with an ``image`` (KubeSpawner, DockerSpawner).
        """,
    ).tag(config=True)

    @validate("preload_max_notebook_size", "preload_max_data_size")
    def _validate_positive_int(self, proposal: Any) -> int:
        if isinstance(proposal.value, bool) or proposal.value < 1:
            raise TraitError(
                f"{CONFIG_SECTION}.{proposal.trait.name} must be a positive number, not {proposal.value!r}"
            )
        return proposal.value

    @validate("pip_extra_args")
    def _validate_pip_extra_args(self, proposal: Any) -> list:
        for item in proposal.value:
            if item.startswith("-") and len(item.split()) > 1:
                words = ", ".join(repr(w) for w in item.split())
                raise TraitError(
                    f"{CONFIG_SECTION}.pip_extra_args: {item!r} is several arguments in one; give one "
                    f"argument per item: [{words}]"
                )
        return list(proposal.value)

    @validate("preload_installer")
    def _validate_installer(self, proposal: Any) -> str:
        if proposal.value not in ("auto", "uv", "pip"):
            raise TraitError(
                f"{CONFIG_SECTION}.preload_installer must be 'auto', 'uv' or 'pip', not {proposal.value!r}"
            )
        return proposal.value

    # -- the phase driver (service process): running accepted sessions ------------------------------
    # Read by the service. The driver starts each accepted session's server through the hub's API at
    # the offer's preparing start, follows it to AVAILABLE and RUNNING, and stops it at the end.

    driver_interval = Duration(
        1,
        zero=True,
        help="""
        The time between the phase driver's passes over the sessions in flight (it also wakes at once
        when a session is accepted or cancelled). Each pass reads their servers from the hub, starts
        waiting sessions whose time has come and stops ended ones. 0 turns the driver off: the broker
        then only plans, and accepted sessions stay ACCEPTED. Default: 1 second.
        """,
    ).tag(config=True)

    max_concurrent_spawns = Int(
        4,
        help="""
        The most session servers the broker starts (and follows to ready) at once; later starts wait
        their turn. The hub's own ``concurrent_spawn_limit`` still applies. Default: 4.
        """,
    ).tag(config=True)

    spawn_timeout = Duration(
        600,
        help="""
        How long a session's server may take to be ready after its preparing starts, preload
        included; a server not ready by then is stopped and the session FAILED. Keep it at least
        ``preload_start_timeout``, which bounds the same wait on the hub's side. Default: 600 seconds.
        """,
    ).tag(config=True)

    @validate("max_concurrent_spawns")
    def _validate_max_concurrent_spawns(self, proposal: Any) -> int:
        if isinstance(proposal.value, bool) or proposal.value < 1:
            raise TraitError(
                f"{CONFIG_SECTION}.max_concurrent_spawns must be at least 1, not {proposal.value!r}"
            )
        return proposal.value
