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
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from tqdm import tqdm

if TYPE_CHECKING:
    import redis

from connector.dead_letters.format import (
    CLASS_NAME,
    STAGE,
    DeadLetter,
    FailureContext,
    context_of,
    original_headers,
    original_place,
)
from connector.dead_letters.originals import carried_context, origin_if_only_context
from connector.dead_letters.parking import parked_among
from connector.dead_letters.report import DryRunReport
from connector.dead_letters.sink import letter_for
from connector.errors import ConfigurationError
from connector.kafka import TopicPartition
from connector.kafka.records import InFlight
from connector.kafka.seams import DeadLetterReader, OriginalReader
from connector.logs import get_logger
from connector.pipeline.fate import Fate, backoff_seconds
from connector.pipeline.history import HistoryWriter
from connector.pipeline.lifecycle import LetterBox, Lifecycle
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


class _Producer(Protocol):
    def send(self, topic: str, letter: DeadLetter) -> DeadLetter: ...


class _Parts(Protocol):
    """What a replay is built from (connector.wiring.Wiring)."""

    @property
    def dead_letters(self) -> _Producer: ...

    def lifecycle(self, letters: LetterBox) -> Lifecycle: ...

    def dead_letter_source(self, group: str) -> DeadLetterReader: ...

    def original_source(self) -> OriginalReader: ...

    @property
    def history(self) -> HistoryWriter: ...

    @property
    def redis(self) -> redis.Redis: ...


def run_replay(settings: Settings, args: argparse.Namespace, parts: _Parts) -> int:
    """The dead-letter topic through the lifecycle ``parts`` assemble (connector.app)."""
    filters = ReplayFilter.from_args(args)
    group = f"{settings.kafka.group_id}-replay"
    if not filters.is_empty():
        group += f"-{filters.fingerprint()}"  # a filtered replay keeps its own place
    with ExitStack() as stack:
        source = parts.dead_letter_source(group)
        total = source.open(from_beginning=args.from_beginning)
        replay = _Replay(settings, parts, source, dry_run=args.dry_run, as_json=getattr(args, "json", False))
        bar = tqdm(total=total, unit="rec", disable=args.no_progress or args.dry_run, file=sys.stderr)
        stack.callback(bar.close)
        matched, prefix = 0, settings.redis.key_prefix
        for tp, record in source.records():
            bar.update(1)
            if args.limit is not None and matched >= args.limit:
                break
            headers = list(record.headers or ())
            if filters.matches(record.key, headers, record.timestamp):
                if parked_among(parts.redis, prefix, record.topic, [(record.partition, record.offset)]):
                    replay.counts["parked_by_operator"] += 1  # the console's Park: never run again
                else:
                    matched += 1
                    if not replay.one(record, headers):
                        return 2
            replay.done(tp, record.offset)
        replay.commit(force=True)
        replay.report(matched)
    return 0


class _Letters:
    """Where a replayed record that fails again goes: back to the dead-letter topic with its
    attempt count raised, or to the parked topic once it reaches ``dead_letter_max_attempts``."""

    def __init__(self, settings: Settings, counts: dict[str, int], producer: _Producer) -> None:
        self._settings = settings.kafka
        self._counts = counts
        self.producer = producer

    def dead_letter(self, record: InFlight, error: BaseException) -> None:
        origin = context_of(record.headers, FailureContext(record.topic, record.partition, record.offset))
        letter = letter_for(record, error, origin, self._settings.group_id)
        parked = origin.attempts + 1 >= self._settings.dead_letter_max_attempts
        topic = self._settings.parked_topic if parked else self._settings.dead_letter_topic
        self.producer.send(topic, letter)
        self._counts["parked" if parked else "failed_again"] += 1
        log.warning("replay.failed_again", error=type(error).__name__, attempts=origin.attempts + 1, parked=parked)


