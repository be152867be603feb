"""The wrapper's two poison hooks (connector/kafka/consumer.py and workarounds.py): a record with a bad
header key, and one kafka-python cannot unpack. The wrapper's own logic, so these run the real wrapper
above kafka-python's fake consumer (and the run loop above it, to see what is dead-lettered)."""

from __future__ import annotations

from typing import Any

from kafka import TopicPartition

from tests.unit.fakes.kafka import TP, FakeKafkaConsumer, Record, RecordingDeadLetters
from tests.unit.fakes.pipeline import ScriptedSync as ScriptedProcessor
from tests.unit.fakes.pipeline import make_runner, run_until

BAD_KEY = b"bad\xff".decode("utf-8", "surrogateescape")  # as the lenient reader hands it over


def test_a_header_key_that_is_not_utf8_dead_letters_its_record_only() -> None:
    records = [Record(0, b"a", b"one"), Record(1, b"a", b"two", headers=[(BAD_KEY, b"v")]), Record(2, b"a", b"three")]
    processor = ScriptedProcessor({})
    consumer, dlq = FakeKafkaConsumer(records), RecordingDeadLetters()
    runner = make_runner(consumer, processor, dlq)
    run_until(runner, consumer, lambda: len(processor.applied) == 2 and len(dlq.sent) == 1)
    assert processor.applied == [b"one", b"three"]  # the bad one never reached the processor
    letter = dlq.sent[0][1]
    headers = dict(letter.headers)
    assert headers["__connect.errors.stage"] == b"decode"
    assert b"not valid UTF-8" in headers["__connect.errors.exception.message"]
    assert headers["__resend_connector.header_key_bytes.0"] == b"bad\xff"
    assert letter.value == b"two"
    assert consumer.commits[-1] == {TP: 3}


class _InLine:
    topic_partition = TP


class _Fetcher:
    _next_partition_records = _InLine()


class UnpackingFails(FakeKafkaConsumer):
    """Raises once from a frame named as kafka-python's unpacking generator, like a corrupt batch."""

    def __init__(self, records: list[Record], bad_offset: int) -> None:
        super().__init__([r for r in records if r.offset < bad_offset])
        self._after = [r for r in records if r.offset > bad_offset]
        self._bad = bad_offset
        self._fetcher = _Fetcher()
        self.seeks: list[int] = []
        self.raised = False

    def poll(self, timeout_ms: int, max_records: int) -> dict[TopicPartition, list[Record]]:
        if not self.batches and not self.raised:
            self.raised = True

            def _unpack_records() -> None:
                raise ValueError("Record for partition events-0 at offset 1 failed crc check")

            _unpack_records()
        return super().poll(timeout_ms, max_records)

    def position(self, tp: TopicPartition) -> int:
        return self._bad

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.seeks.append(offset)
        self.batches.append({tp: self._after})


def test_a_record_kafka_python_cannot_unpack_is_skipped_past_and_dead_lettered_with_its_context() -> None:
    records = [Record(0, b"a", b"zero"), Record(2, b"a", b"two")]
    processor = ScriptedProcessor({})
    consumer, dlq = UnpackingFails(records, bad_offset=1), RecordingDeadLetters()
    runner = make_runner(consumer, processor, dlq)
    run_until(runner, consumer, lambda: len(processor.applied) == 2 and len(dlq.sent) == 1)
    assert consumer.seeks == [2]
    letter: Any = dlq.sent[0][1]
    headers = dict(letter.headers)
    assert (letter.key, letter.value) == (None, b"")
    assert headers["__connect.errors.offset"] == b"1"
    assert headers["__connect.errors.stage"] == b"decode"
    assert b"failed crc check" in headers["__connect.errors.exception.message"]
    assert b"ValueError" in headers["__connect.errors.exception.message"]
    assert headers["__resend_connector.record_not_read"] == b"true"  # it had bytes: not a null record
    assert "__resend_connector.null_key_and_value" not in headers
    assert consumer.commits[-1] == {TP: 3}
    assert runner._metrics.unreadable.labels(partition="0")._value.get() == 1
