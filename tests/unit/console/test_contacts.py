"""The Contacts page's view of one contact when its last event was dead-lettered (issue #26): failed,
with the error, masked like the fields written and never showing a secret. Fakeredis behind the real
state store and outcome history."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import redis

from connector.console.contacts import _contact
from connector.pipeline.history import HistoryWriter
from connector.settings import load_settings
from connector.wiring import state_store

ADA = "ada@example.com"
KEY = "re_contacts_secret_key_0123"


def backend(client: redis.Redis, **console: Any) -> Any:
    settings = load_settings(redis={"key_prefix": "c:"}, resend={"base_url": "http://127.0.0.1:9", "api_key": KEY},
                             console={"access_token": "t" * 32, **console})  # fmt: skip
    return SimpleNamespace(settings=settings, redis=client, store=state_store(settings, client))


def entries(client: redis.Redis, *rows: tuple[str, str]) -> None:
    history = HistoryWriter(client, "c:")
    history.close()
    for offset, (outcome, reason) in enumerate(rows):
        history.add(ADA, "identify", outcome, reason, f"m-{offset}", "events", 0, offset, 1, ())
    history.flush()


def test_a_contact_whose_last_event_was_dead_lettered_is_failed_with_its_error(redis_client: redis.Redis) -> None:
    found = backend(redis_client)
    found.store.record_sync(ADA, "synced")  # its last sync went through; its next record did not
    entries(redis_client, ("applied", ""), ("dead_lettered", "TransformError: gate closed for u-ada"))
    shown = _contact(found, ADA)
    assert (shown["status"], shown["last_error"]) == ("failed", "TransformError: gate closed for u-ada")
    assert [(e.message_id, e.outcome) for e in shown["history"]] == [("m-1", "dead_lettered"), ("m-0", "applied")]


def test_a_dead_lettered_events_error_is_masked_and_never_shows_a_secret(redis_client: redis.Redis) -> None:
    entries(redis_client, ("dead_lettered", f"ResendRejected: plan 'gold' refused with key {KEY}"))
    assert (
        _contact(backend(redis_client), ADA)["last_error"] == "ResendRejected: plan 'gold' refused with key **********"
    )
    masked = _contact(backend(redis_client, mask_values=True), ADA)
    assert masked["last_error"] == masked["history"][0].reason == "ResendRejected: p***"


def test_a_later_outcome_than_the_dead_letter_decides_the_status(redis_client: redis.Redis) -> None:
    found = backend(redis_client)
    found.store.record_sync(ADA, "synced")
    entries(redis_client, ("dead_lettered", "TransformError: x"), ("applied", ""))
    assert (_contact(found, ADA)["status"], _contact(found, ADA)["last_error"]) == ("synced", None)
