"""Single records of the events topic, read back by partition and offset: a dead letter's original
(replay, connector/dead_letters/originals.py). A plain consumer, assigned, in no group: it commits
nothing and joins nothing, and is made only when the first such letter is met."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol

from kafka import KafkaConsumer, TopicPartition

from connector.errors import RetryableError
from connector.kafka.clients import client_config
from connector.settings import KafkaSettings

__all__ = ["Original", "OriginalSource", "Place"]

_READ_SECONDS = 30.0  # how long one record may take to arrive once its offset is known to be held


class Place(Protocol):
    """Where a record is (a dead letter's failure context names its original's place)."""

    @property
    def topic(self) -> str: ...

    @property
    def partition(self) -> int: ...

    @property
    def offset(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Original:
    """A record read back from the events topic, with its headers as the topic holds them."""

    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes | None]]
    timestamp_ms: int | None


class OriginalSource:
    """Reads single records of the events topic by partition and offset."""

    def __init__(self, settings: KafkaSettings) -> None:
        self._settings = settings
        self._consumer: KafkaConsumer | None = None  # made on first use: most replays need none

    def read(self, origin: Place) -> Original | None:
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
        while consumer.position(tp) < end:
            if time.monotonic() > deadline:  # held, but not handed over: never reported as "gone"
                place = f"{origin.topic}[{origin.partition}]@{origin.offset}"
                raise RetryableError(f"{place} was not read within {_READ_SECONDS:.0f} s")
            for record in consumer.poll(timeout_ms=1000, max_records=1).get(tp, ()):
                if record.offset != origin.offset:
                    return None  # compacted away: the next record is the first one it holds
                return Original(record.key, record.value, list(record.headers or ()), record.timestamp)
        return None  # a transaction marker, or aborted: no record at that offset

    def _open(self) -> KafkaConsumer:
        if self._consumer is None:
            self._consumer = KafkaConsumer(**client_config(self._settings), enable_auto_commit=False)
        return self._consumer

    def close(self) -> None:
        if self._consumer is not None:
            self._consumer.close()
