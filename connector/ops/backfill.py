"""``resend-connector backfill FILE``: the first migration of existing contacts.

Rows (see :mod:`connector.ops.rows`) become identify events on the events topic, so they take the
same path as live events and obey the same shared rate limit. Resuming without duplicates:

- the file is identified by a hash of its content, and each event's messageId is
  ``backfill-<file hash>-<line>``, the same on every run;
- records are sent in batches; after each batch the producer is flushed (``acks=all``, in order),
  every record's acknowledgement is checked, and what they cover is written to Redis
  (``<key_prefix>backfill:<file hash>``: the line up to which everything is done, plus any line
  acknowledged after a record Kafka refused). Only then does the next batch start;
- a rerun skips every line the checkpoint covers. Ctrl-C and SIGTERM stop at once, keep what Kafka
  acknowledged and save the checkpoint, so the rerun resumes exactly after it. Only a SIGKILL
  between an acknowledgement and its checkpoint can produce one batch again (same messageIds);
- a lease in Redis stops a second run on the same file while the first is alive.

Bad rows (no or an invalid email, unreadable JSON) are reported with their line and skipped.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import secrets
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any, Protocol, TextIO

import redis
from tqdm import tqdm

from connector.errors import RetryableError
from connector.ops.rows import BadRow, FileFormat, check_file, file_format, identify_event, read_rows
from connector.redisio import translated
from connector.settings import Settings
from connector.wiring import Wiring

__all__ = ["EXIT_INTERRUPTED", "Checkpoint", "FileIdentity", "Progress", "identify_file", "run_backfill"]

# Rows per acknowledged batch: the most a SIGKILL can make a rerun produce again.
_BATCH = 500
_FLUSH_TIMEOUT_S = 60.0
# The lease outlives a batch by far (producing is not rate limited; the consumer is) and frees the
# file a minute after a killed run.
_LEASE_MS = 60_000
_RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"
EXIT_INTERRUPTED = 130


class SendFuture(Protocol):
    def get(self, timeout: float | None = None) -> Any: ...


class Producer(Protocol):
    """The part of ``kafka.KafkaProducer`` a backfill uses (a seam for unit tests)."""

    def send(self, topic: str, *, key: bytes, value: bytes) -> SendFuture: ...
    def flush(self, timeout: float | None = None) -> None: ...
    def close(self, timeout: float | None = None) -> None: ...


@dataclass(frozen=True, slots=True)
class FileIdentity:
    digest: str  # of the content: a copy resumes, an edited file is a new backfill
    lines: int


def identify_file(path: Path) -> FileIdentity:
    digest = hashlib.sha256()
    lines = 0
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
            lines += block.count(b"\n")
    return FileIdentity(digest.hexdigest()[:24], lines)


@dataclass(frozen=True, slots=True)
class Progress:
    """Every line up to ``through`` is done (sent and acknowledged, or a bad row); so are the lines
    in ``also_done``, acknowledged beyond a record Kafka refused (another partition, say)."""

    through: int = 0
    also_done: frozenset[int] = frozenset()

    def is_done(self, line: int) -> bool:
        return line <= self.through or line in self.also_done


class Checkpoint:
    """A file's :class:`Progress` in a Redis hash, and a lease so only one run works on the file."""

    def __init__(self, client: redis.Redis, key: str, file_name: str) -> None:
        self._client = client
        self.key = key
        self._file_name = file_name
        self._lease_token = secrets.token_hex(16)

    def load(self) -> Progress:
        with translated():
            line, also = self._client.hmget(self.key, ["line", "also_done"])
        extra = frozenset(int(n) for n in str(also or "").split(",") if n)
        return Progress(int(str(line)) if line is not None else 0, extra)

    def save(self, progress: Progress) -> None:
        fields: dict[Any, Any] = {
            "line": progress.through,
            "also_done": ",".join(str(n) for n in sorted(progress.also_done)),
            "file": self._file_name,  # for an operator reading the key
            "updated": _now(),
        }
        with translated():
            pipe = self._client.pipeline(transaction=False)
            pipe.hset(self.key, mapping=fields)
            pipe.pexpire(self.key + ":lease", _LEASE_MS)
            pipe.execute()

    def acquire(self) -> bool:
        with translated():
            return bool(self._client.set(self.key + ":lease", self._lease_token, nx=True, px=_LEASE_MS))

    def release(self) -> None:
        with translated():
            self._client.eval(_RELEASE, 1, self.key + ":lease", self._lease_token)


@dataclass(slots=True)
class _Tally:
    produced: int = 0
    already_done: int = 0
    bad: int = 0

    def summary(self, name: str) -> str:
        return f"backfill {name}: {self.produced} produced, {self.already_done} already done, {self.bad} bad rows"


