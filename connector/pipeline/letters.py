"""Where ``run`` puts the records it cannot apply: the dead-letter topic, acknowledged."""

from __future__ import annotations

from typing import Protocol

from connector.logs import get_logger
from connector.pipeline.dead_letter import DeadLetter, FailureContext, dead_letter_for, stage_of
from connector.pipeline.records import InFlight

__all__ = ["DeadLetterTopic"]

log = get_logger(__name__)


class _Producer(Protocol):
    def send(self, topic: str, letter: DeadLetter) -> DeadLetter: ...


class _Counter(Protocol):
    def labels(self, **labels: str) -> _Incrementable: ...


class _Incrementable(Protocol):
    def inc(self) -> None: ...


class DeadLetterTopic:
    def __init__(self, producer: _Producer, topic: str, connector_name: str, counter: _Counter | None = None) -> None:
        self._producer = producer
        self._topic = topic
        self._connector_name = connector_name
        self._counter = counter

    def dead_letter(self, record: InFlight, error: BaseException) -> None:
        letter = dead_letter_for(
            key=record.key,
            value=record.value,
            headers=record.headers,
            timestamp_ms=record.timestamp_ms,
            error=error,
            context=FailureContext(record.topic, record.partition, record.offset),
            connector_name=self._connector_name,
        )
        written = self._producer.send(self._topic, letter)  # RetryableError when not acknowledged
        stage = stage_of(error)
        if self._counter is not None:
            self._counter.labels(stage=stage).inc()
        log.warning(
            "record.dead_lettered",
            partition=record.partition,
            offset=record.offset,
            stage=stage,
            error=type(error).__name__,
            detail=str(error)[:500],
            shortened=written is not letter,  # too large for the topic: a smaller copy (dead_letter.py)
        )
