"""Which outcome lines reach info (Settings.log_event_outcomes) and what they carry."""

from __future__ import annotations

from typing import Any

import pytest

from connector.kafka.records import InFlight
from connector.pipeline import tally as tally_module
from connector.pipeline.fate import Fate, Outcome
from connector.pipeline.metrics import Metrics
from connector.pipeline.records import AttemptResult, EventResult
from connector.pipeline.tally import Tally
from connector.settings import load_settings


class _Recorder:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str, dict[str, Any]]] = []

    def bind(self) -> _Recorder:
        return self

    def info(self, event: str, **fields: Any) -> None:
        self.lines.append(("info", event, fields))

    def debug(self, event: str, **fields: Any) -> None:
        self.lines.append(("debug", event, fields))


def _levels(monkeypatch: pytest.MonkeyPatch, setting: str) -> list[tuple[str, str, int]]:
    recorder = _Recorder()
    monkeypatch.setattr(tally_module, "log", recorder)
    tally = Tally(Metrics(), log_outcomes=setting)
    record = InFlight("events", 2, 7, b"k", b"{}", [], None)
    results = (
        EventResult("identify", Outcome.APPLIED, calls=1, email="ada@example.com", user_id="u1"),
        EventResult("track", Outcome.SKIPPED, "nothing_to_write", calls=0),
    )
    tally.finished(record, AttemptResult(Fate.DONE, results), now=1.0)
    return [(level, event, fields["calls"]) for level, event, fields in recorder.lines]


def test_calls_puts_only_events_that_cost_a_call_at_info(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _levels(monkeypatch, "calls") == [("info", "event.applied", 1), ("debug", "event.skipped", 0)]


def test_all_and_none(monkeypatch: pytest.MonkeyPatch) -> None:
    assert [level for level, _, _ in _levels(monkeypatch, "all")] == ["info", "info"]
    assert [level for level, _, _ in _levels(monkeypatch, "none")] == ["debug", "debug"]


@pytest.mark.parametrize(("given", "read"), [(True, "all"), (False, "none"), ("true", "all"), ("calls", "calls")])
def test_the_setting_takes_the_old_booleans(given: object, read: str) -> None:
    assert load_settings(log_event_outcomes=given, resend={"base_url": "http://127.0.0.1:1"}).log_event_outcomes == read


def test_the_default_is_calls() -> None:
    assert load_settings(resend={"base_url": "http://127.0.0.1:1"}).log_event_outcomes == "calls"


class _InfoOnly(_Recorder):
    def is_enabled_for(self, level: int) -> bool:
        return level >= 20  # logging.INFO


def test_a_line_the_level_drops_is_not_even_made(monkeypatch: pytest.MonkeyPatch) -> None:
    recorder = _InfoOnly()
    monkeypatch.setattr(tally_module, "log", recorder)
    tally = Tally(Metrics(), log_outcomes="calls")
    results = (EventResult("identify", Outcome.APPLIED, calls=1), EventResult("track", Outcome.SKIPPED, calls=0))
    tally.finished(InFlight("events", 0, 1, None, b"{}", [], None), AttemptResult(Fate.DONE, results), now=1.0)
    assert [(level, fields["calls"]) for level, _, fields in recorder.lines] == [("info", 1)]


def test_records_that_took_no_time_reach_the_histogram_at_flush() -> None:
    metrics = Metrics()
    tally = Tally(metrics)
    done = AttemptResult(Fate.DONE, (EventResult("track", Outcome.SKIPPED, "nothing_to_write"),))
    for offset in range(3):  # settled as consumed: polled and finished at the same instant
        tally.finished(InFlight("events", 0, offset, None, b"{}", [], None, polled_at=5.0), done, now=5.0)
    tally.finished(InFlight("events", 0, 3, None, b"{}", [], None, polled_at=4.0), done, now=5.0)
    assert metrics.latency.count() == 1  # the one that waited, observed at once
    tally.flush()
    assert metrics.latency.count() == 4
    assert metrics.events.labels(type="track", outcome="skipped")._value.get() == 4
