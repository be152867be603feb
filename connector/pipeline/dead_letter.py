"""The dead-letter topic: what a failed record carries, and writing it durably.

A dead-lettered record keeps the original key, value, headers and timestamp byte for byte, and adds
context headers named as Kafka Connect names them (``__connect.errors.*``), so tools that read
Connect's dead-letter topics read ours, plus an attempt count and the first failure time that
replay uses to park records instead of looping them.
"""

from __future__ import annotations

import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

__all__ = [
    "ATTEMPTS",
    "CONNECT_PREFIX",
    "FIRST_FAILURE",
    "DeadLetter",
    "FailureContext",
    "dead_letter_for",
    "original_headers",
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
_OURS = (CONNECT_PREFIX, "__resend_connector.")

Headers = Sequence[tuple[str, bytes]]


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


def original_headers(headers: Headers | None) -> list[tuple[str, bytes]]:
    """The record's own headers, without the ones a dead-letter write added."""
    return [(k, v) for k, v in headers or () if not k.startswith(_OURS)]


def context_of(headers: Headers | None, fallback: FailureContext) -> FailureContext:
    """The failure context a dead-lettered record carries (for replay), else ``fallback``."""
    found = {k: v.decode("utf-8", "replace") for k, v in headers or () if k.startswith(_OURS)}
    if TOPIC not in found:
        return fallback
    return FailureContext(
        topic=found[TOPIC],
        partition=int(found.get(PARTITION, "-1")),
        offset=int(found.get(OFFSET, "-1")),
        attempts=int(found.get(ATTEMPTS, "0")),
        first_failure=found.get(FIRST_FAILURE),
    )


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
    return DeadLetter(
        key=key,
        value=value,
        headers=[*original_headers(headers), *((k, v.encode()) for k, v in extra)],
        timestamp_ms=timestamp_ms,
    )
