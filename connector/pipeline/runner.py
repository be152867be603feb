"""The run loop: poll, dispatch, collect, commit, resume, check health.

Threads: this loop owns the consumer (an EventsConsumer, kafka/seams.py); worker threads run records (workers.py), those
that share an identity in order (ordering.py); kafka-python's thread calls the rebalance listener.
Shared structures (tracker, scheduler) are touched under ``self._lock``, never held across I/O.

At least once: an offset is committed only when every record before it is applied, skipped or
dead-lettered (acknowledged). A transient failure keeps the record, and what shares an identity
with it, in memory, pauses its partition and retries with backoff; quota and key problems stop all
consumption (pause.py). What becomes of a failed record is decided once, in fate.py.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, cast

from connector.kafka import TopicPartition
from connector.kafka.records import InFlight
from connector.kafka.seams import EventsConsumer
from connector.logs import get_logger
from connector.pipeline.fate import Fate, backoff_seconds
from connector.pipeline.history import HistoryWriter
from connector.pipeline.lifecycle import Lifecycle
from connector.pipeline.metrics import Metrics
from connector.pipeline.offsets import OffsetTracker
from connector.pipeline.ordering import IdentityScheduler
from connector.pipeline.pause import Pause, ResumeSignal
from connector.pipeline.tally import Tally
from connector.pipeline.workers import WorkerOutcome, WorkerResult, Workers
from connector.settings import KafkaSettings

__all__ = ["Runner"]

log = get_logger(__name__)

_COMMIT_INTERVAL = 0.5  # seconds; also bounds what a crash makes us redo
_POLL_INTERVAL = 0.05  # seconds; with two polls' worth of records queued, poll no more often than this
_CHUNK = 32  # most records one worker batch carries (different identities, one after the other)


class Runner:
    def __init__(
        self,
        settings: KafkaSettings,
        consumer: EventsConsumer,
        lifecycle: Lifecycle,
        metrics: Metrics,
        *,
        max_buffered: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
        flush: Callable[[], None] = lambda: None,
        durable: Callable[..., bool] = lambda **_: True,  # may offsets be committed (redisio.ReplicatedGate)
        resume_signal: ResumeSignal | None = None,
        pause_probe_max_seconds: float = 300.0,
        log_outcomes: str = "calls",
        history: HistoryWriter | None = None,
    ) -> None:
        self._settings, self._consumer, self._lifecycle, self._metrics = settings, consumer, lifecycle, metrics
        self._max_buffered, self._clock = max_buffered, clock
        self._flush, self._durable = flush, durable
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._tracker = OffsetTracker()
        self._scheduler: IdentityScheduler[InFlight] = IdentityScheduler()
        gather = self._followers if settings.merge_waiting else None  # merging what waits (#25)
        self._workers = Workers(settings.max_in_flight_contacts, lifecycle, self._wanted, gather)
        # Quota/key pauses (pause.py, #17) probe on a schedule, end early on `resend-connector resume`.
        self._pause = Pause(self._consumer, metrics, resume_signal, pause_probe_max_seconds)
        self._last_commit = self._last_poll = self._last_lag = 0.0
        self._tally = Tally(metrics, log_outcomes=log_outcomes, history=history)  # latency, counts, outcomes

    # -- the loop ------------------------------------------------------------------------------

    def run(self) -> None:
        unreadable = self._metrics.unreadable
        self._consumer.subscribe(
            on_assigned=self._on_assigned,
            on_revoked=self._on_revoked,
            on_unreadable=lambda tp: unreadable.labels(partition=str(tp.partition)).inc(),
        )
        log.info("consumer.started", topic=self._settings.topic, group=self._settings.group_id)
        self._metrics.status.running()
        try:
            while not self._stop.is_set():
                self._poll()
                self._dispatch()
                self._collect()
                self._commit()
                self._resume()
                self._check_health()
        finally:
            self._shutdown()
            self._metrics.status.stopped()

    def stop(self) -> None:
        self._stop.set()

    # -- steps ---------------------------------------------------------------------------------

    def _poll(self) -> None:
        now = self._clock()
        if (
            self._workers.running  # so _collect waits for results instead of the loop spinning
            and not self._consumer.joining()
            and len(self._scheduler) >= 2 * self._settings.max_poll_records
            and now - self._last_poll < _POLL_INTERVAL
        ):
            # Plenty queued: a poll per finished record (events that wait on Resend) would only cost
            # CPU here and on kafka-python's network thread. With less queued polls run freely, so
            # this never caps the rate records are fetched at.
            return
        self._last_poll = now
        idle_ms = 0 if self._workers.running or self._runnable(now) else self._idle_ms(now)
        records = self._consumer.poll(idle_ms, self._settings.max_poll_records, now)
        for record in records:
            self._lifecycle.peek(record)  # decoded as consumed: its identities order it
        decided = self._lifecycle.decider() if records else None
        with self._lock:
            for record in records:
                tp = record.partition_key
                if self._consumer.epoch(tp) != record.epoch:
                    continue  # revoked since the poll
                # Needs no I/O, waits for none of its identities: settled now (a worker would, later).
                if decided and self._scheduler.clear(record) and (attempt := decided(record)) is not None:
                    assert isinstance(tp, TopicPartition)
                    self._tracker.passed(tp, record.offset)
                    self._tally.finished(record, attempt, now)
                    continue
                self._tracker.started(tp, record.offset)
                self._scheduler.push(record)
            if len(self._scheduler) >= self._max_buffered and not self._consumer.stopped("backpressure"):
                self._consumer.stop_fetching("backpressure")
        self._tally.flush()

    def _runnable(self, now: float) -> bool:
        """Whether _dispatch could start a record right now."""
        if now < self._pause.until:
            return False
        with self._lock:
            return self._scheduler.has_ready(now)

    def _idle_ms(self, now: float) -> int:
        """How long poll() may wait: until the next retry or the end of a pause, at most 200 ms."""
        with self._lock:
            wake = self._scheduler.next_retry()
        if self._pause.until > now:
            wake = self._pause.until if wake is None else min(wake, self._pause.until)
        return 200 if wake is None else max(0, min(200, int((wake - now) * 1000)))

    def _dispatch(self) -> None:
        now = self._clock()
        free = self._workers.free()
        if now < self._pause.until or free <= 0:
            return
        # Batches are sized as if the buffer were shared by every thread, so a thread that frees up
        # alone does not take a long batch that keeps records waiting behind it.
        with self._lock:
            share = -(-len(self._scheduler) // self._workers.size)
            size = min(_CHUNK, max(1, share))
            taken = self._scheduler.take(now, free * size)
        for start in range(0, len(taken), size):
            self._workers.submit(taken[start : start + size])

    def _collect(self) -> None:
        """Settle every finished record; wait briefly for one when nothing has finished yet."""
        finished = self._workers.collect(timeout=0.05)
        now = self._clock()
        for item in finished:
            with self._lock:
                record = item.record
                if (
                    item.outcome is WorkerOutcome.ABANDONED
                    or self._consumer.epoch(record.partition_key) != record.epoch
                ):
                    # Never finished, so never committed: whoever owns the partition next redoes it.
                    self._scheduler.done(record)
                    continue
                self._settle(item, now)
        self._tally.flush()

    def _settle(self, item: WorkerResult, now: float) -> None:
        record, attempt = item.record, item.attempt
        if item.outcome is WorkerOutcome.DEFERRED or attempt is None:  # never tried: no attempt counted
            self._scheduler.retry_at(record, max(now, self._pause.until))
            return
        tp = cast(TopicPartition, record.partition_key)
        if attempt.fate in (Fate.RETRY, Fate.PAUSE):
            record.attempts += 1
            retry_after = getattr(attempt.error, "retry_after", None)
            if attempt.fate is Fate.PAUSE:
                self._pause.enter(attempt.error, retry_after, now)
                self._scheduler.retry_at(record, self._pause.until)
            else:
                delay = backoff_seconds(record.attempts, retry_after)
                self._scheduler.retry_at(record, now + delay)
                self._metrics.count_retry(type(attempt.error).__name__)
                self._metrics.status.error(attempt.error, "retried")
                log.warning("record.retry", partition=record.partition, offset=record.offset,
                            attempt=record.attempts, delay=round(delay, 2), error=type(attempt.error).__name__,
                            detail=str(attempt.error))  # fmt: skip
            if record.attempts == 1:
                self._consumer.hold(tp)
            return
        if record.attempts:
            self._consumer.release(tp)
        if self._pause.until and now >= self._pause.until and self._pause.ends_with(attempt.fate):
            self._pause.leave()  # the probe went through
        self._scheduler.done(record)
        self._tracker.finished(tp, record.offset)
        self._tally.finished(record, attempt, now)
        if attempt.fate is Fate.DEAD_LETTERED:
            self._tally.count("unknown", "dead_lettered")

    def _commit(self, *, force: bool = False) -> None:
        now = self._clock()
        if not force and now - self._last_commit < _COMMIT_INTERVAL:
            return
        self._last_commit = now
        with self._lock:
            offsets = self._tracker.to_commit()
        if offsets and self._durable() and self._consumer.commit(offsets):
            with self._lock:
                self._tracker.committed(offsets)

    def _resume(self) -> None:
        if self._pause.until:
            now = self._clock()
            if self._pause.resume_requested():
                with self._lock:
                    self._scheduler.wake(self._pause.probe_now(now), now)
                return
            with self._lock:
                if not len(self._scheduler):  # the records that waited for the probe went with a rebalance
                    self._pause.probe_with_next(now)
        if self._consumer.stopped("backpressure"):
            with self._lock:
                if len(self._scheduler) > self._max_buffered // 2:
                    return
            self._consumer.may_fetch("backpressure")
        self._consumer.resume()

    def _check_health(self) -> None:
        now = self._clock()
        self._metrics.last_loop = now
        self._metrics.in_flight.set(len(self._scheduler))
        if now - self._last_lag < 5.0:
            return
        self._last_lag = now
        with self._lock:
            points = {tp: self._tracker.position(tp) for tp in self._consumer.owned()}
        for tp, lag in self._consumer.lag(points).items():
            self._metrics.lag.labels(partition=str(tp.partition)).set(lag)
            self._metrics.status.lag(tp.partition, lag)

    # -- hooks -------------------------------------------------------------------------------------

    def _wanted(self, record: InFlight) -> bool:
        """On worker threads: whether a record taken for a batch should still run."""
        return not self._stop.is_set() and self._consumer.epoch(record.partition_key) == record.epoch

    def _followers(self, record: InFlight) -> tuple[InFlight, ...]:  # worker threads: its person's next (#25)
        with self._lock:
            return tuple(self._scheduler.followers(record, _CHUNK)) if self._wanted(record) else ()

    def _on_assigned(self, assigned: set[TopicPartition]) -> None:
        with self._lock:
            self._tracker.assigned(assigned)  # one assigned back goes on from where this member stopped
        # Ready once the group gave this member its share, even an empty one, unless paused.
        self._metrics.ready = not self._pause.until
        self._metrics.status.assigned(tp.partition for tp in assigned)

    def _on_revoked(self, revoked: set[TopicPartition]) -> tuple[dict[TopicPartition, int], dict[TopicPartition, int]]:
        with self._lock:
            offsets = self._tracker.to_commit(revoked) if self._durable(ask=False) else {}
            positions = self._tracker.revoked(revoked)
            dropped = self._scheduler.drop(revoked)
        self._metrics.status.revoked(tp.partition for tp in revoked)
        log.info("partitions.revoked", partitions=sorted(tp.partition for tp in revoked), dropped=dropped)
        return offsets, positions

    # -- stopping -------------------------------------------------------------------------------

    def _shutdown(self, grace: float = 30.0) -> None:
        log.info("consumer.stopping", running=self._workers.running, queued=len(self._scheduler))
        deadline = self._clock() + grace
        while self._workers.running and self._clock() < deadline:
            self._collect()  # finish what is running; queued records are left for the next owner
        self._commit(force=True)
        self._flush()
        self._workers.shutdown()
        self._consumer.close()
        log.info("consumer.stopped")

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {"buffered": len(self._scheduler), "running": self._workers.running}
