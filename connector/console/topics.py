"""What the console reads from and writes to Kafka: the dead-letter topic (its newest records), one
record of the events topic by place (for "Sync again"), and producing such a record again.

Each call opens a short-lived client without a consumer group (assign and seek), so the console
never joins the connector's group nor moves anyone's committed position.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from connector.pipeline.dead_letter import CLASS_NAME, MESSAGE, STAGE, FailureContext, context_of
from connector.pipeline.kafka_io import client_config
from connector.settings import KafkaSettings

__all__ = ["Letter", "LetterCounts", "letter_of", "produce_again", "read_letters", "read_record"]

_READ_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class Letter:
    """One dead-lettered record as the console shows it (bytes decoded leniently, never executed)."""

    partition: int
    offset: int
    timestamp_ms: int
    key: str | None
    value: str
    headers: tuple[tuple[str, str], ...]
    stage: str
    reason: str
    message: str
    origin: FailureContext


@dataclass
class LetterCounts:
    total: int = 0
    by_reason: Counter[tuple[str, str]] = field(default_factory=Counter)
    by_hour: Counter[str] = field(default_factory=Counter)


def _consumer(settings: KafkaSettings) -> KafkaConsumer:
    return KafkaConsumer(**client_config(settings), group_id=None, enable_auto_commit=False)


def _text(raw: bytes | None) -> str:
    return "" if raw is None else raw.decode("utf-8", "replace")


def letter_of(record: Any) -> Letter:
    headers = tuple((k, _text(v)) for k, v in record.headers or ())
    found = dict(headers)
    return Letter(
        partition=record.partition,
        offset=record.offset,
        timestamp_ms=record.timestamp,
        key=None if record.key is None else _text(record.key),
        value=_text(record.value),
        headers=headers,
        stage=found.get(STAGE, "unknown"),
        reason=found.get(CLASS_NAME, "unknown").rsplit(".", 1)[-1],
        message=found.get(MESSAGE, ""),
        origin=context_of(record.headers, FailureContext(record.topic, record.partition, record.offset)),
    )


def read_letters(settings: KafkaSettings, topic: str, *, newest: int = 200) -> tuple[list[Letter], LetterCounts]:
    """The topic's newest ``newest`` records per partition (newest first), and counts over them."""
    consumer = _consumer(settings)
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        if not partitions:
            return [], LetterCounts()
        consumer.assign(partitions)
        ends = consumer.end_offsets(partitions)
        starts = consumer.beginning_offsets(partitions)
        wanted = {tp: ends[tp] for tp in partitions if ends[tp] > starts[tp]}
        for tp in wanted:
            consumer.seek(tp, max(starts[tp], ends[tp] - newest))
        letters = _read_until(consumer, wanted)
    finally:
        consumer.close()
    counts = LetterCounts(total=sum(ends[tp] - starts[tp] for tp in partitions))
    for letter in letters:
        counts.by_reason[(letter.stage, letter.reason)] += 1
        counts.by_hour[time.strftime("%Y-%m-%d %H:00", time.gmtime(letter.timestamp_ms / 1000))] += 1
    letters.sort(key=lambda letter: letter.timestamp_ms, reverse=True)
    return letters, counts


def _read_until(consumer: KafkaConsumer, ends: dict[TopicPartition, int]) -> list[Letter]:
    letters: list[Letter] = []
    deadline = time.monotonic() + _READ_SECONDS
    while time.monotonic() < deadline and any(consumer.position(tp) < end for tp, end in ends.items()):
        for batch in consumer.poll(timeout_ms=200).values():
            letters.extend(letter_of(r) for r in batch if r.offset < ends[TopicPartition(r.topic, r.partition)])
    return letters


def read_record(settings: KafkaSettings, topic: str, partition: int, offset: int) -> Any | None:
    """The record at ``topic[partition]@offset``, or None when it is gone (retention) or unreadable."""
    consumer = _consumer(settings)
    try:
        tp = TopicPartition(topic, partition)
        consumer.assign([tp])
        if not consumer.beginning_offsets([tp])[tp] <= offset < consumer.end_offsets([tp])[tp]:
            return None
        consumer.seek(tp, offset)
        deadline = time.monotonic() + _READ_SECONDS
        while time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=200, max_records=1).values():
                for record in batch:
                    return record if record.offset == offset else None
        return None
    finally:
        consumer.close()


def produce_again(settings: KafkaSettings, topic: str, record: Any) -> tuple[int, int]:
    """``record`` written again to ``topic`` (same key, value and headers): the connector consumes it
    like any event. Its (partition, offset)."""
    producer = KafkaProducer(**client_config(settings), acks="all")
    try:
        headers = [(k, v) for k, v in record.headers or () if v is not None]
        sent = producer.send(topic, key=record.key, value=record.value, headers=headers).get(timeout=30)
        return int(sent.partition), int(sent.offset)
    finally:
        producer.close()
