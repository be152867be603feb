"""What the console reads from and writes to Kafka (through connector.kafka.browse): the dead-letter
topic's newest records as :class:`Letter` with counts, one record by place (for "Sync again"), and
producing such a record again."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from connector.dead_letters.format import CLASS_NAME, MESSAGE, STAGE, FailureContext, context_of
from connector.kafka import browse
from connector.settings import KafkaSettings

__all__ = ["Letter", "LetterCounts", "letter_of", "produce_again", "read_letters", "read_record"]

_READ_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class Letter:
    """One dead-lettered record as the console shows it (bytes decoded leniently, never executed)."""

    partition: int
    offset: int
    timestamp_ms: int
    key: str | None
    value: str
    headers: tuple[tuple[str, str], ...]
    stage: str
    reason: str
    message: str
    origin: FailureContext


@dataclass
class LetterCounts:
    total: int = 0
    by_reason: Counter[tuple[str, str]] = field(default_factory=Counter)
    by_hour: Counter[str] = field(default_factory=Counter)


def _text(raw: bytes | None) -> str:
    return "" if raw is None else raw.decode("utf-8", "replace")


def letter_of(record: Any) -> Letter:
    headers = tuple((k, _text(v)) for k, v in record.headers or ())
    found = dict(headers)
    return Letter(
        partition=record.partition,
        offset=record.offset,
        timestamp_ms=record.timestamp,
        key=None if record.key is None else _text(record.key),
        value=_text(record.value),
        headers=headers,
        stage=found.get(STAGE, "unknown"),
        reason=found.get(CLASS_NAME, "unknown").rsplit(".", 1)[-1],
        message=found.get(MESSAGE, ""),
        origin=context_of(record.headers, FailureContext(record.topic, record.partition, record.offset)),
    )


def read_letters(settings: KafkaSettings, topic: str, *, newest: int = 200) -> tuple[list[Letter], LetterCounts]:
    """The topic's newest ``newest`` records per partition (newest first), and counts over them."""
    records, total = browse.read_newest(settings, topic, newest)
    letters = [letter_of(record) for record in records]
    counts = LetterCounts(total=total)
    for letter in letters:
        counts.by_reason[(letter.stage, letter.reason)] += 1
        counts.by_hour[time.strftime("%Y-%m-%d %H:00", time.gmtime(letter.timestamp_ms / 1000))] += 1
    letters.sort(key=lambda letter: letter.timestamp_ms, reverse=True)
    return letters, counts


read_record = browse.read_one
produce_again = browse.produce_again
