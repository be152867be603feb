"""Resend webhook events -> Segment track events (pure): names, ids, recipients, the contact change."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.webhooks import ContactChange, InvalidWebhook, recipients, translate

AT = "2026-11-30T20:39:59.540Z"


def email_event(kind: str, to: Any = "Ada@Example.com", **data: Any) -> dict[str, Any]:
    return {"type": kind, "created_at": AT, "data": {"email_id": "e-1", "from": "news@acme.com", "to": to,
                                                     "subject": "Hi", **data}}  # fmt: skip


def contact_event(kind: str, **data: Any) -> dict[str, Any]:
    return {"type": kind, "created_at": AT, "data": {"id": "c-1", "email": "ada@example.com", **data}}


def test_a_bounce_becomes_email_bounced_with_the_users_id() -> None:
    payload = email_event("email.bounced", ["Ada <Ada@Example.com>"], bounce={"type": "Permanent", "subType": "General",
                                                                               "message": "mailbox full"})  # fmt: skip
    [event] = translate("msg_1", payload, users={"ada@example.com": "u-42"}).events
    assert event == {
        "type": "track",
        "event": "Email Bounced",
        "messageId": "resend-webhook:msg_1",
        "timestamp": "2026-11-30T20:39:59.540+00:00",
        "userId": "u-42",
        "properties": {"resend_event": "email.bounced", "email_id": "e-1", "subject": "Hi", "from": "news@acme.com",
                       "bounce_type": "Permanent", "bounce_sub_type": "General", "bounce_message": "mailbox full"},
        "context": {"traits": {"email": "ada@example.com"},
                    "library": {"name": "resend-connector-webhooks", "version": "0.1.0"}},
        "integrations": {"Resend": False},
    }  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "name"),
    [
        ("email.complained", "Email Complained"),
        ("email.suppressed", "Email Suppressed"),
        ("email.clicked", "Email Link Clicked"),
        ("email.delivered", "Email Delivered"),
        ("email.something_new", "Email Something New"),
    ],
)
def test_email_event_names(kind: str, name: str) -> None:
    [event] = translate("m", email_event(kind), users={}).events
    assert event["event"] == name
    assert event["anonymousId"] == "resend:ada@example.com"  # no userId known
    assert "userId" not in event


def test_one_track_event_per_recipient_with_distinct_message_ids() -> None:
    events = translate("m", email_event("email.delivered", ["a@x.com", "b@x.com", "A@x.com"]), users={}).events
    assert [(e["context"]["traits"]["email"], e["messageId"]) for e in events] == [
        ("a@x.com", "resend-webhook:m:0"),
        ("b@x.com", "resend-webhook:m:1"),
    ]


@pytest.mark.parametrize(
    ("flag", "previous", "name"),
    [
        (True, False, "Contact Unsubscribed"),
        (True, None, "Contact Unsubscribed"),
        (True, True, "Contact Updated"),
        (False, True, "Contact Resubscribed"),
        (False, None, "Contact Updated"),
    ],
)
def test_contact_updates_tell_unsubscribes_from_edits(flag: bool, previous: bool | None, name: str) -> None:
    translation = translate("m", contact_event("contact.updated", unsubscribed=flag), users={},
                            previous_unsubscribed=previous)  # fmt: skip
    assert translation.events[0]["event"] == name
    assert translation.change == ContactChange(
        "ada@example.com", "updated", flag, 1796071199540, (("unsubscribed", flag),)
    )


def test_contact_deleted_and_created() -> None:
    deleted = translate("m", contact_event("contact.deleted"), users={})
    assert deleted.events[0]["event"] == "Contact Deleted"
    assert deleted.change is not None
    assert deleted.change.kind == "deleted"
    created = translate("m", contact_event("contact.created", unsubscribed=False), users={})
    assert created.events[0]["event"] == "Contact Created"
    assert created.events[0]["properties"]["contact_id"] == "c-1"


def test_events_about_no_contact_are_skipped() -> None:
    assert translate("m", {"type": "domain.created", "created_at": AT, "data": {"id": "d"}}, users={}).skip
    assert recipients({"type": "domain.created", "data": {}}) == ()


@pytest.mark.parametrize(
    "payload",
    [
        [],
        {"type": "email.bounced"},
        {"type": 3, "data": {}},
        {"type": "email.bounced", "created_at": AT, "data": {"to": []}},
        {"type": "email.bounced", "created_at": AT, "data": {"to": ["not-an-email"]}},
        {"type": "contact.updated", "created_at": AT, "data": {"email": None}},
        {"type": "email.bounced", "created_at": "yesterday", "data": {"to": "a@x.com"}},
        {"type": "email.bounced", "data": {"to": "a@x.com"}},
    ],
)
def test_malformed_events_are_refused(payload: Any) -> None:
    with pytest.raises(InvalidWebhook):
        translate("m", payload, users={})


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
shapes = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["email.bounced", "contact.updated", "contact.deleted", "domain.created", ""])
        | st.text(max_size=15),
        "created_at": st.sampled_from([AT, "2026-11-30 20:39:59.5+00", "nope"]) | json_values,
        "data": st.fixed_dictionaries(
            {},
            optional={
                "to": st.lists(st.emails(), max_size=3) | json_values,
                "email": st.emails() | json_values,
                "unsubscribed": json_values,
                "bounce": json_values,
            },
        )
        | json_values,
    }
)


@given(payload=shapes | json_values)
@settings(max_examples=150, deadline=None)
def test_any_json_is_translated_or_refused_never_crashes(payload: Any) -> None:
    try:
        translation = translate("m", payload, users={})
    except InvalidWebhook:
        return
    for event in translation.events:
        assert event["type"] == "track"
        assert "@" in event["context"]["traits"]["email"]
