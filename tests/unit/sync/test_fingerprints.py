"""Skip unchanged (issue #14, point 1): the pure rule, and EventSync spending no call on what Resend holds."""

from __future__ import annotations

import time

import pytest
import redis

from connector.errors import ResendRejected
from connector.events import Event
from connector.mapping import CreateContact, UpdateContact
from connector.sync import EventSync
from connector.sync.fingerprints import FieldMemory, fingerprint, written
from tests.unit.fakes.resend import FakeResend, identify, make_sync

NOW = 1_800_000_000.0


def _update(**properties: object) -> UpdateContact:
    return UpdateContact("ada@example.com", (("first_name", "Ada"),), tuple(properties.items()))


def test_a_field_written_with_the_same_value_is_left_out_and_a_changed_one_is_sent() -> None:
    memory = FieldMemory(3600)
    remembered = written(_update(plan="pro", seats="3"), NOW)
    trimmed = memory.trim_update(_update(plan="pro", seats="4"), remembered, NOW + 10)
    assert trimmed == UpdateContact("ada@example.com", (), (("seats", "4"),))
    assert memory.trim_update(_update(plan="pro", seats="3"), remembered, NOW + 10) is None


def test_a_remembered_field_is_trusted_only_for_the_configured_time() -> None:
    remembered = written(_update(plan="pro"), NOW)
    assert FieldMemory(3600).trim_update(_update(plan="pro"), remembered, NOW + 3599) is None
    assert FieldMemory(3600).trim_update(_update(plan="pro"), remembered, NOW + 3600) == _update(plan="pro")
    assert FieldMemory(0).trim_update(_update(plan="pro"), remembered, NOW) == _update(plan="pro")
    # A stamp from the future (clocks of two replicas disagree) is not trusted either.
    assert FieldMemory(3600).trim_update(_update(plan="pro"), remembered, NOW - 5) == _update(plan="pro")


def test_no_memory_or_an_unreadable_one_sends_everything() -> None:
    memory = FieldMemory(3600)
    assert memory.trim_update(_update(plan="pro"), {}, NOW) == _update(plan="pro")
    broken = dict.fromkeys(written(_update(plan="pro"), NOW), "garbage")
    assert memory.trim_update(_update(plan="pro"), broken, NOW) == _update(plan="pro")


def test_an_opt_out_is_always_sent_an_opt_in_may_be_skipped() -> None:
    memory = FieldMemory(3600, frozenset({"app_subscriptionStatus"}))
    out = UpdateContact("ada@example.com", (("unsubscribed", True),), (("app_subscriptionStatus", "unsubscribed"),))
    assert memory.trim_update(out, written(out, NOW), NOW + 1) == out
    back_in = UpdateContact("ada@example.com", (("unsubscribed", False),), (("app_subscriptionStatus", "active"),))
    assert memory.trim_update(back_in, written(back_in, NOW), NOW + 1) is None


def test_values_are_told_apart_by_type_and_by_field() -> None:
    assert fingerprint("p:seats", 3) != fingerprint("p:seats", "3")
    assert fingerprint("p:a", "x") != fingerprint("p:b", "x")
    assert fingerprint("p:a", None) != fingerprint("p:a", "")
    create = CreateContact("ada@example.com", first_name="Ada", properties=(("plan", "pro"),))
    assert set(written(create, NOW)) == {"f:first_name", "p:plan"}  # unset fields are not remembered


def _track(email: str, **traits: object) -> Event:
    return Event.from_dict({"type": "track", "event": "Plan Changed", "traits": {"email": email, **traits}})


def test_ten_identical_identifies_cost_one_post(sync: EventSync, resend: FakeResend) -> None:
    for _ in range(10):
        assert sync.handle(identify("ada@example.com", plan="pro", name="Ada L")).status == "applied"
    assert resend.calls.count("create_contact") == 1
    assert "update_contact" not in resend.calls


def test_only_the_changed_fields_are_patched(sync: EventSync, resend: FakeResend) -> None:
    sync.handle(identify("ada@example.com", plan="pro", seats=3, name="Ada L"))
    resend.calls.clear()
    sent: list[dict[str, object]] = []
    original = resend.update_contact

    def recording(id_or_email: str, *, fields: dict[str, object], properties: dict[str, object]) -> str:
        sent.append({**fields, **properties})
        return original(id_or_email, fields=fields, properties=properties)

    resend.update_contact = recording  # type: ignore[method-assign]
    outcome = sync.handle(identify("ada@example.com", plan="team", seats=3, name="Ada L"))
    assert (outcome.calls, sent) == (1, [{"plan": "team"}])
    assert resend.contacts["ada@example.com"].properties["plan"] == "team"


def test_a_track_whose_traits_resend_holds_costs_nothing(sync: EventSync, resend: FakeResend) -> None:
    sync.handle(identify("ada@example.com", plan="pro"))
    resend.calls.clear()
    assert sync.handle(_track("ada@example.com", plan="pro")).calls == 0
    assert sync.handle(_track("ada@example.com", plan="team")).calls == 1
    assert resend.calls == ["update_contact"]


