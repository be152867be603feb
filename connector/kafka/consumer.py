"""The Kafka side of ``run`` and ``replay``: the only module that consumes through kafka-python.

It owns the consumer and everything about it: the subscription and the rebalance listener, which
assignment (epoch) each partition came with, the seek back after a partition is revoked and
assigned back in one rebalance, the group-join repair (workarounds.py), pausing and resuming
fetching (a partition whose record retries; every partition during a quota pause or under
backpressure), committing, and the lag. The run loop decides when; this module knows how.

The rebalance listener runs on kafka-python's thread: bookkeeping and a non-blocking commit only.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

from kafka import ConsumerRebalanceListener, KafkaConsumer, OffsetAndMetadata, TopicPartition
from kafka.errors import CommitFailedError, KafkaError

from connector.errors import ConfigurationError
from connector.kafka.clients import client_config
from connector.kafka.records import InFlight
from connector.kafka.seams import RevokeHook
from connector.kafka.workarounds import (
    header_fault,
    install_lenient_header_keys,
    join_in_flight,
    poll,
    repair_lost_join,
)
from connector.logs import get_logger
from connector.settings import KafkaSettings

__all__ = ["Consumer", "DeadLetterSource", "RevokeHook"]

log = get_logger(__name__)

_JOIN_POLL_MS = 3_000  # kafka-python's heartbeat interval: how long other members take to rejoin


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, consumer: Consumer) -> None:
        self._consumer = consumer

    def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        self._consumer._on_revoked(set(revoked))

    def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        self._consumer._on_assigned(set(assigned))


def _nothing_revoked(revoked: set[TopicPartition]) -> tuple[dict[TopicPartition, int], dict[TopicPartition, int]]:
    return {}, {}


class Consumer:
    """The group consumer of the events topic, over a kafka-python ``KafkaConsumer`` (built by
    connector.wiring). The runner passes its rebalance hooks to :meth:`subscribe`. The run loop knows
    it only as seams.py's ``EventsConsumer``."""

    def __init__(self, consumer: Any, topic: str) -> None:
        install_lenient_header_keys()  # a header key that is not UTF-8 fails its record, not the loop
        self._consumer = consumer
        self._topic = topic
        self._on_unreadable: Callable[[TopicPartition], None] = lambda tp: None
        self._on_assigned_hook: Callable[[set[TopicPartition]], None] = lambda tps: None
        self._on_revoked_hook: RevokeHook = _nothing_revoked
        self._lock = threading.Lock()
        self._epochs: dict[TopicPartition, int] = {}  # the assignment each owned partition came with
        self._generation = 0
        # A partition revoked and assigned back in one rebalance is read on from where this member
        # stopped: kafka-python keeps its fetch position past the records dropped on revocation (or,
        # after a lost membership, nothing: the group's commit, behind the failed commits). Where to
        # seek back to, and when.
        self._revoked_at: dict[TopicPartition, int] = {}
        self._seeks: dict[TopicPartition, int] = {}
        self._held: dict[TopicPartition, int] = {}  # partitions with records waiting to be retried
        self._stopped: set[str] = set()  # reasons every partition stops fetching ("pause", "backpressure")
        self.joined = False  # a group assignment arrived (possibly empty)

    def subscribe(
        self,
        *,
        on_assigned: Callable[[set[TopicPartition]], None],
        on_revoked: RevokeHook,
        on_unreadable: Callable[[TopicPartition], None] = lambda tp: None,
    ) -> None:
        """Join the group. The hooks run on kafka-python's thread during a rebalance (``on_revoked``
        answers what to commit now and where each partition stands) and for each unreadable record."""
        self._on_assigned_hook, self._on_revoked_hook, self._on_unreadable = on_assigned, on_revoked, on_unreadable
        self._consumer.subscribe([self._topic], listener=_Listener(self))

    def joining(self) -> bool:
        return join_in_flight(self._consumer)

    def epoch(self, tp: Any) -> int | None:
        return self._epochs.get(tp)

    def owned(self) -> list[TopicPartition]:
        return list(self._epochs)

    def poll(self, idle_ms: int, max_records: int, now: float) -> list[InFlight]:
        """Records fetched for partitions we own under their current assignment, in offset order."""
        # kafka-python finishes a group join only inside a poll() that is waiting for it (see
        # workarounds.py): wait there long enough for the other members to notice the rebalance.
        timeout_ms = _JOIN_POLL_MS if join_in_flight(self._consumer) else idle_ms
        batches, unreadable = poll(self._consumer, timeout_ms=timeout_ms, max_records=max_records)
        if repair_lost_join(self._consumer):
            log.warning("consumer.join_repaired", reason="a finished group join was never collected; rejoining")
        with self._lock:
            seeks, self._seeks = self._seeks, {}
        for tp, offset in seeks.items():
            self._consumer.seek(tp, offset)  # records this poll returned for it are re-read from there
        records: list[InFlight] = []
        for bad in unreadable:  # skipped past by workarounds.poll: dead-lettered with its context only
            self._on_unreadable(bad.tp)
            if bad.tp in seeks:
                continue  # rewound: re-read, and reported again, from the seek's offset
            if (epoch := self._epochs.get(bad.tp)) is not None:
                records.append(InFlight(bad.tp.topic, bad.tp.partition, bad.offset, None, None, [], None,
                                        partition_key=bad.tp, polled_at=now, epoch=epoch, fault=bad.error))  # fmt: skip
        for tp, fetched in (batches or {}).items():
            epoch = self._epochs.get(tp)
            if tp in seeks:
                continue
            if epoch is None:
                log.debug("records.discarded", partition=tp.partition, count=len(fetched))
                continue  # revoked between fetch and now
            topic, partition, append = tp.topic, tp.partition, records.append
            for r in fetched:  # per record: kept to the least (the fast path, #18)
                headers = r.headers
                fault = header_fault(headers) if headers else None  # a header key that is not UTF-8
                append(InFlight(topic, partition, r.offset, r.key, r.value, headers or [], r.timestamp, tp, now,
                                epoch, fault))  # fmt: skip
        return records

    # -- fetching: paused and resumed ------------------------------------------------------------

    def hold(self, tp: TopicPartition) -> None:
        """A record of ``tp`` waits for a retry: fetch no more of it until :meth:`release`."""
        self._held[tp] = self._held.get(tp, 0) + 1
        self._consumer.pause(tp)

    def release(self, tp: TopicPartition) -> None:
        if self._held.get(tp, 0) > 0:
            self._held[tp] -= 1

    def stop_fetching(self, reason: str) -> None:
        self._stopped.add(reason)
        self._consumer.pause(*self._consumer.assignment())

    def may_fetch(self, reason: str) -> None:
        self._stopped.discard(reason)

    def stopped(self, reason: str) -> bool:
        return reason in self._stopped

    def resume(self) -> None:
        """Resume fetching every partition that nothing holds back any more."""
        if self._stopped:
            return
        paused = self._consumer.paused()
        to_resume = [tp for tp in self._consumer.assignment() if tp in paused and not self._held.get(tp)]
        if to_resume:
            self._consumer.resume(*to_resume)

    # -- offsets ---------------------------------------------------------------------------------

    def commit(self, offsets: dict[TopicPartition, int]) -> bool:
        try:
            self._consumer.commit({tp: OffsetAndMetadata(o, "", -1) for tp, o in offsets.items()})
        except CommitFailedError as exc:
            # The group rebalanced under us; the partitions' new owners redo the unfinished tail.
            log.warning("offsets.commit_failed", error=str(exc))
            return False
        except KafkaError as exc:
            log.warning("offsets.commit_failed", error=type(exc).__name__, retriable=exc.retriable)
            return False
        return True

    def lag(self, positions: dict[TopicPartition, int | None]) -> dict[TopicPartition, int]:
        lags: dict[TopicPartition, int] = {}
        for tp, point in positions.items():
            end = self._consumer.highwater(tp)
            if end is not None and point is not None:
                lags[tp] = max(0, end - point)
        return lags

    def close(self) -> None:
        self._consumer.close()

    # -- rebalancing (kafka-python's thread) -----------------------------------------------------

    def _on_assigned(self, assigned: set[TopicPartition]) -> None:
        with self._lock:
            for tp in assigned:
                # Never reused, even for a partition that comes back: a record taken under an
                # earlier assignment must never pass for one of this assignment.
                self._generation += 1
                self._epochs[tp] = self._generation
                if tp in self._revoked_at:
                    self._seeks[tp] = self._revoked_at.pop(tp)
            self._revoked_at.clear()  # partitions that went elsewhere start from the group's commit
            self.joined = True
        if self._stopped and assigned:
            # kafka-python gives a newly assigned partition (and every partition after a lost
            # membership) a fresh, unpaused state: while paused or under backpressure it would fetch.
            self._consumer.pause(*assigned)
        self._on_assigned_hook(assigned)
        log.info("partitions.assigned", partitions=sorted(tp.partition for tp in assigned))

    def _on_revoked(self, revoked: set[TopicPartition]) -> None:
        with self._lock:
            for tp in revoked:
                self._epochs.pop(tp, None)  # first: from now on no record of these passes as ours
                self._held.pop(tp, None)
        offsets, positions = self._on_revoked_hook(revoked)
        with self._lock:
            self._revoked_at.update(positions)
        if offsets:
            try:  # non-blocking: this thread also drives heartbeats
                self._consumer.commit_async({tp: OffsetAndMetadata(o, "", -1) for tp, o in offsets.items()})
            except KafkaError as exc:
                log.warning("offsets.commit_on_revoke_failed", error=type(exc).__name__)


