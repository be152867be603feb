"""kafka-python's version-tied workarounds, in one place: verified on kafka-python 3.0.12.

Each reaches into kafka-python's private state or replaces one of its functions, so each is tied to
the releases it was verified on (``VERIFIED_ON``): a kafka-python upgrade is verified against the
tests named there, and added to it, before it ships. Four of them:

Containing what kafka-python raises about one record, so one record never stops a partition:

* :func:`install_lenient_header_keys`: kafka-python decodes header keys as strict UTF-8 while it
  unpacks a batch, and a key that is not (Kafka's brokers do not check) makes ``poll()`` raise for
  the whole partition, at the same offset, forever. Installed, such a record is read with its key
  decoded with ``surrogateescape`` (the original bytes survive), and :func:`header_fault` names it,
  so the record is dead-lettered (stage ``decode``) like any other undecodable record.
* :func:`poll`: any other error raised while kafka-python unpacks records (a corrupt batch, a
  checksum mismatch, a compression codec that fails) is located (partition and offset), reported
  as an :class:`Unreadable` record and skipped past, instead of escaping the loop. The runner
  dead-letters a context-only copy (the bytes could not be read) and counts it.

Keeping a consumer from losing a finished group join (kafka-python 3.0.x):

kafka-python runs JoinGroup + SyncGroup as a background task and collects its result inside
``poll()``. When ``poll()`` times out before the task finishes, the result waits for the next
``poll()``, which collects it only while the coordinator still "needs to rejoin". A group leader
whose rejoin was caused by new topic metadata stops needing it the moment its own join task runs
the assignment, so the next ``poll()`` never collects the result: the consumer stays in the
rebalancing state with no partitions, never sends another JoinGroup, and the broker holds every
other member in the rebalance until the rebalance timeout (``max_poll_interval_ms``, minutes).
Seen reliably here with a topic created just before its consumers start, and with short polls.

Two remedies, both needing the coordinator's private state (read defensively, so a kafka-python
that no longer has it simply gets neither):

* :func:`join_in_flight`: the runner polls with a real timeout while a join is in flight, so the
  task usually finishes inside the ``poll()`` that waits for it;
* :func:`repair_lost_join`: a finished join whose result nobody will collect is answered by
  asking the coordinator to rejoin, which sends a fresh JoinGroup and lets the rebalance finish.

Keeping a producer from creating the topic it writes to (kafka-python 3.0.x):

* :func:`no_auto_creation`: kafka-python accepts ``allow_auto_create_topics`` but never hands it to
  the cluster metadata its requests are built from, so every producer asks the broker to auto-create
  a topic it writes to; a deleted dead-letter topic came back at once, with the broker's defaults
  (issue #24 point 4; tests/integration/test_dead_letter_pause.py).
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, SupportsIndex, overload

from kafka import KafkaConsumer, TopicPartition
from kafka.record.default_records import DefaultRecordBatch

from connector.errors import DecodeError
from connector.logs import get_logger

__all__ = [
    "VERIFIED_ON",
    "Unreadable",
    "UnreadableRecordError",
    "header_fault",
    "install_lenient_header_keys",
    "join_in_flight",
    "no_auto_creation",
    "poll",
    "repair_lost_join",
    "uninstall_lenient_header_keys",
]

# The kafka-python releases these workarounds were verified on (the unit and integration tests of
# tests/unit/kafka and tests/integration/test_poll_guard_broker.py, test_group_join.py).
VERIFIED_ON = ("3.0.12",)

log = get_logger(__name__)

_UNPACKING = "_unpack_records"  # kafka-python's generator that turns fetched bytes into records
_install_lock = threading.Lock()


class UnreadableRecordError(DecodeError):
    """kafka-python could not unpack the record at this offset; its own error is the message."""

    record_not_read = True  # its dead-letter copy carries the context only (dead_letter.UNREAD_RECORD)

    def __init__(self, error: BaseException) -> None:
        super().__init__(f"kafka-python could not read the record: {type(error).__name__}: {error}")
        self.client_error = error
        self.traceback_text = "".join(traceback.format_exception(error))


@dataclass(frozen=True, slots=True)
class Unreadable:
    tp: TopicPartition
    offset: int
    error: UnreadableRecordError


# -- header keys that are not UTF-8 -------------------------------------------------------------


class _RawKey(str):
    """A header key that is not UTF-8, decoded with surrogateescape; encodes back to its bytes
    (kafka-python encodes keys again to size the record)."""

    __slots__ = ()

    def encode(self, encoding: str = "utf-8", errors: str = "strict") -> bytes:
        return str.encode(self, encoding, "surrogateescape")


class _LenientBytes(bytes):
    def decode(self, encoding: str = "utf-8", errors: str = "strict") -> str:
        return _RawKey(bytes.decode(self, encoding, "surrogateescape"))


class _LenientBuffer(bytearray):
    """The batch's bytes, whose slices decode leniently: kafka-python's own parser, unchanged."""

    @overload
    def __getitem__(self, index: SupportsIndex) -> int: ...
    @overload
    def __getitem__(self, index: slice) -> bytearray: ...
    def __getitem__(self, index: SupportsIndex | slice) -> int | bytearray:
        item = bytearray.__getitem__(self, index)
        return _LenientBytes(item) if isinstance(item, bytearray) else item  # type: ignore[return-value]


def _lenient_read_msg(strict: Any) -> Any:
    def read_msg(batch: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return strict(batch, *args, **kwargs)
        except UnicodeDecodeError:
            # Only a header key is decoded while reading a record, and the failed read left the
            # batch's position where it was: read the same record again with lenient slices.
            buffer = batch._buffer
            batch._buffer = _LenientBuffer(buffer)
            try:
                return strict(batch, *args, **kwargs)
            finally:
                batch._buffer = buffer

    read_msg.strict = strict  # type: ignore[attr-defined]
    return read_msg


def install_lenient_header_keys() -> bool:
    """Make kafka-python read records whose header keys are not UTF-8 (idempotent); False when this
    kafka-python has no such reader to wrap (then :func:`poll` still contains the error)."""
    with _install_lock:
        strict = getattr(DefaultRecordBatch, "_read_msg", None)
        if strict is None:
            return False
        if not hasattr(strict, "strict"):
            DefaultRecordBatch._read_msg = _lenient_read_msg(strict)
        return True


def uninstall_lenient_header_keys() -> None:
    """For tests of the second layer: kafka-python's strict reader again."""
    with _install_lock:
        strict = getattr(DefaultRecordBatch._read_msg, "strict", None)
        if strict is not None:
            DefaultRecordBatch._read_msg = strict


