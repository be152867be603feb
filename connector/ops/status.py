"""``resend-connector status EMAIL``: what the connector knows about one contact.

Everything comes from the sync records the connector keeps in Redis as it works
(:class:`connector.state.SyncRecord`); Resend is not asked, so the answer costs no rate limit.
"""

from __future__ import annotations

from typing import TextIO

import redis

from connector.errors import InvalidEventError
from connector.mapping.email import normalise_email
from connector.redisio import connect
from connector.settings import Settings
from connector.state import StateStore, SyncRecord

__all__ = ["format_status", "run_status"]


def format_status(record: SyncRecord, segment_names: dict[str, str]) -> list[str]:
    """The lines ``status`` prints; ``segment_names`` maps segment id -> name (ids show when unknown)."""
    outcome = record.last_outcome or "none"
    fields = [
        ("email", record.email),
        ("known contact", "yes" if record.known else "no"),
        ("last sync", record.last_sync or "never"),
        ("last outcome", outcome),
        ("last error", record.last_error or "none"),
        ("managed segments", ", ".join(sorted(segment_names.get(i, i) for i in record.managed)) or "none"),
        ("userIds", ", ".join(sorted(record.user_ids)) or "none"),
    ]
    return [f"{label + ':':18} {value}" for label, value in fields]


def _knows_anything(record: SyncRecord) -> bool:
    return record.known or record.last_sync is not None or bool(record.user_ids)


def run_status(settings: Settings, email: str, out: TextIO, *, redis_client: redis.Redis | None = None) -> int:
    """Prints what is known; exit 1 when the connector knows nothing of this email (or it is invalid)."""
    try:
        normalised = normalise_email(email)
    except InvalidEventError as exc:
        print(f"status: {exc}", file=out)
        return 1
    client = redis_client if redis_client is not None else connect(settings.redis)
    try:
        store = StateStore(
            client,
            prefix=settings.redis.key_prefix,
            user_ttl_seconds=settings.destination.user_id_cache_ttl_days * 86_400,
            refused_ttl_seconds=settings.destination.refused_property_ttl_seconds,
        )
        record = store.sync_record(normalised)
        names = {segment_id: name for name, segment_id in store.segment_ids()[0].items()}
    finally:
        if redis_client is None:
            client.close()
    for line in format_status(record, names):
        print(line, file=out)
    return 0 if _knows_anything(record) else 1
