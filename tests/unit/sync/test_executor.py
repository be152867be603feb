"""EventSync against a recording fake of Resend and an in-process Redis (fakeredis): outcomes,
retries part-way through, stale caches and the dry run, without servers."""

from __future__ import annotations

from typing import Any

import fakeredis
import pytest
import redis

from connector.errors import PermanentError, ResendRejected, ResendUnavailable, RetryableError, StateStoreUnavailable
from connector.events import Event
from connector.sync import EventSync
from connector.sync import context as sync_context
from tests.unit.fakes.resend import FakeResend, identify, make_sync, managed_record


def test_new_contact_costs_one_post_carrying_its_segments(sync: EventSync, resend: FakeResend) -> None:
    outcome = sync.handle(identify("ada@example.com", plan="pro", resendAudiences="A, B"))
    assert outcome.status == "applied"
    assert resend.segment_names("ada@example.com") == {"A", "B"}
    creates = [c for c in resend.calls if c in {"get_contact", "create_contact", "list_contacts_page"}]
    assert creates == ["list_contacts_page", "create_contact"]  # the email index, read once, says: new
    resend.calls.clear()
    again = sync.handle(identify("ada@example.com", plan="team", resendAudiences="A, B"))
    assert (again.calls, resend.calls) == (1, ["update_contact"])  # steady path: one PATCH, nothing read


def test_a_failed_removal_is_retried_and_the_managed_record_waits_for_it(sync: EventSync, resend: FakeResend) -> None:
    sync.handle(identify("ada@example.com", resendAudiences="A, B"))
    resend.fail_next("remove_contact_from_segment", ResendUnavailable("boom", status=503))
    with pytest.raises(RetryableError):
        sync.handle(identify("ada@example.com", resendAudiences="B, C"))
    assert managed_record(resend, "ada@example.com") == {"A", "B"}  # not written before the removal
    assert sync.store.sync_record("ada@example.com").last_outcome == "pending"

    assert sync.handle(identify("ada@example.com", resendAudiences="B, C")).status == "applied"
    assert resend.segment_names("ada@example.com") == {"B", "C"}
    assert managed_record(resend, "ada@example.com") == {"B", "C"}
    assert sync.store.sync_record("ada@example.com").last_outcome == "synced"


def test_a_failure_after_the_writes_is_safe_to_retry(sync: EventSync, resend: FakeResend) -> None:
    sync.handle(identify("ada@example.com", resendAudiences="A"))
    resend.fail_next("update_contact", ResendUnavailable("boom", status=500))
    with pytest.raises(RetryableError):
        sync.handle(identify("ada@example.com", resendAudiences="A, B", tier="gold"))
    sync.handle(identify("ada@example.com", resendAudiences="A, B", tier="gold"))
    assert resend.segment_names("ada@example.com") == {"A", "B"}
    assert managed_record(resend, "ada@example.com") == {"A", "B"}
    assert resend.contacts["ada@example.com"].properties["tier"] == "gold"


def test_a_contact_deleted_behind_our_back_is_created_again(sync: EventSync, resend: FakeResend) -> None:
    sync.handle(identify("ada@example.com", resendAudiences="A"))
    del resend.contacts["ada@example.com"]
    resend.calls.clear()
    assert sync.handle(identify("ada@example.com", tier="gold", resendAudiences="A")).status == "applied"
    contact_calls = [c for c in resend.calls if c.endswith("_contact")]
    # PATCH 404: forget it, the email index (re-read) does not list it, POST.
    assert contact_calls == ["update_contact", "create_contact"]
    assert resend.contacts["ada@example.com"].properties["tier"] == "gold"
    assert resend.segment_names("ada@example.com") == {"A"}


def test_first_sight_of_a_reference_contact_reads_what_it_manages(
    resend: FakeResend, redis_client: redis.Redis
) -> None:
    # The reference destination wrote jitsu_managed_audiences = [X]; Y was added by hand.
    resend.segments.update({"x": "X", "y": "Y"})
    resend.properties["jitsu_managed_audiences"] = "string"
    resend.create_contact("old@example.com", properties={"jitsu_managed_audiences": "['x']"}, segment_ids=["x", "y"])
    resend.calls.clear()
    sync = make_sync(resend, redis_client, system_prefix="jitsu_")
    assert sync.handle(identify("old@example.com", resendAudiences="Z")).status == "applied"
    assert resend.segment_names("old@example.com") == {"Y", "Z"}  # X was the reference's to remove; Y never
    z = next(i for i, n in resend.segments.items() if n == "Z")
    assert resend.contacts["old@example.com"].properties["jitsu_managed_audiences"] == f"[{z}]"
    assert "create_contact" not in resend.calls  # updated in place: no write lost to a blind POST


