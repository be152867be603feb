"""The consent rule and topics, carried out: EventSync against the recording fake of Resend and
fakeredis. An unsubscribe known to the connector survives an identify that says otherwise."""

from __future__ import annotations

from typing import Any

import pytest
import redis

from connector.events import Event
from connector.state import StateStore
from tests.unit.fakes.resend import FakeResend, StoredContact, make_sync

EMAIL = "ada@example.com"


def identify(**traits: Any) -> Event:
    return Event.from_dict({"type": "identify", "userId": "u1", "traits": {"email": EMAIL, **traits}})


def store_of(client: redis.Redis) -> StateStore:
    return StateStore(client, prefix="t:", user_ttl_seconds=60, refused_ttl_seconds=60)


def test_an_unsubscribe_read_from_resend_survives_an_identify_saying_false(
    resend: FakeResend, redis_client: redis.Redis
) -> None:
    resend.contacts[EMAIL] = StoredContact("c1", unsubscribed=True)
    kept: list[str] = []
    sync = make_sync(resend, redis_client, on_consent_kept=kept.append)
    outcome = sync.handle(identify(unsubscribed=False, firstName="Ada"))
    assert outcome.status == "applied"
    contact = resend.contacts[EMAIL]
    assert (contact.unsubscribed, contact.first_name) == (True, "Ada")  # the other fields still synced
    assert kept == ["unsubscribed"]
    assert store_of(redis_client).unsubscribed(EMAIL) is True
    resend.calls.clear()
    sync.handle(identify(unsubscribed=False, firstName="Ada L."))  # known now: no read, one PATCH
    assert resend.calls == ["update_contact"]
    assert resend.contacts[EMAIL].unsubscribed is True
    assert kept == ["unsubscribed", "unsubscribed"]


def test_an_unsubscribe_learnt_from_a_webhook_is_kept(resend: FakeResend, redis_client: redis.Redis) -> None:
    sync = make_sync(resend, redis_client)
    sync.handle(identify(unsubscribed=False))
    assert resend.contacts[EMAIL].unsubscribed is False
    resend.contacts[EMAIL].unsubscribed = True  # the person clicked "unsubscribe" in an email
    assert store_of(redis_client).remember_unsubscribed(EMAIL, True, 2**41)  # what the receiver records
    anonymous = Event.from_dict({"type": "identify", "traits": {"email": EMAIL, "unsubscribed": False}})
    outcome = sync.handle(anonymous)
    assert outcome.status == "skipped"  # the dropped field was all there was to write
    assert resend.contacts[EMAIL].unsubscribed is True


def test_allow_resubscribe_lets_the_event_win(resend: FakeResend, redis_client: redis.Redis) -> None:
    resend.contacts[EMAIL] = StoredContact("c1", unsubscribed=True)
    sync = make_sync(resend, redis_client, allow_resubscribe=True)
    sync.handle(identify(unsubscribed=False))
    assert resend.contacts[EMAIL].unsubscribed is False
    assert store_of(redis_client).unsubscribed(EMAIL) is False


def test_a_contact_known_to_redis_without_a_flag_is_read_once(resend: FakeResend, redis_client: redis.Redis) -> None:
    sync = make_sync(resend, redis_client)
    sync.handle(identify(plan="pro"))  # created: the flag is recorded (false) with the contact
    redis_client.hdel("t:contact:{" + EMAIL + "}", "unsubscribed", "unsubscribed_at")  # as before this feature
    resend.contacts[EMAIL].unsubscribed = True
    resend.calls.clear()
    sync.handle(identify(unsubscribed=False, plan="team"))
    assert resend.calls == ["get_contact", "update_contact"]
    assert resend.contacts[EMAIL].unsubscribed is True
    assert resend.contacts[EMAIL].properties["plan"] == "team"


def test_a_track_that_unsubscribes_is_remembered(resend: FakeResend, redis_client: redis.Redis) -> None:
    sync = make_sync(resend, redis_client)
    sync.handle(identify(plan="pro"))
    event = Event.from_dict({"type": "track", "event": "Opted Out", "traits": {"email": EMAIL, "unsubscribed": True}})
    sync.handle(event)
    assert resend.contacts[EMAIL].unsubscribed is True
    assert store_of(redis_client).unsubscribed(EMAIL) is True
    resub = Event.from_dict({"type": "track", "event": "X", "traits": {"email": EMAIL, "unsubscribed": False}})
    assert sync.handle(resub).status == "skipped"
    assert resend.contacts[EMAIL].unsubscribed is True