class _Batch:
    """Sent but not yet checkpointed: (line, future) in send order, and the last line looked at."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.sent: list[tuple[int, SendFuture]] = []
        self.through = progress.through

    def settle(self, producer: Producer, checkpoint: Checkpoint) -> None:
        """Wait for the acknowledgements, then checkpoint what they cover.

        Raises RetryableError naming the first line Kafka did not acknowledge; the lines
        acknowledged after it are checkpointed too, so the rerun sends only what is missing.
        """
        from connector.kafka import KafkaError

        with contextlib.suppress(KafkaError):  # a timeout shows below as an unfinished future
            producer.flush(timeout=_FLUSH_TIMEOUT_S)
        first_failure: tuple[int, KafkaError] | None = None
        acknowledged: set[int] = set()
        for line, future in self.sent:
            try:
                future.get(timeout=0)
                acknowledged.add(line)
            except KafkaError as exc:
                first_failure = first_failure or (line, exc)
        through = first_failure[0] - 1 if first_failure else self.through
        also = {n for n in self.progress.also_done | acknowledged if n > through}
        self.progress = Progress(through, frozenset(also))
        checkpoint.save(self.progress)
        self.sent.clear()
        if first_failure:
            failed_line, error = first_failure
            raise RetryableError(f"Kafka did not acknowledge line {failed_line}: {type(error).__name__}") from error


def run_backfill(
    settings: Settings,
    path: Path,
    *,
    fmt: str | None,
    progress: bool,
    out: TextIO,
    producer: Producer | None = None,
    redis_client: redis.Redis | None = None,
) -> int:
    """Produce one identify event per new row; 0 when the file is done, 130 when interrupted."""
    kind = file_format(path, fmt)
    check_file(path, kind)
    identity = identify_file(path)
    tally = _Tally()
    with contextlib.ExitStack() as cleanup:
        parts = Wiring(settings, cleanup)
        client = redis_client if redis_client is not None else parts.redis
        checkpoint = Checkpoint(client, f"{settings.redis.key_prefix}backfill:{identity.digest}", path.name)
        if not checkpoint.acquire():
            print(f"backfill {path.name}: another backfill of this file is running; try again later", file=out)
            return 1
        cleanup.callback(_release_quietly, checkpoint)
        sink = producer if producer is not None else parts.event_producer()
        cleanup.callback(sink.close, timeout=_FLUSH_TIMEOUT_S)
        try:
            with _sigterm_as_interrupt():
                _produce(settings.kafka.topic, path, kind, identity, checkpoint, sink, tally, progress=progress,
                         out=out)  # fmt: skip
        except KeyboardInterrupt:
            print(f"{tally.summary(path.name)}; interrupted, run again to resume", file=out)
            return EXIT_INTERRUPTED
        except RetryableError:
            print(f"{tally.summary(path.name)}; stopped, run again to resume", file=out)
            raise
    print(tally.summary(path.name), file=out)
    return 0


def _release_quietly(checkpoint: Checkpoint) -> None:
    with contextlib.suppress(RetryableError):  # the lease expires by itself
        checkpoint.release()


def _produce(
    topic: str,
    path: Path,
    kind: FileFormat,
    identity: FileIdentity,
    checkpoint: Checkpoint,
    producer: Producer,
    tally: _Tally,
    *,
    progress: bool,
    out: TextIO,
) -> None:
    done = checkpoint.load()
    batch = _Batch(done)
    # disable=None: no bar when stderr is not a terminal (a Job's log), even if progress was asked for.
    bar = tqdm(total=identity.lines, unit="line", disable=None if progress else True, leave=False)
    try:
        for row in read_rows(path, kind):
            bar.update(max(0, row.line - bar.n))
            if done.is_done(row.line):
                tally.already_done += 1
                continue
            if isinstance(row, BadRow):
                tally.bad += 1
                tqdm.write(f"line {row.line}: skipped: {row.reason}", file=out)
            else:
                event = identify_event(row, f"backfill-{identity.digest}-{row.line}")
                batch.sent.append(
                    (row.line, producer.send(topic, key=row.email.encode(), value=json.dumps(event).encode()))
                )
                tally.produced += 1
            batch.through = row.line
            if len(batch.sent) >= _BATCH:
                batch.settle(producer, checkpoint)
        batch.settle(producer, checkpoint)
    except KeyboardInterrupt:
        # Keep what Kafka acknowledged: the rerun resumes after it instead of sending it again.
        with contextlib.suppress(RetryableError):
            batch.settle(producer, checkpoint)
        raise
    finally:
        bar.close()


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM (docker stop, a Kubernetes Job deleted) stops like Ctrl-C, so the checkpoint is saved."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
