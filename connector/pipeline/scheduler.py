"""Per-contact ordering with bounded concurrency, and retry timing.

Records with the same ordering key (the Kafka key, which is the identity producers key events by,
or the partition for keyless records) run one at a time, in offset order; different keys run
concurrently. A record that must be retried stays at the head of its key's queue, so nothing of
that contact overtakes it, and becomes runnable again at its ``not_before`` time.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

__all__ = ["KeyedScheduler"]

T = TypeVar("T")


@dataclass(slots=True)
class _Lane(Generic[T]):
    items: deque[T] = field(default_factory=deque)
    busy: bool = False


class KeyedScheduler(Generic[T]):
    """Not thread-safe: the runner calls it under its own lock. Every operation is O(1) amortised."""

    def __init__(self) -> None:
        self._lanes: dict[Hashable, _Lane[T]] = {}
        self._ready: deque[Hashable] = deque()  # idle lanes with work, each key at most once
        self._waiting: dict[Hashable, float] = {}  # idle lanes whose head retries at a later time
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def push(self, key: Hashable, item: T) -> None:
        lane = self._lanes.get(key)
        if lane is None:
            lane = self._lanes[key] = _Lane()
            self._ready.append(key)
        lane.items.append(item)
        self._size += 1

    def take(self, now: float, limit: int) -> list[tuple[Hashable, T]]:
        """Up to ``limit`` heads of idle lanes whose retry time has come; they become busy."""
        if self._waiting:
            for key in [k for k, at in self._waiting.items() if at <= now]:
                del self._waiting[key]
                self._ready.append(key)
        taken: list[tuple[Hashable, T]] = []
        while self._ready and len(taken) < limit:
            key = self._ready.popleft()
            lane = self._lanes[key]
            lane.busy = True
            taken.append((key, lane.items[0]))
        return taken

    def done(self, key: Hashable) -> None:
        """The head of ``key`` finished; the next record of that contact may run."""
        lane = self._lanes.get(key)
        if lane is None:
            return
        lane.items.popleft()
        self._size -= 1
        lane.busy = False
        if lane.items:
            self._ready.append(key)
        else:
            del self._lanes[key]

    def retry_at(self, key: Hashable, not_before: float) -> None:
        """The head of ``key`` stays first in line and runs again at ``not_before``."""
        lane = self._lanes.get(key)
        if lane is not None:
            lane.busy = False
            self._waiting[key] = not_before

    def wake(self, until: float, now: float) -> None:
        """Lanes waiting to retry no later than ``until`` may run at ``now`` (a pause was lifted)."""
        for key, at in self._waiting.items():
            if at <= until:
                self._waiting[key] = now

    def has_ready(self, now: float) -> bool:
        """Whether :meth:`take` would hand out anything at ``now``."""
        return bool(self._ready) or any(at <= now for at in self._waiting.values())

    def next_retry(self) -> float | None:
        return min(self._waiting.values()) if self._waiting else None

    def drop(self, belongs: Callable[[T], bool]) -> int:
        """Forget queued (not running) records matching ``belongs`` (their partition was revoked)."""
        dropped = 0
        for key in list(self._lanes):
            lane = self._lanes[key]
            keep = deque(item for i, item in enumerate(lane.items) if (lane.busy and i == 0) or not belongs(item))
            dropped += len(lane.items) - len(keep)
            lane.items = keep
            if not keep:
                del self._lanes[key]
                self._waiting.pop(key, None)
        self._ready = deque(key for key in self._ready if key in self._lanes)
        self._size -= dropped
        return dropped
