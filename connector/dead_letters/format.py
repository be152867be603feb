"""The dead-letter topic: what a failed record carries, and writing it durably.

A dead-lettered record keeps the original key, value, headers and timestamp byte for byte, and adds
context headers named as Kafka Connect names them (``__connect.errors.*``), so tools that read
Connect's dead-letter topics read ours, plus an attempt count and the first failure time that
replay uses to park records instead of looping them.

Two things Kafka allows in a record cannot be written back as they were: kafka-python's producer
refuses a header whose value is null, and a header key must be UTF-8. A null value is written as
empty bytes and its index listed in ``__resend_connector.null_header_values``; a key that is not
UTF-8 is written with its bad bytes escaped (``\\xff``) and its original bytes kept in
``__resend_connector.header_key_bytes.<index>``. These descriptions travel with the record through
every replay. A record with neither key nor value (kafka-python's producer refuses one) is written
with an empty value and ``__resend_connector.null_key_and_value``; one kafka-python could not read
at all (connector/kafka/workarounds.py) with ``__resend_connector.record_not_read`` instead.
Records too large for the topic: see fit.py.
"""

from __future__ import annotations

import traceback
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

__all__ = [
    "ATTEMPTS",
    "CONNECT_PREFIX",
    "FIRST_FAILURE",
    "KEY_BYTES",
    "NULL_RECORD",
    "NULL_VALUES",
    "ORIGINAL_TIMESTAMP",
    "TRUNCATED",
    "DeadLetter",
    "FailureContext",
    "dead_letter_for",
    "is_ours",
    "original_headers",
    "original_place",
    "ours",
    "writable_headers",
]

CONNECT_PREFIX = "__connect.errors."
TOPIC = CONNECT_PREFIX + "topic"
PARTITION = CONNECT_PREFIX + "partition"
OFFSET = CONNECT_PREFIX + "offset"
STAGE = CONNECT_PREFIX + "stage"
CLASS_NAME = CONNECT_PREFIX + "exception.class.name"
MESSAGE = CONNECT_PREFIX + "exception.message"
STACKTRACE = CONNECT_PREFIX + "exception.stacktrace"
CONNECTOR_NAME = CONNECT_PREFIX + "connector.name"
ATTEMPTS = "__resend_connector.attempts"
FIRST_FAILURE = "__resend_connector.first_failure"
NULL_VALUES = "__resend_connector.null_header_values"
KEY_BYTES = "__resend_connector.header_key_bytes."
TRUNCATED = "__resend_connector.truncated"
ORIGINAL_TIMESTAMP = "__resend_connector.original_timestamp"
NULL_RECORD = "__resend_connector.null_key_and_value"
# The record's bytes could not be read at all (connector/kafka/workarounds.py): its key and value are not in the copy.
UNREAD_RECORD = "__resend_connector.record_not_read"
_OURS = (CONNECT_PREFIX, "__resend_connector.")
# Descriptions of what a write had to change: kept when a replayed record is dead-lettered again.
_CARRIED = (NULL_VALUES, KEY_BYTES, TRUNCATED, ORIGINAL_TIMESTAMP, NULL_RECORD, UNREAD_RECORD)

Headers = Sequence[tuple[str, bytes | None]]


@dataclass(frozen=True, slots=True)
class FailureContext:
    """Where a record came from; for a replayed record, the original place, not the DLQ's."""

    topic: str
    partition: int
    offset: int
    attempts: int = 0
    first_failure: str | None = None


@dataclass(frozen=True, slots=True)
class DeadLetter:
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]
    timestamp_ms: int | None


def original_headers(headers: Headers | None) -> list[tuple[str, bytes | None]]:
    """The record's own headers, without the ones a dead-letter write added."""
    return [(k, v) for k, v in headers or () if not k.startswith(_OURS)]


