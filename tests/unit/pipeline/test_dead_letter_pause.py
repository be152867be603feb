"""A dead-letter topic that takes nothing pauses consumption like a key problem (#24 point 4)."""

from __future__ import annotations

import threading
from typing import Any

import structlog

from connector.errors import DeadLetterTopicUnwritable, InvalidEventError
from connector.pipeline.metrics import Metrics
from connector.pipeline.runner import Runner
from connector.settings import KafkaSettings
from tests.unit.fakes.kafka import TP, FakeConsumer, Record
from tests.unit.fakes.pipeline import ScriptedSync, lifecycle, run_until


class RefusingDeadLetters:
    """Refuses ``refusals`` writes as a deleted topic would, then accepts."""

    def __init__(self, refusals: int, on_try: Any = lambda tries: None) -> None:
        self.refusals = refusals
        self.on_try = on_try
        self.sent: list[tuple[str, Any]] = []
        self.tries = 0
        self.lock = threading.Lock()

    def send(self, topic: str, letter: Any) -> Any:
        with self.lock:
            self.tries += 1
            self.on_try(self.tries)
            if self.tries <= self.refusals:
                raise DeadLetterTopicUnwritable(f"the dead-letter topic {topic} does not exist", topic=topic)
            self.sent.append((topic, letter))
        return letter

    def flush(self) -> None:
        pass


def test_an_unwritable_dead_letter_topic_pauses_says_why_once_and_resumes_by_itself() -> None:
    records = [Record(0, b"a", b"bad"), Record(1, b"b", b"good")]
    sync = ScriptedSync({b"bad": [InvalidEventError("not an email")] * 5})
    metrics = Metrics()
    seen: dict[str, Any] = {}

    def on_try(tries: int) -> None:
        if tries == 2:  # the first probe: what the pause shows, what was committed meanwhile
            seen.update(paused=metrics.paused._value.get(), status=metrics.status.snapshot())
            seen["commits"] = [commit[TP] for commit in list(consumer.commits)]

    consumer, dlq = FakeConsumer(records), RefusingDeadLetters(refusals=3, on_try=on_try)
    settings = KafkaSettings(max_in_flight_contacts=2)
    runner = Runner(settings, consumer, lifecycle(sync, dlq, settings), metrics,  # type: ignore[arg-type]
                    pause_probe_max_seconds=1)  # fmt: skip

    def done() -> bool:
        return bool(dlq.sent) and consumer.commits[-1:] == [{TP: 2}]

    with structlog.testing.capture_logs() as logged:
        run_until(runner, consumer, done)
    assert seen["paused"] == 1
    assert seen["status"]["state"] == "paused"
    assert seen["status"]["pause"]["reason"] == "DeadLetterTopicUnwritable"
    assert "does not exist" in seen["status"]["pause"]["detail"]
    assert all(offset == 0 for offset in seen["commits"])  # nothing past the record
    # The good record went through during a probe; only the written dead letter ended the pause.
    assert sync.applied == [b"good"]
    assert dlq.tries == 4
    errors = [entry for entry in logged if entry["log_level"] == "error"]
    assert [entry["event"] for entry in errors] == ["consumer.paused"]  # one line, not one per attempt
    assert metrics.paused._value.get() == 0
    assert metrics.pauses.labels(reason="DeadLetterTopicUnwritable")._value.get() == 1