def test_topics_are_created_once_and_carried_by_the_creating_post(
    resend: FakeResend, redis_client: redis.Redis
) -> None:
    sync = make_sync(resend, redis_client)
    sync.handle(identify(resendTopics="Product News, Offers:opt_out"))
    assert resend.topic_subscriptions(EMAIL) == {"Product News": "opt_in", "Offers": "opt_out"}
    assert sorted(name for name, _ in resend.topics.values()) == ["Offers", "Product News"]
    assert "update_contact_topics" not in resend.calls  # one POST carried them
    resend.calls.clear()
    other = make_sync(resend, redis_client)  # another replica: ids from Redis, nothing created again
    other.handle(identify(resendTopics={"Offers": "opt_in"}))
    assert [c for c in resend.calls if "topic" in c] == ["update_contact_topics"]
    assert resend.topic_subscriptions(EMAIL) == {"Product News": "opt_in", "Offers": "opt_in"}


def test_the_settings_default_applies_to_new_contacts_only(resend: FakeResend, redis_client: redis.Redis) -> None:
    sync = make_sync(resend, redis_client, topics=["Newsletter"])
    sync.handle(identify(plan="pro"))
    assert resend.topic_subscriptions(EMAIL) == {"Newsletter": "opt_in"}
    topic_id = next(iter(resend.contacts[EMAIL].topics))
    resend.contacts[EMAIL].topics[topic_id] = "opt_out"  # the person opted out on the preference page
    resend.calls.clear()
    sync.handle(identify(plan="team"))
    assert resend.calls == ["update_contact"]
    assert resend.topic_subscriptions(EMAIL) == {"Newsletter": "opt_out"}


def test_app_scoped_unsubscribe_as_a_topic(resend: FakeResend, redis_client: redis.Redis) -> None:
    sync = make_sync(resend, redis_client, namespace="tinykit", app_scoped_unsubscribe="topic")
    sync.handle(identify(plan="pro"))
    sync.handle(identify(unsubscribed=True))
    assert resend.topic_subscriptions(EMAIL) == {"tinykit": "opt_out"}
    assert resend.contacts[EMAIL].unsubscribed is False  # the global flag is the other apps' too
    assert [d for _, d in resend.topics.values()] == ["opt_in"]
    assert "tinykit_subscriptionStatus" not in resend.contacts[EMAIL].properties
    sync.handle(identify(unsubscribed=False))  # no allow_resubscribe: stays opted out
    assert resend.topic_subscriptions(EMAIL) == {"tinykit": "opt_out"}


def test_a_topic_deleted_in_resend_is_resolved_again(resend: FakeResend, redis_client: redis.Redis) -> None:
    sync = make_sync(resend, redis_client)
    sync.handle(identify(resendTopics="News"))
    resend.topics.clear()  # deleting a topic in Resend drops its subscriptions
    resend.contacts[EMAIL].topics.clear()
    with pytest.raises(Exception, match="topic id"):
        sync.handle(identify(resendTopics="News:opt_out"))
    sync.handle(identify(resendTopics="News:opt_out"))  # the retry creates it again
    assert resend.topic_subscriptions(EMAIL) == {"News": "opt_out"}


def test_trusting_the_cache_a_created_contacts_flag_is_not_guessed(
    resend: FakeResend, redis_client: redis.Redis
) -> None:
    resend.contacts[EMAIL] = StoredContact("c1", unsubscribed=True)  # created elsewhere, unknown to Redis
    sync = make_sync(resend, redis_client, trust_contact_cache=True)
    sync.handle(identify(plan="pro"))  # a blind POST: Resend keeps the stored contact as it was
    assert store_of(redis_client).unsubscribed(EMAIL) is None
    sync.handle(identify(unsubscribed=False))
    assert resend.contacts[EMAIL].unsubscribed is True  # read before writing, and kept
