"""Prometheus metrics (``GET metrics``).

A part of :class:`~.settings.ExecPlanner`: set these as ``c.ExecPlanner.<name>`` or as keyword arguments
of ``setup_execplanner``."""

from __future__ import annotations

from traitlets import Bool

from .traits import Settings


class MetricsSettings(Settings):
    """Metrics

    ``GET metrics`` serves the broker's Prometheus metrics (offers, sessions by phase, requests)."""

    authenticate_prometheus = Bool(
        True,
        help="Whether ``GET metrics`` needs a token with the hub's ``read:metrics`` scope.",
    ).tag(config=True)
