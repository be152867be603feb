"""``connector_processing_seconds``: a Prometheus histogram that takes many equal observations at once.

prometheus_client's Histogram takes one observation per call, each under its own lock: at the Kafka
client's speed that was a twentieth of an event's cost. Records settled as they are consumed all
took no time (polled and settled in the same step), so the run loop adds them up and observes them
in one call. Exposed exactly as a Histogram is (``_bucket`` with ``le``, ``_sum``, ``_count``).
"""

from __future__ import annotations

import math
import threading
from bisect import bisect_left
from collections.abc import Iterable, Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import HistogramMetricFamily, Metric

__all__ = ["LatencyHistogram"]


class LatencyHistogram:
    def __init__(self, name: str, documentation: str, buckets: Iterable[float], registry: CollectorRegistry) -> None:
        self._name = name
        self._documentation = documentation
        self._bounds = (*sorted(float(b) for b in buckets), math.inf)
        # The ``le`` values as prometheus_client writes them ("0.005", "1.0", "+Inf").
        self._labels = ["+Inf" if bound == math.inf else repr(bound) for bound in self._bounds]
        self._counts = [0] * len(self._bounds)  # per bucket, not cumulative
        self._sum = 0.0
        self._lock = threading.Lock()  # observed on the run loop's thread, collected on the server's
        registry.register(self)

    def observe(self, seconds: float, count: int = 1) -> None:
        """``count`` observations of ``seconds`` each (a value on a bound falls in that bucket, ``le``)."""
        index = bisect_left(self._bounds, seconds)
        with self._lock:
            self._counts[index] += count
            self._sum += seconds * count

    def count(self) -> int:
        with self._lock:
            return sum(self._counts)

    def describe(self) -> list[Metric]:
        return [HistogramMetricFamily(self._name, self._documentation)]

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            counts, total = list(self._counts), self._sum
        cumulative, buckets = 0, []
        for label, count in zip(self._labels, counts, strict=True):
            cumulative += count
            buckets.append((label, float(cumulative)))
        yield HistogramMetricFamily(self._name, self._documentation, buckets=buckets, sum_value=total)