def test_a_membership_that_existed_before_is_not_re_added_or_recorded(sync: EventSync, resend: FakeResend) -> None:
    resend.segments["x"] = "X"
    resend.create_contact("ada@example.com", segment_ids=["x"])
    resend.calls.clear()
    sync.handle(identify("ada@example.com", resendAudiences="X"))
    assert "add_contact_to_segment" not in resend.calls
    sync.handle(identify("ada@example.com", resendAudiences=""))
    assert resend.segment_names("ada@example.com") == {"X"}


def test_a_cached_segment_id_resend_no_longer_knows_refreshes_the_map(sync: EventSync, resend: FakeResend) -> None:
    sync.handle(identify("ada@example.com"))
    sync.handle(identify("bob@example.com", resendAudiences="A"))
    old = next(iter(resend.segments))
    del resend.segments[old]  # deleted in the dashboard
    resend.segments["new-a"] = "A"  # and made again by someone else
    assert sync.handle(identify("ada@example.com", resendAudiences="A")).status == "applied"
    assert resend.segment_names("ada@example.com") == {"A"}
    assert resend.contacts["ada@example.com"].segments == {"new-a"}


def test_updates_never_create_and_a_404_is_a_skip(sync: EventSync, resend: FakeResend) -> None:
    outcome = sync.handle(Event.from_dict({"type": "track", "event": "x", "traits": {"email": "no@example.com",
                                                                                     "a": "b"}}))  # fmt: skip
    assert (outcome.status, outcome.reason) == ("skipped", "unknown_contact")
    assert resend.contacts == {}


def test_a_refused_write_is_permanent_and_recorded(sync: EventSync, resend: FakeResend) -> None:
    sync.handle(identify("ada@example.com"))
    resend.fail_next("update_contact", ResendRejected("bad", status=422, name="validation_error"))
    with pytest.raises(PermanentError):
        sync.handle(identify("ada@example.com", tier="x"))
    record = sync.store.sync_record("ada@example.com")
    assert record.last_outcome == "failed"
    assert record.last_error is not None
    assert "ResendRejected" in record.last_error


def test_a_refused_key_is_not_asked_again_and_the_rest_syncs(sync: EventSync, resend: FakeResend) -> None:
    resend.fail_next("create_contact_property", ResendRejected("refused", status=422, name="validation_error"))
    sync.handle(identify("ada@example.com", odd="u", tier="a"))
    sync.handle(identify("ada@example.com", odd="u", tier="b"))
    # tier and odd (refused) are each asked about once; the second event asks nothing.
    assert resend.calls.count("create_contact_property") == 2
    assert resend.contacts["ada@example.com"].properties == {"tier": "b"}


def test_delete_forgets_the_contact_everywhere(resend: FakeResend, redis_client: redis.Redis) -> None:
    sync = make_sync(resend, redis_client, delete_event_names=["Contact Deleted"])
    sync.handle(Event.from_dict({"type": "identify", "userId": "u1", "traits": {"email": "ada@example.com"}}))
    outcome = sync.handle(Event.from_dict({"type": "track", "userId": "u1", "event": "Contact Deleted"}))
    assert outcome.status == "applied"
    assert resend.contacts == {}
    assert sync.store.email_for("u1") is None
    assert sync.store.sync_record("ada@example.com").known is False
    assert sync.handle(Event.from_dict({"type": "track", "userId": "u1", "event": "Contact Deleted"})).reason == (
        "no_email"
    )


