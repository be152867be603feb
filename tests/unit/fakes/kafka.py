"""Kafka's side in unit tests. ``FakeConsumer`` is the typed wrapper (connector.kafka.consumer.Consumer)
as the runner sees it (connector.kafka.seams.EventsConsumer; tests/unit/kafka/test_seams.py keeps it
to that seam's signatures): it hands out prepared records as ``InFlight``, each stamped with its partition's
assignment, records what the runner did (holds, pauses, commits) and rebalances when a test asks
(:meth:`FakeConsumer.revoke`, :meth:`FakeConsumer.assign`). ``FakeKafkaConsumer`` is kafka-python's
consumer beneath the real wrapper, for the wrapper's own tests (tests/unit/kafka/). A dead-letter
producer that records what was sent."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from connector.kafka import TopicPartition
from connector.kafka.records import InFlight
from connector.kafka.seams import RevokeHook

__all__ = ["TP", "FakeConsumer", "FakeKafkaConsumer", "Record", "RecordingDeadLetters"]

TP = TopicPartition("events", 0)


@dataclass
class Record:
    offset: int
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]] = field(default_factory=list)
    timestamp: int = 1


class FakeKafkaConsumer:
    """kafka-python's consumer: hands out prepared batches once, and records pauses, resumes and commits."""

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
        self.listener: Any = None
        self.assigned: set[TopicPartition] = {TP}  # a test that rebalances sets it before calling the listener

    def subscribe(self, topics: list[str], listener: Any) -> None:
        self.listener = listener  # kafka-python's thread calls it in a rebalance: tests do
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
        return set(self.assigned)

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


class FakeConsumer:
    """The wrapper: one partition (TP), its prepared records handed out once (again from where this
    member stopped after the partition is revoked and assigned back, as the wrapper's seek does), no
    record while the partition is held or fetching is stopped. Commits are recorded as they are asked,
    the non-blocking one of a revocation included."""

    def __init__(self, records: list[Record]) -> None:
        self.records = records
        self.batches: deque[list[Record]] = deque([records])
        self.polls = 0
        self.timeouts: list[int] = []
        self.commits: list[dict[TopicPartition, int]] = []
        self.refuse_commits = False  # the coordinator is away, or this member lost its membership
        self.pause_calls: list[TopicPartition] = []  # each time fetching of a partition stopped
        self.paused_set: set[TopicPartition] = set()
        self.closed = False
        self.joined = False
        self.on_idle: Callable[[], None] = lambda: None
        self.assigned_on_join: set[TopicPartition] = {TP}
        self._epochs: dict[TopicPartition, int] = {}
        self._generation = 0
        self._held: dict[TopicPartition, int] = {}
        self._stopped: set[str] = set()
        self._revoked_at: dict[TopicPartition, int] = {}
        self._on_assigned: Callable[[set[TopicPartition]], None] = lambda tps: None
        self._on_revoked: RevokeHook = lambda tps: ({}, {})

    def subscribe(
        self,
        *,
        on_assigned: Callable[[set[TopicPartition]], None],
        on_revoked: RevokeHook,
        on_unreadable: Callable[[TopicPartition], None] = lambda tp: None,
    ) -> None:
        self._on_assigned, self._on_revoked = on_assigned, on_revoked
        self.assign(set(self.assigned_on_join))

    # -- rebalancing, as kafka-python's thread drives it through the wrapper ----------------------

    def assign(self, tps: set[TopicPartition]) -> None:
        for tp in tps:
            self._generation += 1  # never reused: a record of an earlier assignment never passes
            self._epochs[tp] = self._generation
            if tp in self._revoked_at:  # assigned back: re-read from where this member stopped
                offset = self._revoked_at.pop(tp)
                self.batches.clear()
                self.batches.append([r for r in self.records if r.offset >= offset])
        self.joined = True
        self._on_assigned(tps)

    def revoke(self, tps: set[TopicPartition]) -> None:
        for tp in tps:
            self._epochs.pop(tp, None)
            self._held.pop(tp, None)
        offsets, positions = self._on_revoked(tps)
        self._revoked_at.update(positions)
        if offsets and not self.refuse_commits:
            self.commits.append(dict(offsets))

    def joining(self) -> bool:
        return False

    def epoch(self, tp: Any) -> int | None:
        return self._epochs.get(tp)

    def owned(self) -> list[TopicPartition]:
        return list(self._epochs)

    def poll(self, idle_ms: int, max_records: int, now: float) -> list[InFlight]:
        self.polls += 1
        self.timeouts.append(idle_ms)
        epoch = self._epochs.get(TP)
        if self.batches and TP not in self.paused_set and epoch is not None:
            return [InFlight(TP.topic, TP.partition, r.offset, r.key, r.value, list(r.headers), r.timestamp, TP, now,
                             epoch) for r in self.batches.popleft()]  # fmt: skip
        self.on_idle()
        time.sleep(min(idle_ms, 10) / 1000)  # the wrapper waits up to idle_ms for records
        return []

    # -- fetching --------------------------------------------------------------------------------

    def hold(self, tp: TopicPartition) -> None:
        self._held[tp] = self._held.get(tp, 0) + 1
        self._pause(tp)

    def release(self, tp: TopicPartition) -> None:
        if self._held.get(tp, 0) > 0:
            self._held[tp] -= 1

    def stop_fetching(self, reason: str) -> None:
        self._stopped.add(reason)
        self._pause(*self._epochs)

    def may_fetch(self, reason: str) -> None:
        self._stopped.discard(reason)

    def stopped(self, reason: str) -> bool:
        return reason in self._stopped

    def resume(self) -> None:
        if not self._stopped:
            self.paused_set = {tp for tp in self.paused_set if self._held.get(tp)}

    def _pause(self, *tps: TopicPartition) -> None:
        self.pause_calls.extend(tps)
        self.paused_set.update(tps)

    # -- offsets ---------------------------------------------------------------------------------

    def commit(self, offsets: dict[TopicPartition, int]) -> bool:
        if self.refuse_commits:
            return False
        self.commits.append(dict(offsets))
        return True

    def lag(self, positions: dict[TopicPartition, int | None]) -> dict[TopicPartition, int]:
        return {}

    def close(self) -> None:
        self.closed = True


class RecordingDeadLetters:
    def __init__(self) -> None:
        self.sent: list[tuple[str, Any]] = []

    def send(self, topic: str, letter: Any) -> None:
        self.sent.append((topic, letter))

    def flush(self) -> None:
        pass