class _Replay:
    def __init__(
        self,
        settings: Settings,
        parts: _Parts,
        source: DeadLetterReader,
        *,
        dry_run: bool,
        as_json: bool = False,
    ) -> None:
        self._source = source
        self._dry_run = dry_run
        self._out = DryRunReport(as_json=as_json)
        self._pending: dict[TopicPartition, int] = {}
        self._last_commit = time.monotonic()
        self.counts = {"applied": 0, "skipped": 0, "failed_again": 0, "parked": 0, "planned": 0, "would_fail_again": 0,
                       "parked_by_operator": 0, "originals_read": 0, "originals_gone": 0}  # fmt: skip
        self._lifecycle = parts.lifecycle(_Letters(settings, self.counts, parts.dead_letters))
        self._history = None if dry_run else parts.history  # a replayed event joins its contact's outcomes
        self._originals = parts.original_source()
        self._events_topic = settings.kafka.topic if settings.kafka.express else None

    def one(self, record: Any, headers: list[tuple[str, bytes]]) -> bool:
        """Replay one record as ``run`` would (the same lifecycle and fates); False means stop (a
        pause condition: quota or key)."""
        self._out.saw(headers)
        key, value, own, timestamp = self._bytes_of(record, headers)
        if self._dry_run:
            return self._plan(record, headers, value)
        item = InFlight(record.topic, record.partition, record.offset, key, value, own, timestamp)
        # Its place in the events topic: an opt-out or erasure newer than it is never undone (#25).
        place = original_place(own, timestamp, self._events_topic) if self._events_topic else None
        while True:
            attempt = self._lifecycle.run(item, place=place)
            if attempt.fate is Fate.RETRY:
                item.attempts += 1
                delay = backoff_seconds(item.attempts, getattr(attempt.error, "retry_after", None))
                log.warning("replay.retry", error=type(attempt.error).__name__, delay=round(delay, 2))
                time.sleep(delay)
                continue
            if attempt.fate is Fate.PAUSE:
                error = attempt.error
                log.error("replay.paused", error=type(error).__name__, detail=str(error))
                print(f"replay stopped: {type(error).__name__}: {error}", file=sys.stderr)
                return False
            origin = context_of(own, FailureContext(record.topic, record.partition, record.offset))
            for result in attempt.results:
                self.counts[result.outcome.value] += 1
            failed = (attempt.letter,) if attempt.letter is not None else ()  # failed again (_Letters counted it)
            for result in (*attempt.results, *failed):
                if self._history is not None and result.email:
                    self._history.add(result.email, result.type, result.outcome.value, result.reason or "replayed",
                                      result.message_id, origin.topic, origin.partition, origin.offset,
                                      result.calls, result.commands)  # fmt: skip
            return True

    def _bytes_of(
        self, record: Any, headers: list[tuple[str, bytes]]
    ) -> tuple[bytes | None, bytes | None, list[tuple[str, bytes | None]], int | None]:
        """What to replay: the letter's bytes, or the original's (with the letter's context) when the
        letter carries only context and the events topic still holds the original (originals.py)."""
        origin = origin_if_only_context(headers)
        original = self._originals.read(origin) if origin is not None else None
        if origin is not None:
            self.counts["originals_read" if original is not None else "originals_gone"] += 1
            self._out.original(origin, record.offset, found=original is not None)
        if original is None:
            return record.key, record.value, list(headers), record.timestamp
        own = original_headers(original.headers)  # without what a dead-letter write added to it
        return original.key, original.value, [*own, *carried_context(headers)], original.timestamp_ms

    def _plan(self, record: Any, headers: list[tuple[str, bytes]], value: bytes | None) -> bool:
        ids = self._lifecycle.identify(value)
        try:
            commands = self._lifecycle.plan(value)
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
        self._source.commit(dict(self._pending))
        self._pending.clear()
        self._last_commit = time.monotonic()

    def summary(self, matched: int) -> str:
        parts = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in self.counts.items() if v)
        return f"replayed {matched} record(s): {parts or 'nothing to do'}"

    def report(self, matched: int) -> None:
        self._out.finish(self.summary(matched), {k: v for k, v in self.counts.items() if v}, matched)
