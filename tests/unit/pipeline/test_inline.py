"""Records that need no I/O are settled on the consumer thread as they are polled, without giving up
order by identity, contiguous commits or the event counts (the run loop against test_runner's fakes)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from connector.dead_letters.sink import DeadLetterTopic
from connector.errors import QuotaExceeded, ResendUnavailable
from connector.events import Event
from connector.kafka.records import InFlight
from connector.pipeline.lifecycle import Lifecycle
from connector.pipeline.metrics import Metrics
from connector.pipeline.runner import Runner
from connector.settings import KafkaSettings
from connector.sync import SyncResult
from tests.unit.fakes.kafka import TP, FakeConsumer, Record, RecordingDeadLetters
from tests.unit.fakes.pipeline import NoTransforms, ScriptedSync, ValueDecoder, make_runner, run_until


class DecidingSync(ScriptedSync):
    """Values starting with ``t`` are decided without I/O (counted in ``decisions``); others run."""

    def __init__(self, script: dict[bytes, list[BaseException]]) -> None:
        super().__init__(script)
        self.decisions: list[bytes] = []

    def decider(self) -> Callable[[Event], SyncResult | None]:
        return self.decided

    def decided(self, event: Event) -> SyncResult | None:
        value = (event.message_id or "").encode()
        if not value.startswith(b"t"):
            return None
        self.decisions.append(value)
        return SyncResult("skipped", "nothing_to_write")


def skipped(runner: Any) -> float:
    return float(runner._metrics.events.labels(type="identify", outcome="skipped")._value.get())


def test_a_record_that_needs_nothing_is_settled_without_a_worker_and_committed() -> None:
    records = [Record(i, f"user-{i}".encode(), f"t{i}".encode()) for i in range(50)]
    sync, consumer = DecidingSync({}), FakeConsumer(records)
    runner = make_runner(consumer, sync, RecordingDeadLetters())
    run_until(runner, consumer, lambda: bool(consumer.commits) and consumer.commits[-1] == {TP: 50})
    assert sync.applied == []  # no record went through handle()
    assert len(sync.decisions) == 50
    assert skipped(runner) == 50


def test_a_record_waits_behind_an_earlier_record_of_its_identity_that_retries() -> None:
    # a1 fails twice; t1 shares its key, so it must not be settled before a1 (it runs after it, on a
    # worker); t2 is someone else's and is settled as consumed.
    records = [Record(0, b"a", b"a1"), Record(1, b"a", b"t1"), Record(2, b"b", b"t2")]
    sync = DecidingSync({b"a1": [ResendUnavailable("503"), ResendUnavailable("503")]})
    consumer = FakeConsumer(records)
    runner = make_runner(consumer, sync, RecordingDeadLetters())
    run_until(runner, consumer, lambda: len(sync.applied) == 2 and consumer.commits[-1:] == [{TP: 3}])
    assert sync.applied == [b"a1", b"t1"]  # t1 ran after a1, through handle()
    assert sync.decisions[0] == b"t2"  # decided at once, while a1 was still retrying


def test_commits_never_pass_an_unfinished_record_before_records_settled_as_consumed() -> None:
    records = [Record(0, b"a", b"slow"), Record(1, b"b", b"t1"), Record(2, b"c", b"t2")]
    sync = DecidingSync({b"slow": [QuotaExceeded("daily quota", name="daily_quota_exceeded")]})
    consumer = FakeConsumer(records)
    runner = make_runner(consumer, sync, RecordingDeadLetters())
    run_until(runner, consumer, lambda: len(sync.decisions) == 2 and consumer.polls > 5)
    assert consumer.commits
    assert all(commit[TP] == 0 for commit in consumer.commits)
    assert skipped(runner) == 2


def test_an_alias_is_never_settled_as_consumed() -> None:
    # An alias joins two ids for the records after it (ordering.py): it always goes through the
    # scheduler, even when its decision needs nothing.
    class AliasDecoder(ValueDecoder):
        def decode(self, value: bytes) -> dict[str, Any]:
            return {"type": "alias", "messageId": value.decode(), "userId": "new", "previousId": "old"}

    settings = KafkaSettings(max_in_flight_contacts=2)
    sync, consumer, letters = DecidingSync({}), FakeConsumer([Record(0, None, b"t-alias")]), RecordingDeadLetters()
    lifecycle = Lifecycle(AliasDecoder(), NoTransforms(), sync, DeadLetterTopic(letters, "dlq", "test"))
    runner = Runner(settings, consumer, lifecycle, Metrics())
    run_until(runner, consumer, lambda: consumer.commits[-1:] == [{TP: 1}])
    assert sync.applied == [b"t-alias"]
    assert sync.decisions == []


def test_with_transforms_configured_every_record_runs_on_a_worker() -> None:
    class SomeTransforms(NoTransforms):
        empty = False

    sync, letters = DecidingSync({}), RecordingDeadLetters()
    lifecycle = Lifecycle(ValueDecoder(), SomeTransforms(), sync, DeadLetterTopic(letters, "dlq", "test"))
    flight = InFlight("events", 0, 0, b"k", b"t1", [], 1, partition_key=TP)
    lifecycle.peek(flight)
    assert lifecycle.decider() is None
    assert flight.decoded is not None
    assert sync.decisions == []
