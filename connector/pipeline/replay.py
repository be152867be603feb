"""``resend-connector replay``: dead-lettered records through the same path again.

The replay reads the dead-letter topic up to where it ended when the replay started (records that
fail again are written back behind that point, so one run never loops), from where the previous
replay with the same filters stopped. Each record is decoded, transformed, planned and applied as
the service would; one that fails again goes back to the dead-letter topic with its attempt count
raised, or to the parked topic once it reaches ``kafka.dead_letter_max_attempts``. Progress is
committed only past finished records, so killing a replay loses nothing.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kafka import KafkaConsumer, OffsetAndMetadata, TopicPartition
from tqdm import tqdm

from connector.errors import ConfigurationError, PauseError, RetryableError
from connector.logs import get_logger
from connector.pipeline.dead_letter import (
    CLASS_NAME,
    STAGE,
    FailureContext,
    context_of,
    dead_letter_for,
)
from connector.pipeline.kafka_io import client_config
from connector.pipeline.replay_report import DryRunReport
from connector.pipeline.runner import backoff_seconds
from connector.settings import Settings

__all__ = ["ReplayFilter", "run_replay"]

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class ReplayFilter:
    stage: str | None = None
    exception: str | None = None
    topic: str | None = None
    partition: int | None = None
    from_offset: int | None = None
    to_offset: int | None = None
    since: datetime | None = None
    until: datetime | None = None
    key: bytes | None = None

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> ReplayFilter:
        return cls(
            stage=args.stage,
            exception=args.exception,
            topic=args.topic,
            partition=args.partition,
            from_offset=args.from_offset,
            to_offset=args.to_offset,
            since=_time(args.since, "--since"),
            until=_time(args.until, "--until"),
            key=args.key.encode() if args.key is not None else None,
        )

    def is_empty(self) -> bool:
        return self == ReplayFilter()

    def fingerprint(self) -> str:
        return hashlib.sha256(repr(self).encode()).hexdigest()[:10]

    def matches(self, key: bytes | None, headers: list[tuple[str, bytes]], timestamp_ms: int) -> bool:
        found = {k: v.decode("utf-8", "replace") for k, v in headers}
        origin = context_of(headers, FailureContext("", -1, -1))
        exception = found.get(CLASS_NAME, "")
        short_name = exception.rsplit(".", 1)[-1]
        failed_at = datetime.fromisoformat(origin.first_failure) if origin.first_failure else None
        checks = (
            self.stage is None or found.get(STAGE) == self.stage,
            self.exception is None or self.exception in (exception, short_name),
            self.topic is None or origin.topic == self.topic,
            self.partition is None or origin.partition == self.partition,
            self.from_offset is None or origin.offset >= self.from_offset,
            self.to_offset is None or origin.offset <= self.to_offset,
            self.since is None or (failed_at is not None and failed_at >= self.since),
            self.until is None or (failed_at is not None and failed_at < self.until),
            self.key is None or key == self.key,
        )
        return all(checks)


def _time(text: str | None, option: str) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise ConfigurationError(f"{option}: not an ISO-8601 time: {text!r}") from None


def run_replay(settings: Settings, args: argparse.Namespace) -> int:
    from connector.app import build_parts

    filters = ReplayFilter.from_args(args)
    group = f"{settings.kafka.group_id}-replay"
    if not filters.is_empty():
        group += f"-{filters.fingerprint()}"  # a filtered replay keeps its own place
    with ExitStack() as stack:
        parts = build_parts(settings, stack)
        consumer = KafkaConsumer(**client_config(settings.kafka), group_id=group, enable_auto_commit=False)
        stack.callback(consumer.close)
        topic = settings.kafka.dead_letter_topic
        if topic not in consumer.topics():  # asking for its partitions could create it on some brokers
            raise ConfigurationError(f"dead-letter topic {topic} does not exist (kafka.dead_letter_topic)")
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        consumer.assign(partitions)
        if args.from_beginning:
            consumer.seek_to_beginning(*partitions)
        else:
            _start_after_committed(consumer, partitions)
        ends: dict[TopicPartition, int] = consumer.end_offsets(partitions)
        total = sum(max(0, ends[tp] - consumer.position(tp)) for tp in partitions)
        replay = _Replay(settings, parts, consumer, dry_run=args.dry_run, as_json=getattr(args, "json", False))
        bar = tqdm(total=total, unit="rec", disable=args.no_progress or args.dry_run, file=sys.stderr)
        stack.callback(bar.close)
        matched = 0
        for tp, record in _records_until(consumer, ends):
            bar.update(1)
            if args.limit is not None and matched >= args.limit:
                break
            headers = list(record.headers or ())
            if filters.matches(record.key, headers, record.timestamp):
                matched += 1
                if not replay.one(record, headers):
                    return 2
            replay.done(tp, record.offset)
        replay.commit(force=True)
        replay.report(matched)
    return 0


def _start_after_committed(consumer: KafkaConsumer, partitions: list[TopicPartition]) -> None:
    for tp in partitions:
        committed = consumer.committed(tp)
        if committed is None:
            consumer.seek_to_beginning(tp)
        else:
            consumer.seek(tp, committed)


def _records_until(consumer: KafkaConsumer, ends: dict[TopicPartition, int]) -> Iterator[tuple[TopicPartition, Any]]:
    while any(consumer.position(tp) < end for tp, end in ends.items()):
        for tp, records in consumer.poll(timeout_ms=1000).items():
            for record in records:
                if record.offset < ends[tp]:
                    yield tp, record


class _Replay:
    def __init__(
        self, settings: Settings, parts: Any, consumer: KafkaConsumer, *, dry_run: bool, as_json: bool = False
    ) -> None:
        self._settings = settings
        self._parts = parts
        self._consumer = consumer
        self._dry_run = dry_run
        self._out = DryRunReport(as_json=as_json)
        self._pending: dict[TopicPartition, int] = {}
        self._last_commit = time.monotonic()
        self.counts = {"applied": 0, "skipped": 0, "failed_again": 0, "parked": 0, "planned": 0, "would_fail_again": 0}

    def one(self, record: Any, headers: list[tuple[str, bytes]]) -> bool:
        """Replay one record; False means stop (a pause condition: quota or key)."""
        self._out.saw(headers)
        if self._dry_run:
            return self._plan(record, headers)
        attempt = 0
        while True:
            try:
                results = self._parts.processor.process(record.value)
            except RetryableError as exc:
                attempt += 1
                delay = backoff_seconds(attempt, exc.retry_after)
                log.warning("replay.retry", error=type(exc).__name__, delay=round(delay, 2))
                time.sleep(delay)
                continue
            except PauseError as exc:
                log.error("replay.paused", error=type(exc).__name__, detail=str(exc))
                print(f"replay stopped: {type(exc).__name__}: {exc}", file=sys.stderr)
                return False
            except Exception as exc:  # noqa: BLE001 - anything else fails the record again
                self._fail_again(record, headers, exc)
                return True
            for result in results:
                self.counts["applied" if result.status == "applied" else "skipped"] += 1
            return True

    def _plan(self, record: Any, headers: list[tuple[str, bytes]]) -> bool:
        ids = self._parts.processor.identify(record.value)
        try:
            commands = self._parts.processor.plan(record.value)
        except Exception as exc:  # noqa: BLE001 - a dry run reports and goes on
            self.counts["would_fail_again"] += 1
            self._out.record(record, headers, ids, error=exc)
            return True
        self.counts["planned"] += 1
        described = []
        for command in commands:
            describe = getattr(command, "describe", None)
            described.append(str(describe() if callable(describe) else command))
        self._out.record(record, headers, ids, commands=described)
        return True

    def _fail_again(self, record: Any, headers: list[tuple[str, bytes]], error: Exception) -> None:
        origin = context_of(headers, FailureContext(record.topic, record.partition, record.offset))
        letter = dead_letter_for(
            key=record.key,
            value=record.value,
            headers=headers,
            timestamp_ms=record.timestamp,
            error=error,
            context=origin,
            connector_name=self._settings.kafka.group_id,
        )
        parked = origin.attempts + 1 >= self._settings.kafka.dead_letter_max_attempts
        topic = self._settings.kafka.parked_topic if parked else self._settings.kafka.dead_letter_topic
        self._parts.dead_letters.send(topic, letter)
        self.counts["parked" if parked else "failed_again"] += 1
        log.warning("replay.failed_again", error=type(error).__name__, attempts=origin.attempts + 1, parked=parked)

    def done(self, tp: TopicPartition, offset: int) -> None:
        if self._dry_run:
            return
        self._pending[tp] = offset + 1
        self.commit()

    def commit(self, *, force: bool = False) -> None:
        if self._dry_run or not self._pending:
            return
        if not force and time.monotonic() - self._last_commit < 1.0:
            return
        self._consumer.commit({tp: OffsetAndMetadata(o, "", -1) for tp, o in self._pending.items()})
        self._pending.clear()
        self._last_commit = time.monotonic()

    def summary(self, matched: int) -> str:
        parts = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in self.counts.items() if v)
        return f"replayed {matched} record(s): {parts or 'nothing to do'}"

    def report(self, matched: int) -> None:
        self._out.finish(self.summary(matched), {k: v for k, v in self.counts.items() if v}, matched)
