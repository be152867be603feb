"""What deliveries leave for the console: per-broadcast counts (total, unique) and the last delivery."""

from __future__ import annotations

import redis

from connector.state import StateStore
from connector.webhooks.tallies import broadcast_tally, last_delivery, record_delivery


def store(client: redis.Redis) -> StateStore:
    return StateStore(client, prefix="t:", user_ttl_seconds=600, refused_ttl_seconds=60)


def event(kind: str, broadcast_id: str | None = "b-1") -> dict[str, object]:
    data: dict[str, object] = {"to": ["a@x.com"], "email_id": "e"}
    if broadcast_id is not None:
        data["broadcast_id"] = broadcast_id
    return {"type": kind, "created_at": "2026-12-05T10:00:00Z", "data": data}


def test_a_broadcasts_events_are_counted_in_total_and_by_recipient(redis_client: redis.Redis) -> None:
    states = store(redis_client)
    for kind, email in [("email.delivered", "a@x.com"), ("email.opened", "a@x.com"), ("email.opened", "a@x.com"),
                        ("email.opened", "b@x.com"), ("email.clicked", "b@x.com")]:  # fmt: skip
        record_delivery(states, kind, event(kind), (email,))
    record_delivery(states, "email.delivered", event("email.delivered", None), ("c@x.com",))  # no broadcast
    tally = broadcast_tally(states, "b-1")
    assert tally == {"email.delivered": (1, None), "email.opened": (3, 2), "email.clicked": (1, 1)}
    assert redis_client.ttl("t:broadcast-events:b-1") > 0
    assert broadcast_tally(states, "b-2") == {"email.opened": (0, 0), "email.clicked": (0, 0)}


def test_the_last_delivery_is_remembered_whatever_it_was(redis_client: redis.Redis) -> None:
    states = store(redis_client)
    assert last_delivery(states) is None
    record_delivery(states, "domain.updated", {"type": "domain.updated", "data": {}}, ())
    found = last_delivery(states)
    assert found is not None
    assert found["type"] == "domain.updated"


def test_a_redis_failure_is_logged_and_never_raised(redis_client: redis.Redis) -> None:
    redis_client.connected = False  # type: ignore[attr-defined]
    record_delivery(store(redis_client), "email.opened", event("email.opened"), ("a@x.com",))
