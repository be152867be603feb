"""The express path's side of Kafka (issue #25): a second group reading the events topic ahead, and
the main group's committed offsets, asked without joining it.

Thin on purpose, like consumer.py for the runner: the express path (connector/pipeline/express.py)
decides what to do with each record; this module only polls, commits and closes.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from connector.kafka.clients import client_config, new_consumer
from connector.kafka.workarounds import install_lenient_header_keys, join_in_flight, poll, repair_lost_join
from connector.logs import get_logger
from connector.settings import KafkaSettings

__all__ = ["AheadRecord", "GroupOffsets", "GroupReader"]

log = get_logger(__name__)

_JOIN_POLL_MS = 3_000  # a group join is collected only inside a poll that waits for it (workarounds.py)


class AheadRecord(NamedTuple):
    partition: int
    offset: int
    value: bytes | None
    timestamp_ms: int | None
    headers: tuple[tuple[str, bytes | None], ...] = ()


class GroupReader:
    """The events topic in its own consumer group: records in offset order per partition, offsets
    committed when the caller is done with everything the last poll returned."""

    def __init__(self, settings: KafkaSettings, group_id: str) -> None:
        install_lenient_header_keys()  # a header key that is not UTF-8 fails nothing here
        self._consumer = new_consumer(settings, group_id=group_id)
        self._consumer.subscribe([settings.topic])
        self._max_records = settings.max_poll_records

    def poll(self, timeout_ms: int) -> list[AheadRecord]:
        wait = _JOIN_POLL_MS if join_in_flight(self._consumer) else timeout_ms
        batches, _ = poll(self._consumer, timeout_ms=wait, max_records=self._max_records)  # unreadable: skipped
        if repair_lost_join(self._consumer):
            log.warning("express.join_repaired", reason="a finished group join was never collected; rejoining")
        return [AheadRecord(tp.partition, r.offset, r.value, r.timestamp, tuple(r.headers or ()))
                for tp, records in (batches or {}).items() for r in records]  # fmt: skip

    def commit(self) -> bool:
        """False when the group rebalanced meanwhile: the next owner reads those records again."""
        try:
            self._consumer.commit()
        except KafkaError as exc:
            log.warning("express.commit_failed", error=type(exc).__name__)
            return False
        return True

    def ends(self) -> dict[int, int]:
        """partition -> end offset, for the partitions this member holds now."""
        assigned = list(self._consumer.assignment())
        if not assigned:
            return {}
        return {tp.partition: int(end) for tp, end in self._consumer.end_offsets(assigned).items()}

    def pace(self, idle: set[int], busy: dict[int, int]) -> None:
        """Stop fetching the ``idle`` partitions; fetch the ``busy`` ones, from at least the offset given
        (-1: from where this group is)."""
        assigned = {tp.partition: tp for tp in self._consumer.assignment()}
        paused = {tp.partition for tp in self._consumer.paused()}
        stop = [assigned[p] for p in idle if p in assigned and p not in paused]
        if stop:
            self._consumer.pause(*stop)
        for partition, start in busy.items():
            tp = assigned.get(partition)
            if tp is None:
                continue
            if partition in paused:
                self._consumer.resume(tp)
            if start >= 0 and (self._consumer.position(tp) or 0) < start:
                self._consumer.seek(tp, start)

    def close(self) -> None:
        self._consumer.close()


class GroupOffsets:
    """Another group's committed offsets (the express path asks for the main group's): a client that
    never joins the group, so asking never rebalances it."""

    def __init__(self, settings: KafkaSettings, group_id: str) -> None:
        self._consumer: Any = KafkaConsumer(**client_config(settings), group_id=group_id, enable_auto_commit=False)
        self._topic = settings.topic

    def committed(self) -> dict[int, int]:
        """partition -> committed offset, for the partitions of the events topic that have one."""
        found = self._consumer.partitions_for_topic(self._topic) or ()
        offsets = {p: self._consumer.committed(TopicPartition(self._topic, p)) for p in found}
        return {p: o for p, o in offsets.items() if o is not None}

    def close(self) -> None:
        self._consumer.close()
