"""Kafka's side in unit tests: a consumer that hands out prepared batches and records what the
runner did (pauses, resumes, commits), behind the real wrapper (connector.kafka.consumer.Consumer);
a dead-letter producer that records what was sent."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from connector.kafka import TopicPartition

__all__ = ["TP", "FakeConsumer", "Record", "RecordingDeadLetters"]

TP = TopicPartition("events", 0)


@dataclass
class Record:
    offset: int
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]] = field(default_factory=list)
    timestamp: int = 1


class FakeConsumer:
    """Hands out prepared batches once, and records pauses, resumes and commits."""

    def __init__(self, records: list[Record]) -> None:
        self.records = records
        self.batches = deque([{TP: records}])
        self.polls = 0
        self.timeouts: list[int] = []
        self.commits: list[dict[TopicPartition, int]] = []
        self.paused_set: set[TopicPartition] = set()
        self.pause_calls: list[TopicPartition] = []
        self.closed = False
        self.on_idle: Callable[[], None] = lambda: None

    def subscribe(self, topics: list[str], listener: Any) -> None:
        listener.on_partitions_assigned({TP})

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.batches.append({tp: [r for r in self.records if r.offset >= offset]})

    def poll(self, timeout_ms: int, max_records: int) -> dict[TopicPartition, list[Record]]:
        self.polls += 1
        self.timeouts.append(timeout_ms)
        if self.batches and TP not in self.paused_set:
            return self.batches.popleft()
        self.on_idle()
        time.sleep(min(timeout_ms, 10) / 1000)  # a real consumer waits up to timeout_ms for records
        return {}

    def assignment(self) -> set[TopicPartition]:
        return {TP}

    def pause(self, *tps: TopicPartition) -> None:
        self.pause_calls.extend(tps)
        self.paused_set.update(tps)

    def resume(self, *tps: TopicPartition) -> None:
        self.paused_set.difference_update(tps)

    def paused(self) -> set[TopicPartition]:
        return set(self.paused_set)

    def commit(self, offsets: dict[TopicPartition, Any]) -> None:
        self.commits.append({tp: meta.offset for tp, meta in offsets.items()})

    def commit_async(self, offsets: dict[TopicPartition, Any]) -> None:
        self.commit(offsets)

    def highwater(self, tp: TopicPartition) -> int | None:
        return None

    def close(self) -> None:
        self.closed = True


class RecordingDeadLetters:
    def __init__(self) -> None:
        self.sent: list[tuple[str, Any]] = []

    def send(self, topic: str, letter: Any) -> None:
        self.sent.append((topic, letter))

    def flush(self) -> None:
        pass
