"""A dead letter that carries only context, and its original read back from the events topic (#24 point 5).

A letter the dead-letter topic refused as it was is written smaller (fit.py): cut to
64 KiB, or the context headers alone. Replaying such a letter as it is can only fail again (half a
JSON document, or no value at all), so ``replay`` reads the original record from the topic,
partition and offset its context headers name, when that topic still holds it, and replays the
original bytes with the letter's context (attempts, first failure) carried on. When the topic no
longer holds it (retention, compaction, a topic deleted), the letter is replayed as it is and the
replay report says so.

The reader is connector/kafka/originals.py; the original's own headers are kept, those a dead-letter
write added are not (replay.py).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from connector.dead_letters.format import (
    ATTEMPTS,
    CONNECT_PREFIX,
    FIRST_FAILURE,
    TRUNCATED,
    UNREAD_RECORD,
    FailureContext,
    context_of,
)

__all__ = ["carried_context", "origin_if_only_context"]

Headers = Sequence[tuple[str, bytes | None]]


def origin_if_only_context(headers: Headers) -> FailureContext | None:
    """Where the original of a letter is, when the letter lacks some of its bytes (a truncation record
    naming at least one cut or left-out part); None for a whole letter. A record kafka-python could
    not read at all has no readable original either: None."""
    found = {k: v or b"" for k, v in headers if k in (TRUNCATED, UNREAD_RECORD)}
    if UNREAD_RECORD in found or not found.get(TRUNCATED):
        return None
    try:
        cut = json.loads(found[TRUNCATED])
    except ValueError:
        cut = {"unknown": 1}  # unreadable: assume the worst, the original is worth reading
    if not cut:
        return None  # a copy written whole (its timestamp moved): nothing is missing
    origin = context_of(headers, FailureContext("", -1, -1))
    return origin if origin.topic and origin.partition >= 0 and origin.offset >= 0 else None


def carried_context(headers: Headers) -> list[tuple[str, bytes | None]]:
    """The letter's failure context to carry onto its original (attempts, first failure, place);
    what described the smaller copy (the truncation record, a moved timestamp) does not apply."""
    return [(k, v) for k, v in headers if k.startswith(CONNECT_PREFIX) or k in (ATTEMPTS, FIRST_FAILURE)]
