"""New contacts without an existence check (issue #14, point 2), through EventSync."""

from __future__ import annotations

import redis

from connector.events import Event
from connector.sync import EventSync
from tests.unit.fakes.resend import FakeResend, StoredContact, identify, make_sync


def _contact_calls(resend: FakeResend) -> list[str]:
    return [c for c in resend.calls if c in {"get_contact", "create_contact", "update_contact", "list_contacts_page"}]


def test_many_new_contacts_cost_one_post_each_and_one_index_read(sync: EventSync, resend: FakeResend) -> None:
    for i in range(20):
        assert sync.handle(identify(f"u{i}@example.com", plan="pro")).status == "applied"
    assert _contact_calls(resend) == ["list_contacts_page"] + ["create_contact"] * 20


def test_a_contact_created_elsewhere_before_the_index_read_gets_the_writes(sync: EventSync, resend: FakeResend) -> None:
    resend.properties["plan"] = "string"
    resend.contacts["ada@example.com"] = StoredContact("elsewhere", first_name="Ada", properties={"plan": "free"})
    assert sync.handle(identify("ada@example.com", plan="pro")).status == "applied"
    assert resend.contacts["ada@example.com"].properties["plan"] == "pro"
    assert _contact_calls(resend) == ["list_contacts_page", "get_contact", "update_contact"]


def test_without_the_index_a_new_email_is_checked_first(resend: FakeResend, redis_client: redis.Redis) -> None:
    sync = make_sync(resend, redis_client, email_index=False)
    sync.handle(identify("ada@example.com", plan="pro"))
    assert _contact_calls(resend) == ["get_contact", "create_contact"]


def test_a_deletion_takes_the_email_out_of_the_index(resend: FakeResend, redis_client: redis.Redis) -> None:
    sync = make_sync(resend, redis_client, delete_on_message_types=["delete"], email_index_max_age_seconds=3600)
    sync.handle(identify("ada@example.com", plan="pro"))
    assert redis_client.sismember("t:{email-index}:email-index", "ada@example.com")
    sync.handle(identify("bob@example.com"))
    sync.handle(Event.from_dict({"type": "delete", "traits": {"email": "ada@example.com"}}))
    assert not redis_client.sismember("t:{email-index}:email-index", "ada@example.com")
    resend.calls.clear()
    sync.handle(identify("ada@example.com", plan="pro"))
    assert _contact_calls(resend) == ["create_contact"]
