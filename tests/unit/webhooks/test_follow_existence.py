"""With the webhook receiver running, Resend's contact.created and contact.deleted update the email
index and the existence records at once (#24 point 8), so the index window (email_index_max_age_seconds)
no longer loses the first event of a contact created elsewhere. The real EventSync on a fake Resend
and fakeredis, the follower the receiver uses."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import fakeredis
import pytest
import redis

from connector.events import Event
from connector.settings import load_settings
from connector.state import EmailIndex
from connector.webhooks.follow import Follower
from connector.webhooks.translate import ContactChange
from connector.wiring import state_store
from tests.unit.fakes.resend import FakeResend, StoredContact, make_sync

EMAIL = "made.elsewhere@example.com"


@pytest.fixture
def redis_client() -> Iterator[redis.Redis]:
    client = fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=True)
    yield client
    client.close()


def identify(email: str, **traits: Any) -> Event:
    return Event.from_dict({"type": "identify", "traits": {"email": email, **traits}})


def follower(client: redis.Redis) -> Follower:
    """As `resend-connector webhooks` builds it, on the same Redis and prefix as make_sync."""
    settings = load_settings(redis={"key_prefix": "t:"}, resend={"base_url": "http://127.0.0.1:9"})
    store = state_store(settings, client)
    return Follower(store, index=EmailIndex(store, max_age_seconds=settings.destination.email_index_max_age_seconds))


def change(kind: str) -> ContactChange:
    return ContactChange(EMAIL, kind, False, int(time.time() * 1000))  # type: ignore[arg-type]


def test_a_contact_created_elsewhere_inside_the_index_window_gets_its_first_events_writes(
    redis_client: redis.Redis,
) -> None:
    resend = FakeResend()
    sync = make_sync(resend, redis_client)
    sync.handle(identify("first@example.com"))  # the index is read now: complete and fresh
    resend.contacts[EMAIL] = StoredContact("elsewhere-1", first_name="Old")  # the dashboard, a moment later
    follower(redis_client).follow(change("created"))  # its contact.created webhook
    resend.calls.clear()
    sync.handle(identify(EMAIL, firstName="New"))
    assert resend.contacts[EMAIL].first_name == "New"  # not a blind POST that Resend answers 201 and ignores
    assert "create_contact" not in resend.calls


def test_a_contact_deleted_in_resend_leaves_the_index_and_is_created_with_one_call(
    redis_client: redis.Redis,
) -> None:
    resend = FakeResend()
    sync = make_sync(resend, redis_client)
    sync.handle(identify(EMAIL, firstName="Ada"))
    del resend.contacts[EMAIL]  # deleted in the dashboard
    follower(redis_client).follow(change("deleted"))
    store = state_store(load_settings(redis={"key_prefix": "t:"}, resend={"base_url": "http://127.0.0.1:9"}),
                        redis_client)  # fmt: skip
    index = EmailIndex(store, max_age_seconds=10)
    assert index.present([EMAIL]) == set()
    known = store.contact(EMAIL)
    assert known is None or not known.exists
    resend.calls.clear()
    sync.handle(identify(EMAIL, firstName="Ada"))
    assert resend.calls == ["create_contact"]  # no lookup, no PATCH into a 404
    assert resend.contacts[EMAIL].first_name == "Ada"