def header_fault(headers: Sequence[tuple[str, bytes | None]] | None) -> DecodeError | None:
    """A DecodeError for a record whose header keys are not UTF-8, else None (the common case)."""
    for index, (key, _) in enumerate(headers or ()):
        if key.isascii():
            continue
        try:
            str.encode(key, "utf-8")
        except UnicodeEncodeError:
            raw = str.encode(key, "utf-8", "surrogateescape")
            return DecodeError(f"header {index} has a key that is not valid UTF-8: {raw!r}")
    return None


# -- errors raised while unpacking ------------------------------------------------------------


def _raised_while_unpacking(error: BaseException) -> bool:
    tb = error.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_name == _UNPACKING:
            return True
        tb = tb.tb_next
    return False


def _failing_partition(consumer: KafkaConsumer) -> TopicPartition | None:
    """The partition whose records kafka-python was unpacking (its fetcher keeps them in line)."""
    in_line = getattr(getattr(consumer, "_fetcher", None), "_next_partition_records", None)
    tp = getattr(in_line, "topic_partition", None)
    return tp if isinstance(tp, TopicPartition) else None


def poll(consumer: KafkaConsumer, *, timeout_ms: int, max_records: int) -> tuple[dict[Any, Any], list[Unreadable]]:
    """``consumer.poll`` with records kafka-python cannot unpack reported and skipped past.

    An error that is not about unpacking records (network, authorization, ...) is raised as before.
    """
    try:
        return consumer.poll(timeout_ms=timeout_ms, max_records=max_records), []
    except Exception as exc:
        tp = _failing_partition(consumer) if _raised_while_unpacking(exc) else None
        if tp is None:
            raise
        offset = consumer.position(tp)
        if offset is None:
            raise
        # Past it: kafka-python drops the records it had in line for this partition and fetches
        # from the next offset (a whole unreadable batch is skipped one offset at a time).
        consumer.seek(tp, offset + 1)
        error = UnreadableRecordError(exc)
        log.error(
            "record.unreadable",
            topic=tp.topic,
            partition=tp.partition,
            offset=offset,
            error=type(exc).__name__,
            detail=str(exc)[:500],
        )
        return {}, [Unreadable(tp, offset, error)]


# -- the group join ----------------------------------------------------------------------------


def _join_task(consumer: Any) -> tuple[Any, Any]:
    coordinator = getattr(consumer, "_coordinator", None)
    return coordinator, getattr(coordinator, "_join_task", None)


def join_in_flight(consumer: Any) -> bool:
    """Whether a JoinGroup/SyncGroup round is under way (or finished and not yet collected)."""
    _, task = _join_task(consumer)
    return task is not None


def repair_lost_join(consumer: Any) -> bool:
    """Ask for a rejoin when a finished join would otherwise never be collected; True if it did."""
    coordinator, task = _join_task(consumer)
    if task is None or not getattr(task, "is_done", False):
        return False
    need_rejoin = getattr(coordinator, "need_rejoin", None)
    request_rejoin = getattr(coordinator, "request_rejoin", None)
    if need_rejoin is None or request_rejoin is None or need_rejoin():
        return False  # the next poll() handles it
    request_rejoin()
    return True


def no_auto_creation(producer: Any) -> None:
    """Make ``producer``'s metadata requests ask for no topic auto-creation (see the module docstring)."""
    config = getattr(getattr(producer, "_metadata", None), "config", None)
    if isinstance(config, dict):
        config["allow_auto_create_topics"] = False
