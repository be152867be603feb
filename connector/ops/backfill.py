"""``resend-connector backfill FILE``: the first migration of existing contacts.

Rows of a CSV or JSON Lines file become identify events on the events topic, so they take the
same path as live events and obey the same shared rate limit. ``email`` is required; names map to
``firstName``/``lastName``/``name``; an ``audiences`` column becomes ``resendAudiences``; every other
column is a trait. Each event's messageId is derived from the file and line, and the last line
acknowledged by Kafka is kept in Redis per file, so a rerun continues after it.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from tqdm import tqdm

from connector.errors import InvalidEventError
from connector.mapping.email import normalise_email
from connector.redisio import connect, translated
from connector.settings import Settings

__all__ = ["read_rows", "row_to_event", "run_backfill"]

_BATCH = 500
_NAMES = {"first_name": "firstName", "firstname": "firstName", "last_name": "lastName", "lastname": "lastName"}


def read_rows(path: Path, fmt: str | None = None) -> Iterator[tuple[int, dict[str, Any] | None]]:
    """(line number, row) pairs; a row that cannot be parsed comes as None."""
    kind = fmt or ("jsonl" if path.suffix in {".jsonl", ".ndjson", ".json"} else "csv")
    with path.open(newline="", encoding="utf-8") as handle:
        if kind == "csv":
            for number, row in enumerate(csv.DictReader(handle), start=2):
                yield number, {k.strip(): v for k, v in row.items() if k is not None and v not in (None, "")}
            return
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                parsed = json.loads(line)
            except ValueError:
                yield number, None
                continue
            yield number, parsed if isinstance(parsed, dict) else None


def row_to_event(row: dict[str, Any], message_id: str) -> dict[str, Any]:
    traits: dict[str, Any] = {}
    for key, value in row.items():
        lowered = key.lower()
        if lowered == "audiences":
            traits["resendAudiences"] = value
        elif lowered in _NAMES:
            traits[_NAMES[lowered]] = value
        elif lowered == "email":
            traits["email"] = normalise_email(value)
        else:
            traits[key] = value
    if "email" not in traits:
        raise InvalidEventError("no email column")
    return {"type": "identify", "messageId": message_id, "traits": traits}


def _fingerprint(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:20]


def run_backfill(settings: Settings, path: Path, *, fmt: str | None, progress: bool, out: TextIO) -> int:
    from kafka import KafkaProducer

    from connector.pipeline.kafka_io import client_config

    fingerprint = _fingerprint(path)
    store = connect(settings.redis)
    checkpoint_key = f"{settings.redis.key_prefix}backfill:{fingerprint}"
    with translated():
        done_through = int(store.get(checkpoint_key) or 0)
    producer = KafkaProducer(**client_config(settings.kafka), acks="all", linger_ms=20)
    produced = skipped = bad = 0
    pending_through = done_through
    bar = tqdm(unit="row", disable=not progress, file=out)
    try:
        for number, row in read_rows(path, fmt):
            bar.update(1)
            if number <= done_through:
                skipped += 1
                continue
            try:
                if row is None:
                    raise InvalidEventError("not a JSON object")
                event = row_to_event(row, f"backfill-{fingerprint}-{number}")
            except InvalidEventError as exc:
                bad += 1
                print(f"line {number}: skipped: {exc}", file=out)
            else:
                key = event["traits"]["email"].encode()
                producer.send(settings.kafka.topic, key=key, value=json.dumps(event).encode())
                produced += 1
            pending_through = number
            if produced and produced % _BATCH == 0:
                _commit(producer, store, checkpoint_key, pending_through)
        _commit(producer, store, checkpoint_key, pending_through)
    finally:
        bar.close()
        producer.close(timeout=30)
        store.close()
    print(f"backfill: {produced} produced, {skipped} already done, {bad} bad rows", file=out)
    return 0


def _commit(producer: Any, store: Any, key: str, through: int) -> None:
    producer.flush(timeout=60)  # acks=all: every record up to `through` is durably on the topic
    with translated():
        store.set(key, through)