def test_the_dry_run_reads_redis_only(sync: EventSync, resend: FakeResend, redis_client: redis.Redis) -> None:
    sync.handle(Event.from_dict({"type": "identify", "userId": "u1", "traits": {"email": "ada@example.com"}}))
    before = {k: redis_client.dump(k) for k in redis_client.keys("*")}
    resend.calls.clear()
    traits = {"tier": "gold", "resendAudiences": "A"}
    commands = sync.plan(Event.from_dict({"type": "identify", "userId": "u1", "traits": traits}))
    assert resend.calls == []
    assert {k: redis_client.dump(k) for k in redis_client.keys("*")} == before
    described = [c.describe() for c in commands]
    assert any("segment 'A'" in d for d in described)
    assert any("key=tier" in d for d in described)


def test_redis_down_is_retryable(sync: EventSync, server: fakeredis.FakeServer) -> None:
    server.connected = False
    with pytest.raises(StateStoreUnavailable):
        sync.handle(identify("ada@example.com", tier="a"))


# -- reading ahead (a thread's batch of contacts) --------------------------------------------------


class ReadCounter:
    """Counts the store's single and batched contact reads."""

    def __init__(self, sync: EventSync, monkeypatch: pytest.MonkeyPatch) -> None:
        self.single: list[str] = []
        self.batched: list[list[str]] = []
        store = sync.store
        single, batched = store.contact, store.contacts

        def contact(email: str) -> Any:
            self.single.append(email)
            return single(email)

        def contacts(emails: list[str]) -> Any:
            self.batched.append(list(emails))
            return batched(emails)

        monkeypatch.setattr(store, "contact", contact)
        monkeypatch.setattr(store, "contacts", contacts)


def test_a_batch_reads_its_contacts_in_one_round_trip(
    sync: EventSync, resend: FakeResend, monkeypatch: pytest.MonkeyPatch
) -> None:
    for email in ("ada@example.com", "bob@example.com"):
        sync.handle(identify(email, plan="free"))
    reads = ReadCounter(sync, monkeypatch)
    batch = [identify("ada@example.com", plan="pro"), identify("bob@example.com", plan="pro"),
             Event.from_dict({"type": "track", "userId": "u9", "event": "Clicked"})]  # fmt: skip
    ahead = sync.read_ahead(batch)
    assert [sync.handle(event, ahead).status for event in batch] == ["applied", "applied", "skipped"]
    assert reads.batched == [["ada@example.com", "bob@example.com"]]  # identifies only
    assert reads.single == []
    assert resend.contacts["bob@example.com"].properties["plan"] == "pro"


def test_a_state_read_ahead_serves_one_event_then_redis_is_read_again(
    sync: EventSync, resend: FakeResend, monkeypatch: pytest.MonkeyPatch
) -> None:
    sync.handle(identify("ada@example.com", plan="free"))
    reads = ReadCounter(sync, monkeypatch)
    ahead = sync.read_ahead([identify("ada@example.com")])
    sync.handle(identify("ada@example.com", plan="pro"), ahead)
    sync.handle(identify("ada@example.com", plan="team"), ahead)
    assert reads.single == ["ada@example.com"]  # the second event read Redis, not the batch's copy
    assert resend.contacts["ada@example.com"].properties["plan"] == "team"


def test_segments_reconciled_twice_in_one_batch_see_each_other(sync: EventSync, resend: FakeResend) -> None:
    sync.handle(identify("ada@example.com", resendAudiences="A"))
    ahead = sync.read_ahead([identify("ada@example.com")])
    sync.handle(identify("ada@example.com", resendAudiences="A, B"), ahead)
    sync.handle(identify("ada@example.com", resendAudiences="B"), ahead)  # must see what the first one wrote
    assert resend.segment_names("ada@example.com") == {"B"}
    assert managed_record(resend, "ada@example.com") == {"B"}


def test_a_contact_erased_after_the_read_ahead_ends_right(sync: EventSync, resend: FakeResend) -> None:
    sync.handle(identify("ada@example.com", plan="free"))
    ahead = sync.read_ahead([identify("ada@example.com")])
    # Another lane (or replica) erases the contact after the batch was read: the state read ahead
    # says it exists; the update meets a 404 and the contact is created again, as without it.
    del resend.contacts["ada@example.com"]
    sync.store.forget_contact("ada@example.com")
    assert sync.handle(identify("ada@example.com", plan="pro"), ahead).status == "applied"
    assert resend.contacts["ada@example.com"].properties["plan"] == "pro"


