"""The server side of a session: ``python -m jupyterhub_execplanner.singleuser -- CMD...``.

The broker's pre-spawn hook makes this the command of a session's server. It reads the plan in
``$EXECPLANNER_PRELOAD`` (:mod:`.plan`), prepares the session's folder (:mod:`.preload`: the notebook,
a per-session environment with its requirements registered as a kernel, the data), reports progress to
the broker, then replaces itself with ``CMD`` (``jupyterhub-singleuser``). Without the variable it
only runs ``CMD``. Only the standard library (and ``packaging``) is imported here: it runs in the
user's server, before anything else.
"""
