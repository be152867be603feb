"""Event sequences against the emulator and real Redis; the emulator's final state is the judge."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from connector.errors import InvalidEventError
from connector.events import Event
from connector.mapping import property_key
from connector.sync import EventSync
from resend_emulator import EmulatorInspector


def ev(**fields: Any) -> Event:
    return Event.from_dict(fields)


def calls_since(inspector: EmulatorInspector, before: int) -> list[str]:
    return [f"{c['method']} {c['route']} {c['status']}" for c in inspector.calls()[before:]]


def test_the_audience_move_scenario(sync_for: Callable[..., EventSync], inspector: EmulatorInspector) -> None:
    sync = sync_for()
    first = sync.handle(ev(type="identify", userId="u1", traits={"email": "Ada@Example.com", "plan": "pro",
                                                                   "resendAudiences": "A, B"}))  # fmt: skip
    assert first.status == "applied"
    contact = inspector.contacts()["ada@example.com"]
    assert sorted(contact["segments"]) == ["A", "B"]
    assert contact["properties"]["plan"] == "pro"
    assert contact["properties"]["cdp_user_id"] == "u1"

    before = len(inspector.calls())
    sync.handle(ev(type="identify", userId="u1", traits={"email": "ada@example.com", "resendAudiences": ["B", "C"]}))
    contact = inspector.contacts()["ada@example.com"]
    assert sorted(contact["segments"]) == ["B", "C"]
    made = calls_since(inspector, before)
    # C is created once, A removed, C added, B untouched, then one PATCH with the managed record.
    assert made.count("POST /contacts/{id}/segments/{segment_id} 200") == 1
    assert made.count("DELETE /contacts/{id}/segments/{segment_id} 200") == 1
    assert made.count("PATCH /contacts/{id} 200") == 1
    assert not any(call.startswith("GET /contacts") for call in made)

    before = len(inspector.calls())
    track = sync.handle(ev(type="track", event="Viewed", context={"traits": {"email": "ada@example.com"}},
                           traits={"lastViewed": "pricing"}))  # fmt: skip
    assert track.status == "applied"
    # A key seen for the first time is defined once (team-wide), then the one PATCH.
    assert calls_since(inspector, before) == ["POST /contact-properties 201", "PATCH /contacts/{id} 200"]
    assert inspector.contacts()["ada@example.com"]["properties"]["lastViewed"] == "pricing"

    before = len(inspector.calls())
    unknown = sync.handle(ev(type="track", userId="stranger", event="Viewed", traits={"x": 1}))
    assert (unknown.status, unknown.reason, unknown.calls) == ("skipped", "no_email", 0)
    assert calls_since(inspector, before) == []


def test_a_membership_that_existed_before_is_never_removed(
    sync_for: Callable[..., EventSync], inspector: EmulatorInspector
) -> None:
    seeded = inspector.seed(
        ("POST", "/segments", {"name": "X"}),
        ("POST", "/contacts", {"email": "grace@example.com"}),
    )
    x_id, contact_id = seeded[0]["body"]["id"], seeded[1]["body"]["id"]
    inspector.seed(("POST", f"/contacts/{contact_id}/segments/{x_id}", None))
    sync = sync_for()
    sync.handle(ev(type="identify", traits={"email": "grace@example.com", "resendAudiences": "X, Y"}))
    assert sorted(inspector.contacts()["grace@example.com"]["segments"]) == ["X", "Y"]
    sync.handle(ev(type="identify", traits={"email": "grace@example.com", "resendAudiences": ""}))
    assert inspector.contacts()["grace@example.com"]["segments"] == ["X"]  # Y was ours, X was not


def test_known_contact_costs_one_patch_and_empty_events_cost_nothing(
    sync_for: Callable[..., EventSync], inspector: EmulatorInspector
) -> None:
    sync = sync_for()
    sync.handle(ev(type="identify", userId="u2", traits={"email": "linus@example.com", "plan": "a"}))
    before = len(inspector.calls())
    outcome = sync.handle(ev(type="identify", userId="u2", traits={"email": "linus@example.com", "plan": "b"}))
    assert calls_since(inspector, before) == ["PATCH /contacts/{id} 200"]
    assert outcome.calls == 1
    before = len(inspector.calls())
    assert sync.handle(ev(type="page", userId="u2", name="Home")).status == "skipped"
    assert sync.handle(ev(type="track", userId="u2", event="Scrolled")).calls == 0
    assert calls_since(inspector, before) == []


def test_a_new_contact_costs_one_post_or_a_check_and_the_post_without_the_email_index(
    sync_for: Callable[..., EventSync], inspector: EmulatorInspector
) -> None:
    inspector.seed(("POST", "/segments", {"name": "News"}))

    def identify(email: str) -> Event:
        return ev(type="identify", traits={"email": email, "plan": "a", "resendAudiences": "News"})

    sync = sync_for()
    sync.handle(identify("first@example.com"))  # defines the properties, learns the segment id, reads the index
    before = len(inspector.calls())
    sync.handle(identify("indexed@example.com"))
    assert calls_since(inspector, before) == ["POST /contacts 201"]

    checking = sync_for(email_index=False)
    before = len(inspector.calls())
    checking.handle(identify("checked@example.com"))
    assert calls_since(inspector, before) == ["GET /contacts/{id} 404", "POST /contacts 201"]

    trusting = sync_for(trust_contact_cache=True)
    before = len(inspector.calls())
    trusting.handle(identify("trusted@example.com"))
    assert calls_since(inspector, before) == ["POST /contacts 201"]  # the segments ride on the POST
    contact = inspector.contacts()["trusted@example.com"]
    assert (contact["segments"], contact["properties"]["plan"]) == (["News"], "a")
    before = len(inspector.calls())
    trusting.handle(ev(type="identify", traits={"email": "trusted@example.com", "plan": "b"}))
    assert calls_since(inspector, before) == ["PATCH /contacts/{id} 200"]


def test_userid_cache_alias_and_group(sync_for: Callable[..., EventSync], inspector: EmulatorInspector) -> None:
    sync = sync_for()
    sync.handle(ev(type="identify", userId="old", traits={"email": "kay@example.com"}))
    assert sync.handle(ev(type="alias", previousId="old", userId="new")).status == "applied"
    sync.handle(ev(type="track", userId="new", event="x", traits={"score": 5}))
    sync.handle(ev(type="group", userId="new", groupId="g1", traits={"name": "Acme", "email": "boss@acme.io"}))
    props = inspector.contacts()["kay@example.com"]["properties"]
    assert props["score"] == "5"
    assert props["cdp_group_id"] == "g1"
    assert props["group_name"] == "Acme"
    assert "boss@acme.io" not in inspector.contacts()  # a group's email is the company's, never a contact


def test_track_for_unknown_contact_is_skipped_and_invalid_email_is_permanent(
    sync_for: Callable[..., EventSync], inspector: EmulatorInspector
) -> None:
    sync = sync_for()
    outcome = sync.handle(ev(type="track", event="x", traits={"email": "ghost@example.com", "a": "b"}))
    assert (outcome.status, outcome.reason) == ("skipped", "unknown_contact")
    assert "ghost@example.com" not in inspector.contacts()
    with pytest.raises(InvalidEventError):
        sync.handle(ev(type="identify", traits={"email": "not-an-email"}))


def test_existing_contact_unknown_to_redis_is_updated_not_lost(
    sync_for: Callable[..., EventSync], inspector: EmulatorInspector
) -> None:
    inspector.seed(("POST", "/contacts", {"email": "old@example.com", "first_name": "Old"}))
    sync = sync_for()
    sync.handle(ev(type="identify", traits={"email": "old@example.com", "firstName": "New", "tier": "gold"}))
    contact = inspector.contacts()["old@example.com"]
    assert contact["first_name"] == "New"
    assert contact["properties"]["tier"] == "gold"


def test_delete_trigger_erases_contact_and_cache(
    sync_for: Callable[..., EventSync], inspector: EmulatorInspector
) -> None:
    sync = sync_for(delete_event_names=["Contact Deleted"])
    sync.handle(ev(type="identify", userId="u9", traits={"email": "erase@example.com"}))
    assert sync.handle(ev(type="track", userId="u9", event="Contact Deleted")).status == "applied"
    assert "erase@example.com" not in inspector.contacts()
    assert sync.store.email_for("u9") is None


def test_a_segment_deleted_in_resend_is_found_again(
    sync_for: Callable[..., EventSync], inspector: EmulatorInspector
) -> None:
    sync = sync_for()
    sync.handle(ev(type="identify", traits={"email": "seg@example.com", "resendAudiences": "Gone"}))
    gone = next(s["id"] for s in inspector.state()["segments"] if s["name"] == "Gone")
    inspector.seed(("DELETE", f"/segments/{gone}", None))  # someone deletes it in the dashboard
    outcome = sync.handle(ev(type="identify", traits={"email": "new@example.com", "resendAudiences": "Gone"}))
    assert outcome.status == "applied"
    segments = inspector.state()["segments"]
    assert [s["name"] for s in segments] == ["Gone"]
    assert segments[0]["id"] != gone  # the map was refreshed and the segment created again
    assert inspector.contacts()["new@example.com"]["segments"] == ["Gone"]


def test_named_track_events_reach_automations(sync_for: Callable[..., EventSync], inspector: EmulatorInspector) -> None:
    sync = sync_for(automation_event_names=["Signed Up"])
    sync.handle(ev(type="identify", userId="u5", traits={"email": "auto@example.com"}))
    sync.handle(ev(type="track", userId="u5", event="Signed Up", properties={"plan": "pro"}))
    sync.handle(ev(type="track", userId="u5", event="Viewed", properties={"plan": "pro"}))
    events = inspector.state()["events"]
    assert [(e["event"], e["email"], e["payload"]) for e in events] == [
        ("Signed Up", "auto@example.com", {"plan": "pro"})
    ]


def test_keys_resend_must_refuse_are_mapped_before_any_definition(
    sync_for: Callable[..., EventSync], inspector: EmulatorInspector
) -> None:
    # UNSUBSCRIBE_URL is reserved in Resend (the emulator refuses it in any case, as it refuses an
    # empty key): both get the stable hash like other odd keys, so no call is refused (#24).
    sync = sync_for()
    traits = {"email": "ref@example.com", "unsubscribe_url": "x", "": "blank", "tier": "a"}
    first = sync.handle(ev(type="identify", traits=traits))
    assert first.status == "applied"
    props = inspector.contacts()["ref@example.com"]["properties"]
    assert (props["tier"], props[property_key("unsubscribe_url")], props[property_key("")]) == ("a", "x", "blank")
    assert "unsubscribe_url" not in props
    assert [c for c in inspector.calls() if int(c["status"]) >= 400] == []

    replica = sync_for()  # a second replica (same Redis namespace): the definitions are team-wide
    before = len(inspector.calls())
    second = replica.handle(ev(type="identify", traits={**traits, "unsubscribe_url": "y", "tier": "b"}))
    assert (second.status, second.calls) == ("applied", 1)
    assert calls_since(inspector, before) == ["PATCH /contacts/{id} 200"]
    assert inspector.contacts()["ref@example.com"]["properties"][property_key("unsubscribe_url")] == "y"
