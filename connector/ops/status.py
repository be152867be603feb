"""``resend-connector status EMAIL``: what the connector knows about one contact."""

from __future__ import annotations

from typing import TextIO

from connector.mapping.email import normalise_email
from connector.redisio import connect
from connector.settings import Settings
from connector.state import StateStore

__all__ = ["run_status"]


def run_status(settings: Settings, email: str, out: TextIO) -> int:
    """Prints the sync record; exit 1 when the connector knows nothing of this email."""
    client = connect(settings.redis)
    try:
        store = StateStore(client, prefix=settings.redis.key_prefix, user_ttl_seconds=1, refused_ttl_seconds=1)
        record = store.sync_record(normalise_email(email))
        names = {segment_id: name for name, segment_id in store.segment_ids()[0].items()}
    finally:
        client.close()
    lines = [
        ("email", record.email),
        ("known contact", "yes" if record.known else "no"),
        ("last sync", record.last_sync or "never"),
        ("last outcome", record.last_outcome or "none"),
        ("last error", record.last_error or "none"),
        ("managed segments", ", ".join(sorted(names.get(i, i) for i in record.managed)) or "none"),
        ("userIds", ", ".join(sorted(record.user_ids)) or "none"),
    ]
    for label, value in lines:
        print(f"{label + ':':18} {value}", file=out)
    return 0 if record.known or record.last_sync else 1
