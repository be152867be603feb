"""The receiver's own Prometheus metrics (its own registry, served on its own port)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

__all__ = ["WebhookMetrics"]

# Resend's event types, so an unknown type cannot grow the label set without bound.
_KNOWN_PREFIXES = ("email.", "contact.", "domain.")


class WebhookMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.received = Counter(
            "webhooks_received",
            "Webhook deliveries by Resend event type and outcome "
            "(written, duplicate, skipped, refused, invalid, busy, failed)",
            ["type", "outcome"],
            registry=self.registry,
        )
        self.write_seconds = Histogram(
            "webhooks_write_seconds",
            "Kafka write (acks=all) per delivery",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )

    def count(self, kind: str, outcome: str) -> None:
        label = kind if kind.startswith(_KNOWN_PREFIXES) and len(kind) <= 40 else "other"
        self.received.labels(type=label, outcome=outcome).inc()
