"""The Prometheus metrics of one app: sightings ingested, the review queue's length, request latency."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    """Prometheus metrics of one app (its own registry, so several apps in one process do not clash)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.ingested = Counter(
            "streetwatch_sightings_ingested", "sightings accepted", ["class_name"], registry=self.registry
        )
        self.queue = Gauge("streetwatch_review_queue_length", "sightings waiting for review", registry=self.registry)
        self.latency = Histogram("streetwatch_request_seconds", "request latency", ["path"], registry=self.registry)