def test_losing_the_memory_costs_a_call_never_a_write(
    sync: EventSync, resend: FakeResend, redis_client: redis.Redis
) -> None:
    sync.handle(identify("ada@example.com", plan="pro"))
    resend.contacts["ada@example.com"].properties["plan"] = "edited in the dashboard"
    redis_client.delete("t:fields:{ada@example.com}")
    resend.calls.clear()
    assert sync.handle(identify("ada@example.com", plan="pro")).calls == 1
    assert resend.contacts["ada@example.com"].properties["plan"] == "pro"


def test_an_old_memory_is_sent_again(sync: EventSync, resend: FakeResend, redis_client: redis.Redis) -> None:
    sync.handle(identify("ada@example.com", plan="pro"))
    resend.contacts["ada@example.com"].properties["plan"] = "edited in the dashboard"
    week_ago = int(time.time()) - 7 * 86_400
    fields = redis_client.hgetall("t:fields:{ada@example.com}")
    redis_client.hset(
        "t:fields:{ada@example.com}", mapping={k: f"{v.split('@')[0]}@{week_ago}" for k, v in fields.items()}
    )
    assert sync.handle(identify("ada@example.com", plan="pro")).calls == 1
    assert resend.contacts["ada@example.com"].properties["plan"] == "pro"


def test_an_unsubscribe_is_sent_every_time(sync: EventSync, resend: FakeResend) -> None:
    sync.handle(identify("ada@example.com", unsubscribed=True))
    resend.contacts["ada@example.com"].unsubscribed = False  # re-subscribed elsewhere
    resend.calls.clear()
    assert sync.handle(identify("ada@example.com", unsubscribed=True)).calls == 1
    assert resend.contacts["ada@example.com"].unsubscribed is True


def test_with_the_setting_at_zero_every_field_is_sent(resend: FakeResend, redis_client: redis.Redis) -> None:
    sync = make_sync(resend, redis_client, skip_unchanged_seconds=0)
    for _ in range(3):
        sync.handle(identify("ada@example.com", plan="pro"))
    assert resend.calls.count("update_contact") == 2
    assert not redis_client.exists("t:fields:{ada@example.com}")


def test_a_deleted_contact_forgets_its_fields(sync: EventSync, resend: FakeResend, redis_client: redis.Redis) -> None:
    sync.handle(identify("ada@example.com", plan="pro"))
    del resend.contacts["ada@example.com"]  # deleted in Resend: the next changed write meets a 404
    assert sync.handle(identify("ada@example.com", plan="team")).status == "applied"
    assert resend.contacts["ada@example.com"].properties["plan"] == "team"


def _delete_property(resend: FakeResend, key: str) -> None:
    """What the dashboard's delete does: the definition and every contact's value are gone."""
    del resend.properties[key]
    for contact in resend.contacts.values():
        contact.properties.pop(key, None)


def test_a_property_deleted_in_resend_is_defined_again_and_the_write_lands(sync: EventSync, resend: FakeResend) -> None:
    sync.handle(identify("ada@example.com", plan="pro"))
    sync.handle(identify("bob@example.com", plan="pro"))
    _delete_property(resend, "plan")
    resend.calls.clear()
    outcome = sync.handle(identify("ada@example.com", plan="team"))
    assert outcome.status == "applied"
    assert resend.contacts["ada@example.com"].properties["plan"] == "team"
    assert resend.calls == ["update_contact", "list_contact_properties", "create_contact_property", "update_contact"]
    # Bob's memory of plan=pro predates the deletion: void, so the same value is sent again.
    resend.calls.clear()
    assert sync.handle(identify("bob@example.com", plan="pro")).calls == 1
    assert resend.contacts["bob@example.com"].properties["plan"] == "pro"


def test_a_refusal_that_is_not_a_deleted_property_is_not_retried(sync: EventSync, resend: FakeResend) -> None:
    sync.handle(identify("ada@example.com", plan="pro"))
    resend.fail_next("update_contact", ResendRejected("value too long", status=422, name="validation_error"))
    with pytest.raises(ResendRejected):
        sync.handle(identify("ada@example.com", plan="x" * 50))
    assert resend.calls[-2:] == ["update_contact", "list_contact_properties"]  # one look, then it stands


def test_a_property_deleted_again_and_again_is_refreshed_once_per_event(sync: EventSync, resend: FakeResend) -> None:
    sync.handle(identify("ada@example.com", plan="pro"))
    _delete_property(resend, "plan")
    resend.calls.clear()
    deleted_after_each_definition = resend.create_contact_property

    def define_then_lose(key: str, type: str = "string", fallback_value: object = None) -> str:
        deleted_after_each_definition(key, type, fallback_value)
        resend.properties.pop(key)  # someone deletes it again at once
        return key

    resend.create_contact_property = define_then_lose  # type: ignore[method-assign]
    with pytest.raises(ResendRejected):
        sync.handle(identify("ada@example.com", plan="team"))
    assert resend.calls.count("list_contact_properties") == 1


def test_the_dry_run_shows_only_what_would_be_sent(sync: EventSync, resend: FakeResend) -> None:
    sync.handle(identify("ada@example.com", plan="pro", seats=3))
    assert not any(isinstance(c, UpdateContact) for c in sync.plan(identify("ada@example.com", plan="pro", seats=3)))
    (update,) = [c for c in sync.plan(identify("ada@example.com", plan="pro", seats=4)) if isinstance(c, UpdateContact)]
    assert update.properties == (("seats", "4"),)
