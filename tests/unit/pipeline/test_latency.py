"""The processing-time histogram: observed one at a time or many at once, exposed as a Histogram is."""

from __future__ import annotations

import re

from prometheus_client import CollectorRegistry, generate_latest

from connector.pipeline.latency import LatencyHistogram


def _exposed(registry: CollectorRegistry) -> dict[str, float]:
    text = generate_latest(registry).decode()
    return {name: float(value) for name, value in re.findall(r"^(\S+) (\S+)$", text, re.MULTILINE)}


def test_observations_fall_in_the_first_bucket_whose_bound_they_do_not_exceed() -> None:
    registry = CollectorRegistry()
    latency = LatencyHistogram("t_seconds", "test", (0.01, 0.1, 1.0), registry)
    for seconds in (0.0, 0.01, 0.05, 0.1, 0.5, 2.0):
        latency.observe(seconds)
    exposed = _exposed(registry)
    assert exposed['t_seconds_bucket{le="0.01"}'] == 2  # 0.0 and 0.01 (le: bound included)
    assert exposed['t_seconds_bucket{le="0.1"}'] == 4
    assert exposed['t_seconds_bucket{le="1.0"}'] == 5
    assert exposed['t_seconds_bucket{le="+Inf"}'] == 6
    assert exposed["t_seconds_count"] == 6
    assert abs(exposed["t_seconds_sum"] - 2.66) < 1e-9


def test_many_equal_observations_at_once_count_as_many() -> None:
    registry = CollectorRegistry()
    latency = LatencyHistogram("t_seconds", "test", (0.005, 0.5), registry)
    latency.observe(0.0, 1000)
    latency.observe(0.2, 3)
    exposed = _exposed(registry)
    assert exposed['t_seconds_bucket{le="0.005"}'] == 1000
    assert exposed['t_seconds_bucket{le="0.5"}'] == 1003
    assert exposed["t_seconds_count"] == 1003 == latency.count()
    assert abs(exposed["t_seconds_sum"] - 0.6) < 1e-9
