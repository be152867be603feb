"""The run loop: poll, dispatch, collect, commit, resume, check health.

Threads: this loop owns the consumer; a pool runs records (different contacts concurrently, one
contact in order, see scheduler.py); kafka-python's network thread calls the rebalance listener.
Every shared structure (tracker, scheduler, partition state) is touched under ``self._lock``, held
only for bookkeeping, never across I/O.

Delivery is at least once. An offset is committed only when every record before it is finished:
applied, skipped, or dead-lettered with the dead-letter write acknowledged. A transient failure
keeps the record (and everything after it on the same contact) in memory, pauses fetching from its
partition and retries with backoff; quota and key problems stop all consumption and probe
periodically until they clear. Nothing is dead-lettered for being transient.
"""

from __future__ import annotations

import contextlib
import queue
import random
import threading
import time
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from kafka import ConsumerRebalanceListener, KafkaConsumer, OffsetAndMetadata, TopicPartition
from kafka.errors import CommitFailedError, KafkaError

from connector.errors import DecodeError, PauseError, RetryableError
from connector.logs import get_logger, mask_email
from connector.pipeline.dead_letter import FailureContext, dead_letter_for, stage_of
from connector.pipeline.group_join import join_in_flight, repair_lost_join
from connector.pipeline.kafka_io import DeadLetterProducer
from connector.pipeline.metrics import Metrics
from connector.pipeline.offsets import OffsetTracker
from connector.pipeline.pause import ResumeSignal, probe_delay
from connector.pipeline.poll_guard import header_fault, install_lenient_header_keys, poll
from connector.pipeline.processor import EventResult, RecordProcessor
from connector.pipeline.scheduler import KeyedScheduler
from connector.settings import KafkaSettings

__all__ = ["Runner", "backoff_seconds"]

log = get_logger(__name__)

_COMMIT_INTERVAL = 0.5  # seconds; also bounds what a crash makes us redo
_MAX_BACKOFF = 60.0
_JOIN_POLL_MS = 3_000  # kafka-python's heartbeat interval: how long other members take to rejoin
_POLL_INTERVAL = 0.05  # seconds; with two polls' worth of records queued, poll no more often than this
_CHUNK = 32  # most records one pool task carries (different contacts, one after the other)


def backoff_seconds(attempt: int, retry_after: float | None) -> float:
    """Exponential backoff with jitter, never shorter than the server's retry-after."""
    exponential = min(_MAX_BACKOFF, 0.2 * 2 ** min(attempt, 10)) * random.uniform(0.5, 1.0)
    return float(max(exponential, retry_after or 0.0))


@dataclass(slots=True)
class _Pending:
    tp: TopicPartition
    offset: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes | None]]
    timestamp_ms: int | None
    polled_at: float
    epoch: int
    attempts: int = 0
    fault: DecodeError | None = None  # known unusable before it runs (poll_guard.py): dead-lettered


@dataclass(frozen=True, slots=True)
class _Done:
    # "finished" | "dead_lettered" | "retry" | "pause" | "deferred" (not tried: an earlier record of
    # its batch hit a pause) | "abandoned" (not tried: stopping, or its partition was revoked)
    kind: str
    results: tuple[EventResult, ...] = ()
    error: BaseException | None = None


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    """Runs on kafka-python's network thread: bookkeeping and a non-blocking commit only."""

    def __init__(self, runner: Runner) -> None:
        self._runner = runner

    def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        self._runner._on_revoked(set(revoked))

    def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        self._runner._on_assigned(set(assigned))


