"""A dead letter that carries only context, and its original read back from the events topic (#24 point 5).

A letter the dead-letter topic refused as it was is written smaller (dead_letter_fit.py): cut to
64 KiB, or the context headers alone. Replaying such a letter as it is can only fail again (half a
JSON document, or no value at all), so ``replay`` reads the original record from the topic,
partition and offset its context headers name, when that topic still holds it, and replays the
original bytes with the letter's context (attempts, first failure) carried on. When the topic no
longer holds it (retention, compaction, a topic deleted), the letter is replayed as it is and the
replay report says so.

The reader is a plain consumer, assigned, in no group: it commits nothing and joins nothing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass

from kafka import KafkaConsumer, TopicPartition

from connector.pipeline.dead_letter import (
    ATTEMPTS,
    CONNECT_PREFIX,
    FIRST_FAILURE,
    TRUNCATED,
    UNREAD_RECORD,
    FailureContext,
    context_of,
    original_headers,
)
from connector.pipeline.kafka_io import client_config
from connector.settings import KafkaSettings

__all__ = ["Original", "OriginalSource", "carried_context", "origin_if_only_context"]

_READ_SECONDS = 30.0  # how long one record may take to arrive once its offset is known to be held

Headers = Sequence[tuple[str, bytes | None]]


@dataclass(frozen=True, slots=True)
class Original:
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes | None]]
    timestamp_ms: int | None


def origin_if_only_context(headers: Headers) -> FailureContext | None:
    """Where the original of a letter is, when the letter lacks some of its bytes (a truncation record
    naming at least one cut or left-out part); None for a whole letter. A record kafka-python could
    not read at all has no readable original either: None."""
    found = {k: v or b"" for k, v in headers if k in (TRUNCATED, UNREAD_RECORD)}
    if UNREAD_RECORD in found or not found.get(TRUNCATED):
        return None
    try:
        cut = json.loads(found[TRUNCATED])
    except ValueError:
        cut = {"unknown": 1}  # unreadable: assume the worst, the original is worth reading
    if not cut:
        return None  # a copy written whole (its timestamp moved): nothing is missing
    origin = context_of(headers, FailureContext("", -1, -1))
    return origin if origin.topic and origin.partition >= 0 and origin.offset >= 0 else None


def carried_context(headers: Headers) -> list[tuple[str, bytes | None]]:
    """The letter's failure context to carry onto its original (attempts, first failure, place);
    what described the smaller copy (the truncation record, a moved timestamp) does not apply."""
    return [(k, v) for k, v in headers if k.startswith(CONNECT_PREFIX) or k in (ATTEMPTS, FIRST_FAILURE)]


class OriginalSource:
    """Reads single records of the events topic by partition and offset."""

    def __init__(self, settings: KafkaSettings) -> None:
        self._settings = settings
        self._consumer: KafkaConsumer | None = None  # made on first use: most replays need none

    def read(self, origin: FailureContext) -> Original | None:
        """The record at ``origin``, or None when its topic no longer holds it."""
        consumer = self._open()
        if origin.topic not in consumer.topics():  # asking for a missing topic's partitions may create it
            return None
        if origin.partition not in (consumer.partitions_for_topic(origin.topic) or ()):
            return None
        tp = TopicPartition(origin.topic, origin.partition)
        consumer.assign([tp])
        first, end = consumer.beginning_offsets([tp])[tp], consumer.end_offsets([tp])[tp]
        if not first <= origin.offset < end:
            return None  # removed by retention (or never there)
        consumer.seek(tp, origin.offset)
        deadline = time.monotonic() + _READ_SECONDS
        while time.monotonic() < deadline and consumer.position(tp) < end:
            for record in consumer.poll(timeout_ms=1000, max_records=1).get(tp, ()):
                if record.offset != origin.offset:
                    return None  # compacted away: the next record is the first one it holds
                return Original(record.key, record.value, original_headers(record.headers), record.timestamp)
        return None

    def _open(self) -> KafkaConsumer:
        if self._consumer is None:
            self._consumer = KafkaConsumer(**client_config(self._settings), enable_auto_commit=False)
        return self._consumer

    def close(self) -> None:
        if self._consumer is not None:
            self._consumer.close()
