"""Running accepted sessions: the phase driver and its client of the hub's REST API.

- :mod:`.decide`: what should happen to a session now (pure, table-tested), and the pure pieces the
  driver needs (the LaunchSpec of a session, its connector, its messages, the preload's reports);
- :mod:`.driver`: the :class:`~.driver.PhaseDriver` the service runs, which carries the decisions out;
- :mod:`.hubapi`: the hub's REST API with the service's token (start, read, stop servers; progress).
"""
