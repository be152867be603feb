"""The run loop over the fake consumer wrapper (tests/unit/fakes/kafka.py) and a scripted sync behind the real
lifecycle (no servers). The wrapper's own logic is tested in tests/unit/kafka/test_consumer.py."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from connector.dead_letters.sink import DeadLetterTopic
from connector.errors import InvalidEventError, QuotaExceeded, ResendUnavailable
from connector.events import Event
from connector.pipeline import runner as runner_module
from connector.pipeline.fate import MAX_INTERNAL_ATTEMPTS
from connector.pipeline.lifecycle import Lifecycle
from connector.pipeline.metrics import Metrics
from connector.pipeline.runner import Runner
from connector.settings import KafkaSettings
from connector.sync import ReadAhead, SyncResult
from tests.unit.fakes.kafka import TP, FakeConsumer, Record, RecordingDeadLetters
from tests.unit.fakes.pipeline import NoTransforms, ScriptedSync, ValueDecoder, make_runner, run_until


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner_module, "backoff_seconds", lambda attempt, retry_after: 0.01)


def test_transient_failures_retry_in_order_and_are_never_dead_lettered() -> None:
    records = [Record(0, b"a", b"a1"), Record(1, b"a", b"a2"), Record(2, b"b", b"b1")]
    processor = ScriptedSync({b"a1": [ResendUnavailable("503"), ResendUnavailable("503")]})
    consumer, dlq = FakeConsumer(records), RecordingDeadLetters()
    runner = make_runner(consumer, processor, dlq)
    run_until(runner, consumer, lambda: len(processor.applied) == 3)
    assert processor.applied.index(b"a1") < processor.applied.index(b"a2")  # a's order held
    assert dlq.sent == []
    assert TP in consumer.pause_calls  # the partition paused while a1 retried
    assert consumer.commits[-1] == {TP: 3}
    assert consumer.closed


def test_permanent_failure_is_dead_lettered_then_committed() -> None:
    records = [Record(0, b"a", b"bad"), Record(1, b"a", b"good")]
    processor = ScriptedSync({b"bad": [InvalidEventError("not an email")]})
    consumer, dlq = FakeConsumer(records), RecordingDeadLetters()
    runner = make_runner(consumer, processor, dlq)
    run_until(runner, consumer, lambda: processor.applied == [b"good"] and len(dlq.sent) == 1)
    topic, letter = dlq.sent[0]
    assert topic == "cdp-events-dlq"
    assert letter.value == b"bad"
    assert dict(letter.headers)["__connect.errors.stage"] == b"plan"
    assert consumer.commits[-1] == {TP: 2}


def test_commit_never_passes_an_unfinished_record() -> None:
    records = [Record(0, b"a", b"slow"), Record(1, b"b", b"fast")]
    processor = ScriptedSync({b"slow": [QuotaExceeded("daily quota", name="daily_quota_exceeded")]})
    consumer, dlq = FakeConsumer(records), RecordingDeadLetters()
    runner = make_runner(consumer, processor, dlq)
    # A quota error stops consumption (probing every 30 s): stop as soon as the other record is done.
    run_until(runner, consumer, lambda: processor.applied == [b"fast"])
    assert all(commit[TP] == 0 for commit in consumer.commits)
    assert runner._metrics.paused._value.get() == 1
    assert dlq.sent == []


class CountingSync(ScriptedSync):
    """Applies everything, slowly, and remembers how many records ran at the same moment."""

    def __init__(self, on_value: Callable[[bytes], None] = lambda value: None) -> None:
        super().__init__({})
        self.running = self.most_at_once = 0
        self.on_value = on_value

    def handle(self, event: Event, ahead: ReadAhead | None = None) -> SyncResult:
        value = (event.message_id or "").encode()
        with self.lock:
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
        threading.Event().wait(0.002)
        self.on_value(value)
        with self.lock:
            self.running -= 1
            self.applied.append(value)
        return SyncResult("skipped", "nothing_to_write")


def keyed_records(count: int) -> list[Record]:
    """``count`` records of as many contacts: value ``v<i>`` at offset i, keyed ``user-<i>``."""
    return [Record(i, f"user-{i}".encode(), f"v{i}".encode()) for i in range(count)]


def one_thread(count: int, on_value: Callable[[Runner, bytes], None]) -> tuple[Runner, FakeConsumer, CountingSync]:
    """A runner with one worker thread over :func:`keyed_records`, calling ``on_value(runner, value)``
    while each record is processed (to stop or rebalance it at a chosen record)."""
    consumer = FakeConsumer(keyed_records(count))
    runners: list[Runner] = []
    processor = CountingSync(lambda value: on_value(runners[0], value))
    runners.append(make_runner(consumer, processor, RecordingDeadLetters(), KafkaSettings(max_in_flight_contacts=1)))
    return runners[0], consumer, processor


def test_many_contacts_never_run_more_than_the_bound_at_once_and_all_finish() -> None:
    processor, consumer, dlq = CountingSync(), FakeConsumer(keyed_records(300)), RecordingDeadLetters()
    runner = make_runner(consumer, processor, dlq)
    run_until(runner, consumer, lambda: len(processor.applied) == 300)
    assert 1 < processor.most_at_once <= 4  # max_in_flight_contacts
    assert consumer.commits[-1] == {TP: 300}
    assert runner._metrics.events.labels(type="identify", outcome="skipped")._value.get() == 300


def test_with_two_polls_worth_queued_the_loop_polls_every_50_ms_not_per_finished_record() -> None:
    # Each poll() costs kafka-python a round trip to its network thread; events that wait on Resend
    # finish one by one, and a poll after each would cost more than the events themselves.
    processor, consumer, dlq = CountingSync(), FakeConsumer(keyed_records(600)), RecordingDeadLetters()
    runner = make_runner(consumer, processor, dlq, KafkaSettings(max_in_flight_contacts=4, max_poll_records=50))
    run_until(runner, consumer, lambda: len(processor.applied) == 600)
    # 500 of the records finish with 100 or more queued (a few polls); the last 100 may poll freely.
    assert consumer.polls < 150
    assert consumer.commits[-1] == {TP: 600}


class ReadingAhead(CountingSync):
    """Records each batch a thread reads ahead, or fails to read ahead."""

    def __init__(self, fail: bool) -> None:
        super().__init__()
        self.fail = fail
        self.batches: list[list[bytes]] = []

    def read_ahead(self, events: Any) -> ReadAhead:
        if self.fail:
            raise RuntimeError("read ahead broke")
        self.batches.append([(e.message_id or "").encode() for e in events])
        return ReadAhead({})


@pytest.mark.parametrize("fail", [False, True])
def test_a_thread_reads_its_batch_ahead_and_a_failed_read_ahead_changes_nothing(fail: bool) -> None:
    processor, consumer, dlq = ReadingAhead(fail), FakeConsumer(keyed_records(100)), RecordingDeadLetters()
    runner = make_runner(consumer, processor, dlq)
    run_until(runner, consumer, lambda: len(processor.applied) == 100)
    assert sorted(processor.applied) == sorted(f"v{i}".encode() for i in range(100))
    assert consumer.commits[-1] == {TP: 100}
    if not fail:
        assert processor.batches  # 4 threads shared 100 contacts: batches of 25
        assert all(len(batch) > 1 for batch in processor.batches)
        assert sorted(v for batch in processor.batches for v in batch) == sorted(processor.applied)


def test_stopping_abandons_the_rest_of_a_threads_batch_uncommitted() -> None:
    def stop_at_five(runner: Runner, value: bytes) -> None:
        if value == b"v5":
            runner.stop()

    runner, consumer, processor = one_thread(40, stop_at_five)
    thread = threading.Thread(target=runner.run)
    thread.start()
    thread.join(timeout=20)
    assert not thread.is_alive()
    # One thread took a batch of records in offset order; after the stop it ran no more of them.
    assert processor.applied == [f"v{i}".encode() for i in range(6)]
    assert consumer.commits[-1] == {TP: 6}
    assert consumer.closed


def test_a_revoked_partition_s_records_still_in_a_threads_batch_are_not_run() -> None:
    def revoke_at_five(runner: Runner, value: bytes) -> None:
        if value == b"v5":
            runner._consumer.revoke({TP})  # what kafka-python's network thread does in a rebalance

    runner, consumer, processor = one_thread(40, revoke_at_five)
    run_until(runner, consumer, lambda: runner.stats() == {"buffered": 0, "running": 0})
    assert processor.applied == [f"v{i}".encode() for i in range(6)]  # v6.. belonged to the revoked partition
    assert consumer.commits[-1] == {TP: 5}  # the revocation committed what had finished (v5 had not)
    assert all(commit[TP] <= 5 for commit in consumer.commits)


def test_records_taken_before_a_revoke_and_reassign_never_pass_for_the_new_assignment() -> None:
    bounced: list[bool] = []

    def bounce_at_zero(runner: Runner, value: bytes) -> None:
        if value == b"v0" and not bounced:
            bounced.append(True)
            runner._consumer.revoke({TP})  # the partition leaves and comes back while v0..v5 are taken
            runner._consumer.assign({TP})

    runner, consumer, processor = one_thread(6, bounce_at_zero)
    run_until(runner, consumer, lambda: len(processor.applied) >= 7 and runner.stats()["running"] == 0)
    # v0 ran under the old assignment and again after the seek back; v1..v5 only under the new one.
    assert sorted(processor.applied) == sorted([b"v0", *(f"v{i}".encode() for i in range(6))])
    assert consumer.commits[-1] == {TP: 6}


def test_a_partition_assigned_back_after_its_commits_failed_is_committed_with_nothing_left_to_read() -> None:
    # A member that lost its group membership (a broker restart) cannot commit, not even as its
    # partitions are revoked; assigned them back, it seeks past what it finished. With no record
    # left to read, the commit point must still be committed, or the group's lag never reaches 0.
    consumer = FakeConsumer(keyed_records(6))
    consumer.refuse_commits = True
    processor = CountingSync()
    runner = make_runner(consumer, processor, RecordingDeadLetters())
    bounced: list[bool] = []

    def on_idle() -> None:
        # Every record settled (applied is not enough: a result may not have been collected yet,
        # and an unsettled record is rightly read again after the partition comes back).
        if runner.stats() == {"buffered": 0, "running": 0} and len(processor.applied) == 6 and not bounced:
            bounced.append(True)
            consumer.revoke({TP})
            consumer.assign({TP})
            consumer.refuse_commits = False
        elif bounced and consumer.commits:
            runner.stop()

    consumer.on_idle = on_idle
    thread = threading.Thread(target=runner.run)
    thread.start()
    thread.join(timeout=10)
    runner.stop()
    thread.join(timeout=10)
    assert bounced
    assert consumer.commits == [{TP: 6}]
    assert sorted(processor.applied) == [f"v{i}".encode() for i in range(6)]  # nothing read twice


def test_a_pause_inside_a_threads_batch_defers_the_rest_without_calling_and_without_spinning() -> None:
    attempts: list[bytes] = []

    class QuotaGone(CountingSync):
        def handle(self, event: Event, ahead: ReadAhead | None = None) -> SyncResult:
            attempts.append((event.message_id or "").encode())
            raise QuotaExceeded("daily quota", name="daily_quota_exceeded")

    consumer, dlq = FakeConsumer(keyed_records(10)), RecordingDeadLetters()
    runner = make_runner(consumer, QuotaGone(), dlq, KafkaSettings(max_in_flight_contacts=1))
    thread = threading.Thread(target=runner.run)
    thread.start()
    deadline = time.monotonic() + 5
    while runner._metrics.paused._value.get() != 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.1)
    polls_before = consumer.polls
    time.sleep(0.3)
    waits = consumer.timeouts[polls_before : consumer.polls]
    runner.stop()
    thread.join(timeout=20)
    assert attempts == [b"v0"]  # one refused call; the other nine waited for the probe
    assert waits
    assert min(waits) >= 100  # the loop waits in poll() for the pause to end, never spins
    assert all(commit[TP] == 0 for commit in consumer.commits)
    assert runner.stats() == {"buffered": 10, "running": 0}


def test_a_pause_whose_waiting_records_went_with_a_rebalance_probes_with_the_next_record_fetched() -> None:
    # Paused on a quota, the partition is revoked and assigned back (its waiting records dropped,
    # fetching still stopped): at probe time the next record fetched probes, instead of nothing ever.
    refused = QuotaExceeded("daily quota", name="daily_quota_exceeded", retry_after=0.01)  # probe after 1 s
    processor = ScriptedSync({b"v0": [refused]})
    consumer, dlq = FakeConsumer(keyed_records(3)), RecordingDeadLetters()
    runner = make_runner(consumer, processor, dlq, KafkaSettings(max_in_flight_contacts=1))
    bounced: list[bool] = []

    def on_idle() -> None:
        if runner._pause.until and not bounced:
            bounced.append(True)
            consumer.revoke({TP})
            consumer.assign({TP})
        if len(processor.applied) == 3:
            runner.stop()

    consumer.on_idle = on_idle
    thread = threading.Thread(target=runner.run)
    thread.start()
    thread.join(timeout=10)
    stuck = thread.is_alive()
    runner.stop()
    thread.join(timeout=10)
    assert bounced
    assert not stuck, "nothing probed after the rebalance"
    assert sorted(processor.applied) == [b"v0", b"v1", b"v2"]
    assert runner._metrics.paused._value.get() == 0  # the probe went through
    assert consumer.commits[-1] == {TP: 3}


def test_a_bug_is_retried_a_bounded_number_of_times_then_dead_lettered_as_internal() -> None:
    # Issue #12 point 4: an unexpected error in the connector's own code never retries for ever.
    records = [Record(0, b"a", b"buggy"), Record(1, b"a", b"after")]
    bugs = [TypeError("All headers items must be (str, bytes) tuples") for _ in range(10)]
    processor = ScriptedSync({b"buggy": list(bugs)})
    consumer, dlq, metrics, settings = FakeConsumer(records), RecordingDeadLetters(), Metrics(), KafkaSettings()
    letters = DeadLetterTopic(dlq, settings.dead_letter_topic, "test", metrics.dead_letters)
    counted = Lifecycle(ValueDecoder(), NoTransforms(), processor, letters, metrics.internal_errors)
    runner = Runner(settings, consumer, counted, metrics)
    run_until(runner, consumer, lambda: processor.applied == [b"after"])
    assert len(processor.script[b"buggy"]) == 10 - MAX_INTERNAL_ATTEMPTS  # tried exactly that often
    [(_, letter)] = dlq.sent
    headers = dict(letter.headers)
    assert headers["__connect.errors.stage"] == b"internal"
    assert b"Traceback" in headers["__connect.errors.exception.stacktrace"]
    assert b"TypeError" in headers["__connect.errors.exception.class.name"]
    assert metrics.internal_errors.labels(error="TypeError")._value.get() == MAX_INTERNAL_ATTEMPTS
    assert metrics.dead_letters.labels(stage="internal")._value.get() == 1
    assert consumer.commits[-1] == {TP: 2}


def test_a_record_is_decoded_once_when_consumed_and_again_only_when_retried() -> None:
    decoded: list[bytes] = []

    class Counting(ValueDecoder):
        def decode(self, value: bytes) -> dict[str, Any]:
            decoded.append(value)
            return super().decode(value)

    settings = KafkaSettings(max_in_flight_contacts=2)
    processor = ScriptedSync({b"flaky": [ResendUnavailable("503")]})
    consumer, dlq = FakeConsumer([Record(0, b"a", b"flaky"), Record(1, b"b", b"fine")]), RecordingDeadLetters()
    letters = DeadLetterTopic(dlq, settings.dead_letter_topic, "test")
    runner = Runner(
        settings,
        consumer,
        Lifecycle(Counting(), NoTransforms(), processor, letters),
        Metrics(),
    )
    run_until(runner, consumer, lambda: len(processor.applied) == 2)
    assert sorted(decoded) == [b"fine", b"flaky", b"flaky"]


def test_a_dead_letter_write_that_breaks_keeps_the_record_and_the_loop_alive() -> None:
    class BrokenThenFine(RecordingDeadLetters):
        def __init__(self) -> None:
            super().__init__()
            self.failures = 2

        def send(self, topic: str, letter: Any) -> None:
            if self.failures:
                self.failures -= 1
                raise TypeError("All headers items must be (str, bytes) tuples")
            super().send(topic, letter)

    records = [Record(0, b"a", b"bad"), Record(1, b"b", b"good")]
    processor = ScriptedSync({b"bad": [InvalidEventError("not an email")] * 3})
    consumer, dlq = FakeConsumer(records), BrokenThenFine()
    runner = make_runner(consumer, processor, dlq)
    run_until(runner, consumer, lambda: len(dlq.sent) == 1 and processor.applied == [b"good"])
    assert consumer.commits[-1] == {TP: 2}  # committed only once the letter was written
