"""Which outcome lines reach info (Settings.log_event_outcomes) and what they carry."""

from __future__ import annotations

from typing import Any

import pytest

from connector.pipeline import tally as tally_module
from connector.pipeline.fate import Fate, Outcome
from connector.pipeline.metrics import Metrics
from connector.pipeline.records import EventResult, InFlight, Settled
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
    tally.finished(record, Settled(Fate.DONE, results), now=1.0)
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