def writable_headers(headers: Headers | None) -> list[tuple[str, bytes]]:
    """The record's own headers as Kafka lets us write them, plus what describes the changes."""
    written: list[tuple[str, bytes]] = []
    described: dict[str, bytes] = {k: v or b"" for k, v in headers or () if k.startswith(_CARRIED)}
    nulls: list[int] = []
    for index, (key, value) in enumerate(original_headers(headers)):
        if value is None:
            nulls.append(index)
        raw = str.encode(key, "utf-8", "surrogateescape")
        text = raw.decode("utf-8", "backslashreplace")
        if text != key:
            described[f"{KEY_BYTES}{index}"] = raw
        written.append((text, value or b""))
    if nulls:
        described[NULL_VALUES] = ",".join(map(str, nulls)).encode()
    return [*written, *described.items()]


def _text(value: str) -> bytes:
    return value.encode("utf-8", "backslashreplace")  # an error message may hold lone surrogates


def context_of(headers: Headers | None, fallback: FailureContext) -> FailureContext:
    """The failure context a dead-lettered record carries (for replay), else ``fallback``."""
    found = {k: (v or b"").decode("utf-8", "replace") for k, v in headers or () if k.startswith(_OURS)}
    if TOPIC not in found:
        return fallback
    return FailureContext(
        topic=found[TOPIC],
        partition=_int(found.get(PARTITION), -1),
        offset=_int(found.get(OFFSET), -1),
        attempts=_int(found.get(ATTEMPTS), 0),
        first_failure=found.get(FIRST_FAILURE),
    )


def original_place(headers: Headers | None, timestamp_ms: int | None, topic: str) -> tuple[int, int, int | None] | None:
    """Where a dead letter's record was in ``topic``: partition, offset and Kafka timestamp (the one
    kept in ``original_timestamp`` when a write moved it there, else ``timestamp_ms``); None when the
    letter came from another topic or does not say where."""
    found = {k: (v or b"").decode("utf-8", "replace") for k, v in headers or () if k.startswith(_OURS)}
    partition, offset = _int(found.get(PARTITION), -1), _int(found.get(OFFSET), -1)
    if found.get(TOPIC) != topic or partition < 0 or offset < 0:
        return None
    kept = _int(found.get(ORIGINAL_TIMESTAMP), -1)
    return partition, offset, kept if kept >= 0 else timestamp_ms


def _int(text: str | None, default: int) -> int:
    try:
        return int(text) if text is not None else default
    except ValueError:
        return default


def stage_of(error: BaseException) -> str:
    return str(getattr(error, "stage", "internal"))


def dead_letter_for(
    *,
    key: bytes | None,
    value: bytes | None,
    headers: Headers | None,
    timestamp_ms: int | None,
    error: BaseException,
    context: FailureContext,
    connector_name: str,
    now: datetime | None = None,
) -> DeadLetter:
    moment = (now or datetime.now(UTC)).isoformat(timespec="milliseconds")
    stacktrace = getattr(error, "traceback_text", "") or "".join(traceback.format_exception(error))
    extra = [
        (TOPIC, context.topic),
        (PARTITION, str(context.partition)),
        (OFFSET, str(context.offset)),
        (STAGE, stage_of(error)),
        (CLASS_NAME, f"{type(error).__module__}.{type(error).__qualname__}"),
        (MESSAGE, str(error)),
        (STACKTRACE, stacktrace),
        (CONNECTOR_NAME, connector_name),
        (ATTEMPTS, str(context.attempts + 1)),
        (FIRST_FAILURE, context.first_failure or moment),
    ]
    if key is None and value is None:
        value = b""
        # An unreadable record had bytes; only a record that really had neither is called null.
        extra.append((UNREAD_RECORD if getattr(error, "record_not_read", False) else NULL_RECORD, "true"))
    return DeadLetter(
        key=key,
        value=value,
        headers=[*writable_headers(headers), *((k, _text(v)) for k, v in extra)],
        timestamp_ms=timestamp_ms,
    )


def is_ours(name: str) -> bool:
    """Whether a header is one a dead-letter write added (context and descriptions)."""
    return name.startswith(_OURS)


def ours(headers: Headers) -> Iterator[tuple[str, bytes]]:
    """The headers a dead-letter write added."""
    return ((k, v or b"") for k, v in headers if k.startswith(_OURS))
