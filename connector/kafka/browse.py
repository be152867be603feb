"""Looking at topics without joining a group: the newest records of a topic, one record by its place,
and a record written again. For the operator console (Dead letters, Sync again).

Each call opens a short-lived client that assigns and seeks, so it never joins the connector's group
nor moves anyone's committed position; reads stop after :data:`READ_SECONDS` whatever they found.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from connector.kafka.clients import client_config
from connector.settings import KafkaSettings

__all__ = ["READ_SECONDS", "produce_again", "read_newest", "read_one"]

READ_SECONDS = 5.0


def _consumer(settings: KafkaSettings) -> KafkaConsumer:
    return KafkaConsumer(**client_config(settings), group_id=None, enable_auto_commit=False)


def read_newest(settings: KafkaSettings, topic: str, newest: int) -> tuple[list[Any], int]:
    """Up to ``newest`` of the newest records of each partition, and how many records the topic holds."""
    consumer = _consumer(settings)
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        if not partitions:
            return [], 0
        consumer.assign(partitions)
        ends = consumer.end_offsets(partitions)
        starts = consumer.beginning_offsets(partitions)
        wanted = {tp: ends[tp] for tp in partitions if ends[tp] > starts[tp]}
        for tp in partitions:
            if tp in wanted:
                consumer.seek(tp, max(starts[tp], ends[tp] - newest))
            else:
                consumer.pause(tp)
        records: list[Any] = []
        deadline = time.monotonic() + READ_SECONDS
        while time.monotonic() < deadline and any(consumer.position(tp) < end for tp, end in wanted.items()):
            for tp, batch in consumer.poll(timeout_ms=200).items():
                records.extend(r for r in batch if r.offset < wanted.get(tp, 0))
        return records, sum(ends[tp] - starts[tp] for tp in partitions)
    finally:
        consumer.close()


def read_one(settings: KafkaSettings, topic: str, partition: int, offset: int) -> Any | None:
    """The record at ``topic[partition]@offset``, or None when it is gone (retention) or unreadable."""
    consumer = _consumer(settings)
    try:
        tp = TopicPartition(topic, partition)
        consumer.assign([tp])
        if not consumer.beginning_offsets([tp])[tp] <= offset < consumer.end_offsets([tp])[tp]:
            return None
        consumer.seek(tp, offset)
        deadline = time.monotonic() + READ_SECONDS
        while time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=200, max_records=1).values():
                for record in batch:
                    return record if record.offset == offset else None
        return None
    finally:
        consumer.close()


def produce_again(
    settings: KafkaSettings,
    topic: str,
    record: Any,
    extra_headers: Sequence[tuple[str, bytes]] = (),
    *,
    partition: int | None = None,
) -> tuple[int, int]:
    """``record`` written again to ``topic`` (same key, value and headers, ``extra_headers`` in place of
    any of the same name), to ``partition`` when given, acknowledged by every in-sync replica. Its
    (partition, offset)."""
    producer = KafkaProducer(**client_config(settings), acks="all")
    try:
        replaced = {name for name, _ in extra_headers}
        headers = [(k, v) for k, v in record.headers or () if v is not None and k not in replaced]
        headers += list(extra_headers)
        sent = producer.send(topic, key=record.key, value=record.value, headers=headers, partition=partition)
        sent = sent.get(timeout=30)
        return int(sent.partition), int(sent.offset)
    finally:
        producer.close()
