"""The worker threads: run batches of records through the lifecycle, hand back what became of each.

At most ``size`` batches run at once, one per thread. A thread takes several records (each of a
different identity) one after the other, which spares the pool's per-task cost when events are
cheap (most need no call), and reads what they need from Redis at once (the read ahead). Each
record's end comes back through one queue, which only the run loop reads.
"""

from __future__ import annotations

import enum
import queue
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple, Protocol

from connector.kafka.records import InFlight
from connector.pipeline.fate import Fate
from connector.pipeline.records import AttemptResult
from connector.sync import ReadAhead

__all__ = ["WorkerOutcome", "WorkerResult", "Workers"]


class _Lifecycle(Protocol):
    def run(self, record: InFlight, ahead: ReadAhead | None = None) -> AttemptResult: ...

    def read_ahead(self, records: list[InFlight]) -> ReadAhead | None: ...

    def run_group(self, records: list[InFlight], emit: Callable[[AttemptResult | None], None]) -> None: ...


class WorkerOutcome(enum.Enum):
    RAN = "ran"  # the record was attempted: see its AttemptResult
    DEFERRED = "deferred"  # not tried: an earlier record of its batch hit a pause
    ABANDONED = "abandoned"  # not tried: stopping, or its partition was revoked since it was taken


class WorkerResult(NamedTuple):  # one per record: a tuple is the cheapest to make
    record: InFlight
    outcome: WorkerOutcome
    attempt: AttemptResult | None
    last_of_batch: bool


class Workers:
    def __init__(
        self,
        size: int,
        lifecycle: _Lifecycle,
        wanted: Callable[[InFlight], bool],
        gather: Callable[[InFlight], tuple[InFlight, ...]] | None = None,
    ) -> None:
        self.size = size
        self._lifecycle = lifecycle
        self._wanted = wanted  # False once a record must not run any more (stopping, revoked)
        # Merging what waits (#25): as its turn comes, a record's person's records queued behind it,
        # which then run with it (the runner's scheduler hands them out, ordering.py).
        self._gather = gather
        self._count = threading.Lock()  # ``running`` grows on a worker thread when followers join
        self._pool = ThreadPoolExecutor(size, thread_name_prefix="sync")
        self._finished: queue.SimpleQueue[WorkerResult] = queue.SimpleQueue()
        self.running = 0  # records handed out and not yet collected
        self.batches = 0  # batches not yet finished

    def free(self) -> int:
        return self.size - self.batches

    def submit(self, batch: list[InFlight]) -> None:
        self.batches += 1
        with self._count:
            self.running += len(batch)
        self._pool.submit(self._run_batch, batch)

    def collect(self, timeout: float) -> list[WorkerResult]:
        """What finished since the last call; waits up to ``timeout`` for the first one."""
        if not self.running:
            return []
        finished: list[WorkerResult] = []
        try:
            finished.append(self._finished.get(timeout=timeout))
            while True:
                finished.append(self._finished.get_nowait())
        except queue.Empty:
            pass
        with self._count:
            self.running -= len(finished)
        for item in finished:
            self.batches -= item.last_of_batch
        return finished

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _followers(self, record: InFlight) -> tuple[InFlight, ...]:
        assert self._gather is not None
        followers = self._gather(record)
        if followers:
            with self._count:
                self.running += len(followers)
        return followers

    def _run_group(self, group: list[InFlight], last: bool) -> bool:
        """Run a record with its followers, each end reported as soon as known; whether one paused."""
        position, paused = 0, False

        def emit(end: AttemptResult | None) -> None:
            nonlocal position, paused
            paused = paused or (end is not None and end.fate is Fate.PAUSE)
            outcome = WorkerOutcome.DEFERRED if end is None else WorkerOutcome.RAN
            self._finished.put(WorkerResult(group[position], outcome, end, last and position == len(group) - 1))
            position += 1

        self._lifecycle.run_group(group, emit)
        return paused

    def _run_batch(self, batch: list[InFlight]) -> None:
        ahead = self._lifecycle.read_ahead(batch) if len(batch) > 1 else None
        paused = False
        for index, record in enumerate(batch):
            attempt: AttemptResult | None = None
            followers: tuple[InFlight, ...] = ()
            if not self._wanted(record):
                outcome = WorkerOutcome.ABANDONED
            elif paused:
                outcome = WorkerOutcome.DEFERRED  # Resend refuses for now: the rest waits for the pause to end
            elif self._gather is not None and (followers := self._followers(record)):
                # Its person's records queued behind it: merged where they may be (#25).
                paused = self._run_group([record, *followers], index == len(batch) - 1)
                continue
            else:
                outcome, attempt = WorkerOutcome.RAN, self._lifecycle.run(record, ahead)
                paused = attempt.fate is Fate.PAUSE
            last = index == len(batch) - 1
            self._finished.put(WorkerResult(record, outcome, attempt, last and not followers))
            for position, member in enumerate(followers):  # not tried: each runs again in its turn
                left = WorkerOutcome.ABANDONED if outcome is WorkerOutcome.ABANDONED else WorkerOutcome.DEFERRED
                self._finished.put(WorkerResult(member, left, None, last and position == len(followers) - 1))
