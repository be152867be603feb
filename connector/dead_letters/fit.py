"""Dead letters the topic refuses as they are: smaller copies that still say everything.

A record can be too large for the dead-letter topic (the events topic may allow larger records, or
the connector's producer request limit is lower), or carry something the topic refuses (a
timestamp out of the broker's range). The connector never follows the limit of one topic by
guessing another's; it writes, and when the write is refused for good it writes a smaller copy:

1. :func:`fitted`: when the refusal was about size, the value cut to its first 64 KiB, the key and
   each header value to 1 KiB, the error text to 16 KiB, the original sizes in
   ``__resend_connector.truncated`` (a JSON object, e.g. ``{"value": 2097152}``); when it was not
   (a timestamp out of range, an invalid record), nothing is cut and the record's timestamp moves
   to ``__resend_connector.original_timestamp``.
2. :func:`context_only`: no key, an empty value, no original headers: the context headers alone (topic,
   partition, offset, stage, error), which fit any topic; the original is still at its offset in
   the events topic until retention removes it.

A letter holds one ``original_timestamp`` at most: one carried from an earlier write (a replayed
dead letter) is the older, truer time, so it is kept and the record's own timestamp is dropped.
"""

from __future__ import annotations

import json

from connector.dead_letters.format import (
    KEY_BYTES,
    MESSAGE,
    ORIGINAL_TIMESTAMP,
    STACKTRACE,
    TRUNCATED,
    DeadLetter,
    is_ours,
    ours,
)

__all__ = ["KEY_LIMIT", "VALUE_LIMIT", "context_only", "fitted", "smaller_copies"]

VALUE_LIMIT = 64 * 1024
KEY_LIMIT = 1024
HEADER_LIMIT = 1024
TEXT_LIMIT = 16 * 1024
_TEXTS = (MESSAGE, STACKTRACE)


def _cut(data: bytes | None, limit: int, name: str, sizes: dict[str, int]) -> bytes | None:
    if data is None or len(data) <= limit:
        return data
    sizes[name] = len(data)
    return data[:limit]


def _described(sizes: dict[str, int], previous: bytes | None) -> bytes:
    """The truncation record, merged with one an earlier write made (the first sizes win)."""
    merged: dict[str, int] = {}
    if previous:
        try:
            loaded = json.loads(previous)
            merged.update({k: v for k, v in loaded.items() if isinstance(v, int)})
        except (ValueError, AttributeError):
            pass
    for name, size in sizes.items():
        merged.setdefault(name, size)
    return json.dumps(merged, sort_keys=True).encode()


def fitted(letter: DeadLetter, *, too_large: bool) -> DeadLetter:
    """The smaller copy for a refusal about size (``too_large``) or about the record (its timestamp)."""
    if not too_large:
        return DeadLetter(
            key=letter.key,
            value=letter.value,
            headers=_timestamp_moved(letter.headers, letter.timestamp_ms),
            timestamp_ms=None,
        )
    sizes: dict[str, int] = {}
    key = _cut(letter.key, KEY_LIMIT, "key", sizes)
    value = _cut(letter.value, VALUE_LIMIT, "value", sizes)
    headers: list[tuple[str, bytes]] = []
    previous: bytes | None = None
    for index, (name, data) in enumerate(letter.headers):
        if name == TRUNCATED:
            previous = data
            continue
        if name in _TEXTS:
            headers.append((name, _cut(data, TEXT_LIMIT, name.rsplit(".", 1)[-1], sizes) or b""))
        elif is_ours(name) and not name.startswith(KEY_BYTES):
            headers.append((name, data))  # context and descriptions: small, and needed
        else:
            headers.append((name, _cut(data, HEADER_LIMIT, f"header.{index}", sizes) or b""))
    headers.append((TRUNCATED, _described(sizes, previous)))
    return DeadLetter(key=key, value=value, headers=headers, timestamp_ms=letter.timestamp_ms)


def _timestamp_moved(headers: list[tuple[str, bytes]], timestamp_ms: int | None) -> list[tuple[str, bytes]]:
    """The headers with the record's timestamp in ``original_timestamp`` (one carried already wins)."""
    if timestamp_ms is None or any(name == ORIGINAL_TIMESTAMP for name, _ in headers):
        return list(headers)
    return [*headers, (ORIGINAL_TIMESTAMP, str(timestamp_ms).encode())]


def context_only(letter: DeadLetter) -> DeadLetter:
    sizes: dict[str, int] = {}
    if letter.key is not None:
        sizes["key"] = len(letter.key)
    if letter.value is not None:
        sizes["value"] = len(letter.value)
    own = [k for k, _ in letter.headers if not is_ours(k)]
    if own:
        sizes["headers"] = len(own)
    headers: list[tuple[str, bytes]] = []
    previous: bytes | None = None
    for name, data in ours(letter.headers):
        if name == TRUNCATED:
            previous = data
        elif name in _TEXTS:
            headers.append((name, data[:TEXT_LIMIT]))
        else:
            headers.append((name, data))
    headers = _timestamp_moved(headers, letter.timestamp_ms)
    headers.append((TRUNCATED, _described(sizes, previous)))
    return DeadLetter(key=None, value=b"", headers=headers, timestamp_ms=None)  # kafka-python needs key or value


def smaller_copies(letter: DeadLetter, too_large: bool) -> tuple[DeadLetter, DeadLetter]:
    """What to write, in order, of a letter the dead-letter topic refused (``too_large``: for its
    size): the fitted copy, then the context alone (connector/kafka/clients.py's DeadLetterProducer)."""
    return fitted(letter, too_large=too_large), context_only(letter)