def test_a_failed_read_ahead_costs_nothing(
    sync: EventSync, resend: FakeResend, monkeypatch: pytest.MonkeyPatch
) -> None:
    def down(emails: list[str]) -> Any:
        raise StateStoreUnavailable("redis unavailable: ConnectionError")

    monkeypatch.setattr(sync.store, "contacts", down)
    ahead = sync.read_ahead([identify("ada@example.com")])
    assert sync.handle(identify("ada@example.com", plan="pro"), ahead).status == "applied"
    assert resend.contacts["ada@example.com"].properties["plan"] == "pro"


def test_states_read_ahead_too_long_ago_are_not_used(
    sync: EventSync, resend: FakeResend, monkeypatch: pytest.MonkeyPatch
) -> None:
    sync.handle(identify("ada@example.com", plan="free"))
    reads = ReadCounter(sync, monkeypatch)
    monkeypatch.setattr(sync_context, "READ_AHEAD_SECONDS", 0.0)  # every state is too old
    ahead = sync.read_ahead([identify("ada@example.com")])
    sync.handle(identify("ada@example.com", plan="pro"), ahead)
    assert reads.batched == [["ada@example.com"]]
    assert reads.single == ["ada@example.com"]  # read again when its turn came


def test_an_alias_before_its_previous_ids_identify_resolves_once_that_identify_lands(sync: EventSync) -> None:
    alias = Event.from_dict({"type": "alias", "previousId": "anon-1", "userId": "u1"})
    chained = Event.from_dict({"type": "alias", "previousId": "u1", "userId": "u2"})
    assert (sync.handle(alias).status, sync.handle(alias).reason) == ("skipped", "alias_pending")
    assert sync.handle(chained).reason == "alias_pending"  # u1 has no email yet either
    assert sync.store.email_for("u1") is None
    sync.handle(Event.from_dict({"type": "identify", "userId": "anon-1", "traits": {"email": "Ada@Example.com"}}))
    assert sync.store.email_for("u1") == "ada@example.com"
    assert sync.store.email_for("u2") == "ada@example.com"  # links of links, too
    assert sync.handle(alias).status == "applied"  # now a plain copy


def test_an_alias_linked_after_the_identify_looked_is_copied_at_once(
    sync: EventSync, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The identify of anon-1 lands between the alias's lookup (no email) and its link: the link sees
    # the email and the alias is planned again, as a copy.
    store = sync.store
    lookup = store.email_for

    def late(user_id: str) -> str | None:
        found = lookup(user_id)
        if user_id == "anon-1" and found is None:
            store.remember_users([("anon-1", "ada@example.com")])
        return found

    monkeypatch.setattr(store, "email_for", late)
    outcome = sync.handle(Event.from_dict({"type": "alias", "previousId": "anon-1", "userId": "u1"}))
    assert outcome.status == "applied"
    assert lookup("u1") == "ada@example.com"


def test_decided_answers_only_events_that_need_neither_redis_nor_resend(
    resend: FakeResend, redis_client: redis.Redis
) -> None:
    sync = make_sync(resend, redis_client, delete_event_names=["Contact Deleted"], automation_event_names=["Signed Up"])
    redis_client.flushall()  # whatever a decision needs, it must not come from Redis: make reads fail loudly
    decided = sync.decider()
    scrolled = decided(Event.from_dict({"type": "track", "userId": "u1", "event": "Page Scrolled"}))
    assert scrolled is not None
    assert (scrolled.status, scrolled.reason) == ("skipped", "nothing_to_write")
    for needs_io in (
        {"type": "track", "userId": "u1", "event": "Contact Deleted"},  # a delete trigger
        {"type": "track", "userId": "u1", "event": "Signed Up"},  # forwarded to automations
        {"type": "identify", "userId": "u1", "traits": {"email": "ada@example.com"}},
        {"type": "track", "userId": "u1", "event": "Page Scrolled", "traits": {"plan": "pro"}},  # needs the email
        {"type": "alias", "userId": "u2", "previousId": "u1"},
    ):
        assert decided(Event.from_dict(needs_io)) is None, needs_io
    assert resend.calls == []
    assert redis_client.keys("*") == []
