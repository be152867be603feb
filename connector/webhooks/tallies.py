"""What deliveries leave for the console: per broadcast, the email events the receiver wrote, counted
in total and by recipient (unique opens and clicks); and when the last delivery came.

Keys, under ``redis.key_prefix``:
- ``broadcast-events:<broadcast id>``         hash event type (``email.opened``...) -> deliveries
- ``broadcast-unique:<broadcast id>:<type>``  HyperLogLog of the recipients (about 12 KB at most each)
- ``webhooks:last-delivery``                  JSON ``{"at": ISO time, "type": event type}``
Both broadcast keys expire :data:`TALLY_TTL_SECONDS` after the broadcast's last event.

Counted once per svix-id (after the dedupe marks it done); best effort: a Redis failure here is logged
and the delivery still answers 2xx, since its events are already written to Kafka.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from connector.errors import RetryableError
from connector.logs import get_logger
from connector.redisio import REDIS_ERRORS
from connector.state import StateStore

__all__ = ["TALLY_TTL_SECONDS", "broadcast_tally", "last_delivery", "record_delivery"]

log = get_logger(__name__)
_NOT_WRITTEN: tuple[type[Exception], ...] = (*REDIS_ERRORS, RetryableError)

TALLY_TTL_SECONDS = 90 * 86_400
UNIQUE = ("email.opened", "email.clicked")


def record_delivery(store: StateStore, kind: str, payload: Any, emails: Sequence[str]) -> None:
    data = payload.get("data") if isinstance(payload, dict) else None
    broadcast_id = data.get("broadcast_id") if isinstance(data, dict) else None
    try:
        pipe = store.client.pipeline(transaction=False)
        at = datetime.now(UTC).isoformat(timespec="seconds")
        pipe.set(store.key("webhooks", "last-delivery"), json.dumps({"at": at, "type": kind}))
        if isinstance(broadcast_id, str) and broadcast_id and kind.startswith("email."):
            events = store.key("broadcast-events", broadcast_id)
            pipe.hincrby(events, kind, len(emails) or 1)
            pipe.expire(events, TALLY_TTL_SECONDS)
            if kind in UNIQUE and emails:
                unique = store.key("broadcast-unique", broadcast_id, kind)
                pipe.pfadd(unique, *emails)
                pipe.expire(unique, TALLY_TTL_SECONDS)
        pipe.execute()
    except _NOT_WRITTEN as exc:
        log.warning("webhook.tally_not_written", type=kind, error=type(exc).__name__)


def broadcast_tally(store: StateStore, broadcast_id: str) -> dict[str, tuple[int, int | None]]:
    """Event type -> (deliveries, unique recipients where counted) for one broadcast."""
    pipe = store.client.pipeline(transaction=False)
    pipe.hgetall(store.key("broadcast-events", broadcast_id))
    for kind in UNIQUE:
        pipe.pfcount(store.key("broadcast-unique", broadcast_id, kind))
    totals, *uniques = pipe.execute()
    found: dict[str, tuple[int, int | None]] = {str(kind): (int(count), None) for kind, count in totals.items()}
    for kind, unique in zip(UNIQUE, uniques, strict=True):
        found[kind] = (found.get(kind, (0, None))[0], int(unique))
    return found


def last_delivery(store: StateStore) -> dict[str, Any] | None:
    raw = store.client.get(store.key("webhooks", "last-delivery"))
    try:
        found = json.loads(raw) if raw else None
    except ValueError:
        return None
    return found if isinstance(found, dict) else None
