"""The pause schedule, the operator's resume signal, the /status model and the bounded metric labels."""

from __future__ import annotations

import json
import urllib.request

import fakeredis
import pytest

from connector.errors import QuotaExceeded, RateLimited
from connector.pipeline.metrics import Metrics
from connector.pipeline.pause import ResumeSignal, probe_delay, request_resume
from connector.pipeline.status import StatusBoard


def test_probes_come_after_30_s_then_doubling_up_to_the_cap() -> None:
    assert [probe_delay(n, None, 300) for n in range(6)] == [30, 60, 120, 240, 300, 300]


def test_a_day_long_retry_after_is_capped_and_a_short_one_honoured() -> None:
    assert probe_delay(0, 86_400, 300) == 30
    assert probe_delay(3, 86_400, 300) == 240
    assert probe_delay(0, 5, 300) == 5
    assert probe_delay(0, 0.01, 300) == 1  # never a busy loop


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_resume_request_newer_than_the_pause_is_seen_once_a_second_at_most() -> None:
    client = fakeredis.FakeRedis(decode_responses=True)
    clock = Clock()
    signal = ResumeSignal(client, "t:", clock=clock)
    assert not signal.requested_since(paused_at=1000.0)  # nothing asked
    request_resume(client, "t:", now=999.0)  # older than the pause: not for this one
    clock.now = 1.5
    assert not signal.requested_since(paused_at=1000.0)
    request_resume(client, "t:", now=1001.0)
    clock.now = 1.6  # read less than a second ago: not read again yet
    assert not signal.requested_since(paused_at=1000.0)
    clock.now = 2.6
    assert signal.requested_since(paused_at=1000.0)


def test_an_unreachable_redis_never_lifts_a_pause() -> None:
    server = fakeredis.FakeServer()
    server.connected = False
    signal = ResumeSignal(fakeredis.FakeRedis(server=server), "t:")
    assert not signal.requested_since(paused_at=0.0)


def test_the_status_board_follows_a_pause_assignments_lag_and_errors() -> None:
    clock = Clock()
    clock.now = 1_764_000_000.0
    board = StatusBoard(worker_id="w1", rate_limit=lambda: {"requests_per_second": 2.0}, clock=clock)
    board.running()
    board.assigned([0, 1])
    board.lag(1, 42)
    board.lag(7, 5)  # not ours: ignored
    board.error(RateLimited("429", retry_after=1), "retried")
    board.error(RateLimited("429 again", retry_after=1), "retried")
    board.paused("QuotaExceeded", "daily quota", probe_in_seconds=30)
    board.error(QuotaExceeded("daily quota"), "paused")
    snapshot = board.snapshot()
    assert snapshot["state"] == "paused"
    assert snapshot["pause"]["reason"] == "QuotaExceeded"
    assert snapshot["pause"]["next_probe"] == "2025-11-24T16:00:30+00:00"
    assert snapshot["partitions"] == [{"partition": 0, "lag": None}, {"partition": 1, "lag": 42}]
    assert snapshot["lag"] == 42
    assert snapshot["errors"]["RateLimited"]["count"] == 2
    assert snapshot["errors"]["RateLimited"]["last_message"] == "429 again"
    assert snapshot["rate_limit"] == {"requests_per_second": 2.0}
    board.resumed()
    board.revoked([0])
    after = board.snapshot()
    assert (after["state"], after["pause"], after["partitions"]) == ("running", None, [{"partition": 1, "lag": 42}])


def test_status_is_served_as_json_next_to_the_metrics() -> None:
    metrics = Metrics()
    metrics.status.assigned([3])
    port = metrics.serve("127.0.0.1", 0)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=5) as answer:
            assert answer.headers["Content-Type"] == "application/json"
            body = json.loads(answer.read())
    finally:
        metrics.close()
    assert body["state"] == "starting"
    assert body["partitions"] == [{"partition": 3, "lag": None}]


@pytest.mark.parametrize(("sent", "label"), [("identify", "identify"), ("Identify!", "other"), ("x" * 500, "other")])
def test_the_type_label_comes_from_a_fixed_set(sent: str, label: str) -> None:
    metrics = Metrics()
    metrics.count_event(sent, "applied")
    assert metrics.registry.get_sample_value("connector_events_total", {"type": label, "outcome": "applied"}) == 1
    assert len(metrics._event_counters) == 1


def test_every_request_retry_is_counted_by_scope() -> None:
    metrics = Metrics()
    metrics.request_retried("/contacts/{id}", RateLimited("429", retry_after=1))
    metrics.count_retry("StateStoreUnavailable")
    sample = metrics.registry.get_sample_value
    assert sample("connector_retries_total", {"reason": "RateLimited", "scope": "request"}) == 1
    assert sample("connector_retries_total", {"reason": "StateStoreUnavailable", "scope": "record"}) == 1


def test_the_shared_quota_is_a_gauge_per_measure_read_at_each_scrape() -> None:
    quota: dict[str, float | None] = {"announced_per_second": None, "requests_per_second": 1.0}
    metrics = Metrics(quota=lambda: quota)
    sample = metrics.registry.get_sample_value
    assert sample("connector_resend_quota", {"measure": "requests_per_second"}) == 1.0
    assert sample("connector_resend_quota", {"measure": "announced_per_second"}) is None  # nothing announced
    quota.update(announced_per_second=5.0, requests_per_second=3.5, other_per_second=1.0)
    assert sample("connector_resend_quota", {"measure": "requests_per_second"}) == 3.5
    assert sample("connector_resend_quota", {"measure": "other_per_second"}) == 1.0