class DeadLetterSource:
    """``replay``'s side of Kafka: the dead-letter topic, assigned (no group rebalances), read from
    where the replay group stopped (or the beginning) up to the end it had when the replay started,
    so records that fail again and are written back behind that point are not read twice."""

    def __init__(self, settings: KafkaSettings, topic: str, group: str) -> None:
        self._consumer = KafkaConsumer(**client_config(settings), group_id=group, enable_auto_commit=False)
        self._topic = topic
        self._ends: dict[TopicPartition, int] = {}

    def open(self, *, from_beginning: bool) -> int:
        """Records to read; ConfigurationError when the topic does not exist."""
        if self._topic not in self._consumer.topics():  # asking for its partitions could create it on some brokers
            raise ConfigurationError(f"dead-letter topic {self._topic} does not exist (kafka.dead_letter_topic)")
        found = self._consumer.partitions_for_topic(self._topic) or ()
        partitions = [TopicPartition(self._topic, p) for p in sorted(found)]
        self._consumer.assign(partitions)
        for tp in partitions:
            committed = None if from_beginning else self._consumer.committed(tp)
            if committed is None:
                self._consumer.seek_to_beginning(tp)
            else:
                self._consumer.seek(tp, committed)
        self._ends = self._consumer.end_offsets(partitions)
        return int(sum(max(0, end - self._consumer.position(tp)) for tp, end in self._ends.items()))

    def records(self) -> Iterator[tuple[TopicPartition, Any]]:
        while any(self._consumer.position(tp) < end for tp, end in self._ends.items()):
            for tp, records in self._consumer.poll(timeout_ms=1000).items():
                for record in records:
                    if record.offset < self._ends[tp]:
                        yield tp, record

    def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self._consumer.commit({tp: OffsetAndMetadata(o, "", -1) for tp, o in offsets.items()})

    def close(self) -> None:
        self._consumer.close()
