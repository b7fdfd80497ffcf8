"""Prometheus metrics of the broker, on a registry of its own (served at ``GET metrics``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector


class _PhaseCollector(Collector):
    def __init__(self, counts: Callable[[], dict[str, int]]):
        self._counts = counts

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "execplanner_sessions", "Sessions (offers included) by phase.", labels=["phase"]
        )
        for phase, count in sorted(self._counts().items()):
            family.add_metric([phase], count)
        yield family


class Metrics:
    def __init__(self, phase_counts: Callable[[], dict[str, int]]):
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "execplanner_http_requests",
            "HTTP requests answered, by endpoint, method and status code.",
            ["endpoint", "method", "code"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "execplanner_http_request_duration_seconds",
            "Time to answer an HTTP request, by endpoint.",
            ["endpoint"],
            buckets=(0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            registry=self.registry,
        )
        self.offersets = Counter(
            "execplanner_offersets",
            "Offersets answered, by result (YES or NO).",
            ["result"],
            registry=self.registry,
        )
        self.offers = Counter("execplanner_offers", "Offers made.", registry=self.registry)
        self.registry.register(_PhaseCollector(phase_counts))