class Runner:
    def __init__(
        self,
        settings: KafkaSettings,
        consumer: KafkaConsumer,
        processor: RecordProcessor,
        dead_letters: DeadLetterProducer,
        metrics: Metrics,
        *,
        max_buffered: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
        resume_signal: ResumeSignal | None = None,
        pause_probe_max_seconds: float = 300.0,
        log_outcomes: bool = True,
    ) -> None:
        self._settings = settings
        self._consumer = consumer
        self._processor = processor
        self._dead_letters = dead_letters
        self._metrics = metrics
        self._max_buffered = max_buffered
        self._clock = clock
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._tracker = OffsetTracker()
        self._scheduler: KeyedScheduler[_Pending] = KeyedScheduler()
        self._pool = ThreadPoolExecutor(settings.max_in_flight_contacts, thread_name_prefix="sync")
        self._running = 0  # records handed to the pool and not yet collected
        self._tasks = 0  # pool tasks not yet finished (each carries one or more records)
        self._finished: queue.SimpleQueue[tuple[Hashable, _Pending, _Done, bool]] = queue.SimpleQueue()
        self._epochs: dict[TopicPartition, int] = {}  # the assignment each owned partition came with
        self._generation = 0
        # kafka-python keeps the fetch position of a partition that is revoked and assigned back in one
        # rebalance; records we dropped on revocation lie behind it. Where to seek back to, and when.
        self._revoked_at: dict[TopicPartition, int] = {}
        self._seeks: dict[TopicPartition, int] = {}
        self._retrying: dict[TopicPartition, int] = {}
        self._paused_until = 0.0
        # Operator hooks (#17): probes of a quota/key pause follow pause.probe_delay; `resend-connector
        # resume` (pause.ResumeSignal) ends a pause early; /status reads self._metrics.status.
        self._resume_signal = resume_signal
        self._probe_max = pause_probe_max_seconds
        self._probes = 0
        self._paused_at = 0.0  # wall-clock start of the current pause (compared with a resume request)
        self._backpressure = False
        self._last_commit = 0.0
        self._last_poll = 0.0
        # Bound once (the module logger re-binds on every call): the per-event line is the hot path,
        # and at the usual info level it must cost next to nothing.
        self._event_log = log.bind()
        self._outcome = self._event_log.info if log_outcomes else self._event_log.debug
        self._last_lag = 0.0
        install_lenient_header_keys()  # a header key that is not UTF-8 fails its record, not the loop

    # -- the loop ------------------------------------------------------------------------------

    def run(self) -> None:
        self._consumer.subscribe([self._settings.topic], listener=_Listener(self))
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
        joining = join_in_flight(self._consumer)
        now = self._clock()
        if (
            self._running  # so _collect waits for results instead of the loop spinning
            and not joining
            and len(self._scheduler) >= 2 * self._settings.max_poll_records
            and now - self._last_poll < _POLL_INTERVAL
        ):
            # Plenty queued: a poll per finished record (events that wait on Resend) would only cost
            # CPU here and on kafka-python's network thread. With less queued polls run freely, so
            # this never caps the rate records are fetched at.
            return
        self._last_poll = now
        # kafka-python finishes a group join only inside a poll() that is waiting for it (see
        # group_join.py): wait there long enough for the other members to notice the rebalance.
        idle_ms = 0 if self._running or self._runnable(now) else self._idle_ms(now)
        timeout_ms = _JOIN_POLL_MS if joining else idle_ms
        batches, unreadable = poll(self._consumer, timeout_ms=timeout_ms, max_records=self._settings.max_poll_records)
        if repair_lost_join(self._consumer):
            log.warning("consumer.join_repaired", reason="a finished group join was never collected; rejoining")
        with self._lock:
            seeks, self._seeks = self._seeks, {}
        for tp, offset in seeks.items():
            self._consumer.seek(tp, offset)  # records this poll returned for it are re-read from there
        if not batches and not unreadable:
            return
        now = self._clock()
        with self._lock:
            for bad in unreadable:  # skipped past by poll(): dead-lettered with its context only
                self._metrics.unreadable.labels(partition=str(bad.tp.partition)).inc()
                epoch = self._epochs.get(bad.tp)
                if epoch is not None:
                    item = _Pending(bad.tp, bad.offset, None, None, [], None, now, epoch, fault=bad.error)
                    self._tracker.started(bad.tp, bad.offset)
                    self._scheduler.push(bad.tp, item)
            for tp, records in batches.items():
                epoch = self._epochs.get(tp)
                if tp in seeks:
                    continue
                if epoch is None:
                    log.debug("records.discarded", partition=tp.partition, count=len(records))
                    continue  # revoked between fetch and now
                for record in records:
                    item = _Pending(
                        tp=tp,
                        offset=record.offset,
                        key=record.key,
                        value=record.value,
                        headers=list(record.headers or ()),
                        timestamp_ms=record.timestamp,
                        polled_at=now,
                        epoch=epoch,
                        fault=header_fault(record.headers) if record.headers else None,
                    )
                    self._tracker.started(tp, record.offset)
                    # One contact's events keep their order: producers key by identity, and one key
                    # always lands on one partition. Keyless records are ordered per partition.
                    lane: Hashable = (tp, record.key) if record.key is not None else tp
                    self._scheduler.push(lane, item)
            if len(self._scheduler) >= self._max_buffered and not self._backpressure:
                self._backpressure = True
                self._consumer.pause(*self._consumer.assignment())

    def _runnable(self, now: float) -> bool:
        """Whether _dispatch could start a record right now."""
        if now < self._paused_until:
            return False
        with self._lock:
            return self._scheduler.has_ready(now)

    def _idle_ms(self, now: float) -> int:
        """How long poll() may wait: until the next retry or the end of a pause, at most 200 ms."""
        with self._lock:
            wake = self._scheduler.next_retry()
        if self._paused_until > now:
            wake = self._paused_until if wake is None else min(wake, self._paused_until)
        return 200 if wake is None else max(0, min(200, int((wake - now) * 1000)))

    def _dispatch(self) -> None:
        now = self._clock()
        if now < self._paused_until:
            return
        free = self._settings.max_in_flight_contacts - self._tasks
        if free <= 0:
            return
        # A thread takes several contacts one after the other, which spares the pool's per-task cost
        # when events are cheap (most need no call), while never more than max_in_flight_contacts
        # run at once. Batches are sized as if the buffer were shared by every thread, so a thread
        # that frees up alone does not take a long batch that keeps contacts waiting behind it.
        with self._lock:
            share = -(-len(self._scheduler) // self._settings.max_in_flight_contacts)
            size = min(_CHUNK, max(1, share))
            taken = self._scheduler.take(now, free * size)
        for start in range(0, len(taken), size):
            chunk = taken[start : start + size]
            self._tasks += 1
            self._running += len(chunk)
            self._pool.submit(self._work_chunk, chunk)

    def _collect(self) -> None:
        """Settle every finished record; wait briefly for one when nothing has finished yet."""
        if not self._running:
            return
        finished: list[tuple[Hashable, _Pending, _Done, bool]] = []
        try:
            finished.append(self._finished.get(timeout=0.05))
            while True:
                finished.append(self._finished.get_nowait())
        except queue.Empty:
            pass
        now = self._clock()
        for lane, item, done, last in finished:
            self._running -= 1
            self._tasks -= last
            with self._lock:
                if done.kind == "abandoned" or self._epochs.get(item.tp) != item.epoch:
                    # Never finished, so never committed: whoever owns the partition next redoes it.
                    self._scheduler.done(lane)
                    continue
                self._settle(lane, item, done, now)

    def _settle(self, lane: Hashable, item: _Pending, done: _Done, now: float) -> None:
        if done.kind == "deferred":  # never tried: no attempt counted, back in line after the pause
            self._scheduler.retry_at(lane, max(now, self._paused_until))
            return
        if done.kind in ("retry", "pause"):
            item.attempts += 1
            retry_after = getattr(done.error, "retry_after", None)
            if done.kind == "pause":
                self._enter_pause(done.error, retry_after, now)
                self._scheduler.retry_at(lane, self._paused_until)
            else:
                delay = backoff_seconds(item.attempts, retry_after)
                self._scheduler.retry_at(lane, now + delay)
                self._metrics.count_retry(type(done.error).__name__)
                self._metrics.status.error(done.error, "retried")
                log.warning(
                    "record.retry",
                    partition=item.tp.partition,
                    offset=item.offset,
                    attempt=item.attempts,
                    delay=round(delay, 2),
                    error=type(done.error).__name__,
                    detail=str(done.error),
                )
            if item.attempts == 1:
                self._retrying[item.tp] = self._retrying.get(item.tp, 0) + 1
                self._consumer.pause(item.tp)
            return
        if item.attempts and self._retrying.get(item.tp, 0) > 0:
            self._retrying[item.tp] -= 1
        if self._paused_until and now >= self._paused_until:
            self._leave_pause()  # the probe went through
        self._scheduler.done(lane)
        self._tracker.finished(item.tp, item.offset)
        self._metrics.latency.observe(now - item.polled_at)
        for result in done.results:
            self._metrics.count_event(result.type, result.status)
            self._log_outcome(item, result)
        if done.kind == "dead_lettered":
            self._metrics.count_event("unknown", "dead_lettered")

    def _log_outcome(self, item: _Pending, result: EventResult) -> None:
        """The line that answers "what happened to this contact?": one per event (#17)."""
        self._outcome(
            "event." + result.status,
            partition=item.tp.partition,
            offset=item.offset,
            message_id=result.message_id,
            type=result.type,
            email=mask_email(result.email),
            user_id=result.user_id,
            calls=result.calls,
            reason=result.reason or None,
        )

    def _enter_pause(self, error: BaseException | None, retry_after: float | None, now: float) -> None:
        first = not self._paused_until
        if not first and now < self._paused_until:
            return  # a record that was already running when the pause began: the schedule stands
        if first:
            self._probes, self._paused_at = 0, time.time()
        delay = probe_delay(self._probes, retry_after, self._probe_max)
        self._probes += 1
        self._paused_until = now + delay
        self._consumer.pause(*self._consumer.assignment())
        self._metrics.status.paused(type(error).__name__, str(error), probe_in_seconds=delay)
        self._metrics.status.error(error, "paused")
        self._metrics.paused.set(1)
        self._metrics.ready = False
        if first:
            self._metrics.pauses.labels(reason=type(error).__name__).inc()
        log.error(
            "consumer.paused",
            reason=type(error).__name__,
            detail=str(error),
            probe_in_seconds=round(self._paused_until - now, 1),
        )

    def _leave_pause(self) -> None:
        self._paused_until = 0.0
        self._metrics.status.resumed()
        self._metrics.paused.set(0)
        self._metrics.ready = True
        log.warning("consumer.resumed")

    def _probe_now(self) -> None:
        """An operator asked to resume: what waits for the pause runs now; a refusal pauses again."""
        now = self._clock()
        with self._lock:
            self._scheduler.wake(self._paused_until, now)
        self._paused_until = max(now, 1e-9)  # still "paused" until a probe goes through
        self._probes, self._paused_at = 0, time.time()
        log.warning("consumer.resume_requested")

    def _commit(self, *, force: bool = False) -> None:
        now = self._clock()
        if not force and now - self._last_commit < _COMMIT_INTERVAL:
            return
        self._last_commit = now
        with self._lock:
            offsets = self._tracker.to_commit()
        if not offsets:
            return
        try:
            self._consumer.commit({tp: OffsetAndMetadata(o, "", -1) for tp, o in offsets.items()})
        except CommitFailedError as exc:
            # The group rebalanced under us; the partitions' new owners redo the unfinished tail.
            log.warning("offsets.commit_failed", error=str(exc))
            return
        except KafkaError as exc:
            log.warning("offsets.commit_failed", error=type(exc).__name__, retriable=exc.retriable)
            return
        with self._lock:
            self._tracker.committed(offsets)

    def _resume(self) -> None:
        if self._paused_until:
            if self._resume_signal is not None and self._resume_signal.requested_since(self._paused_at):
                self._probe_now()
            return
        with self._lock:
            assignment = self._consumer.assignment()
            if self._backpressure:
                if len(self._scheduler) > self._max_buffered // 2:
                    return
                self._backpressure = False
            resumable = [tp for tp in assignment if not self._retrying.get(tp)]
            paused = self._consumer.paused()
        to_resume = [tp for tp in resumable if tp in paused]
        if to_resume:
            self._consumer.resume(*to_resume)

    def _check_health(self) -> None:
        now = self._clock()
        self._metrics.last_loop = now
        self._metrics.in_flight.set(len(self._scheduler))
        if now - self._last_lag < 5.0:
            return
        self._last_lag = now
        with self._lock:
            points = {tp: self._tracker.position(tp) for tp in self._epochs}
        for tp, point in points.items():
            end = self._consumer.highwater(tp)
            if end is not None and point is not None:
                self._metrics.lag.labels(partition=str(tp.partition)).set(max(0, end - point))
                self._metrics.status.lag(tp.partition, max(0, end - point))

    # -- the work, on pool threads --------------------------------------------------------------

    def _work_chunk(self, chunk: list[tuple[Hashable, _Pending]]) -> None:
        paused = False
        with contextlib.ExitStack() as ahead:
            if len(chunk) > 1:  # several contacts in a row: what they need from Redis, read at once
                try:
                    ahead.enter_context(self._processor.reading_ahead([item.value for _, item in chunk]))
                except Exception as exc:  # noqa: BLE001 - only an optimisation: each record reads for itself
                    log.debug("read_ahead.failed", error=type(exc).__name__)
            for index, (lane, item) in enumerate(chunk):
                if self._stop.is_set() or self._epochs.get(item.tp) != item.epoch:
                    done = _Done("abandoned")  # stopping, or its partition was revoked since it was taken
                elif paused:
                    done = _Done("deferred")  # Resend refuses for now: the rest waits for the pause to end
                else:
                    try:
                        done = self._work(item)
                    except BaseException as exc:  # noqa: BLE001 - the loop must always hear back, or it waits forever
                        done = _Done("retry", error=exc)
                    paused = done.kind == "pause"
                self._finished.put((lane, item, done, index == len(chunk) - 1))

    def _work(self, item: _Pending) -> _Done:
        if item.fault is not None:
            return self._dead_letter(item, item.fault)
        try:
            return _Done("finished", tuple(self._processor.process(item.value)))
        except RetryableError as exc:
            return _Done("retry", error=exc)
        except PauseError as exc:
            return _Done("pause", error=exc)
        except Exception as exc:  # noqa: BLE001 - permanent errors and bugs alike: dead-letter, keep going
            return self._dead_letter(item, exc)

    def _dead_letter(self, item: _Pending, error: Exception) -> _Done:
        letter = dead_letter_for(
            key=item.key,
            value=item.value,
            headers=item.headers,
            timestamp_ms=item.timestamp_ms,
            error=error,
            context=FailureContext(item.tp.topic, item.tp.partition, item.offset),
            connector_name=self._settings.group_id,
        )
        try:
            written = self._dead_letters.send(self._settings.dead_letter_topic, letter)
        except RetryableError as exc:
            return _Done("retry", error=exc)
        self._metrics.dead_letters.labels(stage=stage_of(error)).inc()
        self._metrics.status.error(error, "dead_lettered")
        log.warning(
            "record.dead_lettered",
            partition=item.tp.partition,
            offset=item.offset,
            key=item.key.decode("utf-8", "replace") if item.key is not None else None,
            **self._processor.identify(item.value),
            stage=stage_of(error),
            error=type(error).__name__,
            detail=str(error)[:500],
            shortened=written is not letter,
        )
        return _Done("dead_lettered", error=error)

    # -- rebalancing (network thread) -----------------------------------------------------------

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
            self._metrics.ready = not self._paused_until
        self._metrics.status.assigned(tp.partition for tp in assigned)
        log.info("partitions.assigned", partitions=sorted(tp.partition for tp in assigned))

    def _on_revoked(self, revoked: set[TopicPartition]) -> None:
        with self._lock:
            offsets = self._tracker.to_commit(revoked)
            for tp in revoked:
                position = self._tracker.position(tp)
                if position is not None:
                    self._revoked_at[tp] = position
            self._tracker.forget(revoked)
            dropped = self._scheduler.drop(lambda item: item.tp in revoked)
            for tp in revoked:
                self._epochs.pop(tp, None)
                self._retrying.pop(tp, None)
        if offsets:
            try:  # non-blocking: this thread also drives heartbeats
                self._consumer.commit_async({tp: OffsetAndMetadata(o, "", -1) for tp, o in offsets.items()})
            except KafkaError as exc:
                log.warning("offsets.commit_on_revoke_failed", error=type(exc).__name__)
        self._metrics.status.revoked(tp.partition for tp in revoked)
        log.info("partitions.revoked", partitions=sorted(tp.partition for tp in revoked), dropped=dropped)

    # -- stopping -------------------------------------------------------------------------------

    def _shutdown(self, grace: float = 30.0) -> None:
        log.info("consumer.stopping", running=self._running, queued=len(self._scheduler))
        deadline = self._clock() + grace
        while self._running and self._clock() < deadline:
            self._collect()  # finish what is running; queued records are left for the next owner
        self._commit(force=True)
        self._dead_letters.flush()
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._consumer.close()
        log.info("consumer.stopped")

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {"buffered": len(self._scheduler), "running": self._running}
