"""The seams through which ``run`` and ``replay`` read Kafka, as structural types (``typing.Protocol``).

The run loop (connector.pipeline.runner, and its pause) is typed against :class:`EventsConsumer`, what
it calls of the group consumer wrapper (consumer.py's ``Consumer``); replay (connector.dead_letters.
replay) against :class:`DeadLetterReader` (consumer.py's ``DeadLetterSource``) and
:class:`OriginalReader` (originals.py's ``OriginalSource``). mypy checks that the real classes satisfy
them where connector.app hands them over; tests/unit/kafka/test_seams.py checks, method by method
and signature by signature, that the unit tests' fakes (tests/unit/fakes/kafka.py) do as well, so a
fake cannot drift from the class it stands for.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Protocol

from kafka import TopicPartition

from connector.kafka.originals import Original, Place
from connector.kafka.records import InFlight

__all__ = ["DeadLetterReader", "EventsConsumer", "OriginalReader", "RevokeHook"]

# Called with the revoked partitions; answers (offsets to commit now, each partition's commit point).
RevokeHook = Callable[[set[TopicPartition]], tuple[dict[TopicPartition, int], dict[TopicPartition, int]]]


class EventsConsumer(Protocol):
    """The group consumer of the events topic, as the run loop drives it (connector.kafka.consumer)."""

    def subscribe(
        self,
        *,
        on_assigned: Callable[[set[TopicPartition]], None],
        on_revoked: RevokeHook,
        on_unreadable: Callable[[TopicPartition], None] = ...,
    ) -> None: ...

    def joining(self) -> bool: ...

    def epoch(self, tp: Any) -> int | None: ...

    def owned(self) -> list[TopicPartition]: ...

    def poll(self, idle_ms: int, max_records: int, now: float) -> list[InFlight]: ...

    def hold(self, tp: TopicPartition) -> None: ...

    def release(self, tp: TopicPartition) -> None: ...

    def stop_fetching(self, reason: str) -> None: ...

    def may_fetch(self, reason: str) -> None: ...

    def stopped(self, reason: str) -> bool: ...

    def resume(self) -> None: ...

    def commit(self, offsets: dict[TopicPartition, int]) -> bool: ...

    def lag(self, positions: dict[TopicPartition, int | None]) -> dict[TopicPartition, int]: ...

    def close(self) -> None: ...


class DeadLetterReader(Protocol):
    """The dead-letter topic as replay reads it: opened, its records up to where it ended, committed."""

    def open(self, *, from_beginning: bool) -> int: ...

    def records(self) -> Iterator[tuple[TopicPartition, Any]]: ...

    def commit(self, offsets: dict[TopicPartition, int]) -> None: ...


class OriginalReader(Protocol):
    """Single records of the events topic read back by place (a context-only letter's original)."""

    def read(self, origin: Place) -> Original | None: ...
