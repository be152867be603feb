"""Which offsets may be committed: per partition, contiguously, only past finished records.

Records of a partition finish out of order (different contacts run concurrently, a retried record
finishes late). Kafka's committed offset means "everything before this is done", so a partition's
commit point is its oldest unfinished offset, or one past the newest record seen when all are done.
"""

from __future__ import annotations

from collections import deque

from connector.kafka import TopicPartition

__all__ = ["OffsetTracker"]


class _Partition:
    __slots__ = ("done", "next_offset", "open")

    def __init__(self) -> None:
        self.open: deque[int] = deque()  # offsets handed out, in arrival (= offset) order
        self.done: set[int] = set()  # finished offsets not yet at the front of `open`
        self.next_offset: int | None = None  # one past the newest offset seen

    def commit_point(self) -> int | None:
        while self.open and self.open[0] in self.done:
            self.done.discard(self.open.popleft())
        return self.open[0] if self.open else self.next_offset


class OffsetTracker:
    """Not thread-safe: the runner calls it under its own lock."""

    def __init__(self) -> None:
        self._partitions: dict[TopicPartition, _Partition] = {}
        self._committed: dict[TopicPartition, int] = {}
        self._revoked_at: dict[TopicPartition, int] = {}  # commit points of partitions just revoked

    def started(self, tp: TopicPartition, offset: int) -> None:
        part = self._partitions.get(tp)
        if part is None:
            part = self._partitions[tp] = _Partition()
        part.open.append(offset)
        part.next_offset = offset + 1

    def passed(self, tp: TopicPartition, offset: int) -> None:
        """:meth:`started` and :meth:`finished` at once (a record settled as it was consumed)."""
        part = self._partitions.get(tp)
        if part is None:
            part = self._partitions[tp] = _Partition()
        if part.open:  # behind unfinished records: done, and committed once they are
            part.open.append(offset)
            part.done.add(offset)
        part.next_offset = offset + 1

    def finished(self, tp: TopicPartition, offset: int) -> None:
        part = self._partitions.get(tp)
        if part is not None:  # a partition revoked meanwhile is no longer ours to commit
            part.done.add(offset)

    def owns(self, tp: TopicPartition) -> bool:
        return tp in self._partitions

    def unfinished(self) -> int:
        return sum(len(p.open) - len(p.done) for p in self._partitions.values())

    def position(self, tp: TopicPartition) -> int | None:
        """The partition's commit point: its oldest unfinished offset, else one past the newest seen."""
        part = self._partitions.get(tp)
        return part.commit_point() if part else None

    def to_commit(self, partitions: set[TopicPartition] | None = None) -> dict[TopicPartition, int]:
        """Commit points that moved since the last :meth:`committed` call."""
        moves: dict[TopicPartition, int] = {}
        for tp, part in self._partitions.items():
            if partitions is not None and tp not in partitions:
                continue
            point = part.commit_point()
            if point is not None and self._committed.get(tp) != point:
                moves[tp] = point
        return moves

    def committed(self, offsets: dict[TopicPartition, int]) -> None:
        self._committed.update(offsets)

    def revoked(self, partitions: set[TopicPartition]) -> dict[TopicPartition, int]:
        """Forget ``partitions``; their commit points (where this member would go on from)."""
        points: dict[TopicPartition, int] = {}
        for tp in partitions:
            part = self._partitions.pop(tp, None)
            self._committed.pop(tp, None)
            if part is not None and (point := part.commit_point()) is not None:
                points[tp] = point
        self._revoked_at.update(points)
        return points

    def assigned(self, partitions: set[TopicPartition]) -> None:
        """A rebalance ended. A partition assigned back to this member goes on from its commit point
        (the consumer seeks there), which is committed again: the commit made as it was revoked may
        have failed (a member that lost its group membership cannot commit), and with no record left
        to read nothing else would ever commit it."""
        for tp in partitions & self._revoked_at.keys():
            part = self._partitions.setdefault(tp, _Partition())
            if part.next_offset is None:
                part.next_offset = self._revoked_at[tp]
        self._revoked_at.clear()
