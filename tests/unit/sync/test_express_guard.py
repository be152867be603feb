"""The express register on both paths (issue #25), with the real EventSync on fakeredis and the fake Resend."""

from __future__ import annotations

from typing import Any

import redis

from connector.events import Event
from connector.mapping.express import Position, express_action
from connector.pipeline.express import EXPRESS_REASON, recording
from connector.pipeline.history import HistoryWriter, read_history
from connector.resend import RateLimiter
from connector.sync import EventSync
from tests.unit.fakes.resend import FakeResend, make_sync

ADA = "ada@example.com"


def event(kind: str, **fields: Any) -> Event:
    return Event.from_dict({"type": kind, **fields})


def express(sync: EventSync, raw: Event, at: Position) -> str:
    """What the express path does with ``raw`` (pipeline/express.py hands it to ExpressGuard.act)."""
    action = express_action(raw, sync._settings)
    assert action is not None
    return sync.express.act(raw, action, at, lambda part: sync.handle(part).status)


def test_an_older_resubscribe_processed_after_the_opt_out_keeps_the_person_unsubscribed(
    resend: FakeResend, redis_client: redis.Redis
) -> None:
    sync = make_sync(resend, redis_client, allow_resubscribe=True)
    sync.handle(event("identify", userId="u", traits={"email": ADA, "plan": "free"}), at=Position(0, 0, 1_000))
    opt_out = event("track", userId="u", event="Saved", traits={"email": ADA, "unsubscribed": True})
    assert express(sync, opt_out, Position(0, 9, 9_000)) == "applied"
    assert resend.contacts[ADA].unsubscribed is True

    older = event("identify", userId="u", traits={"email": ADA, "unsubscribed": False, "plan": "pro"})
    assert sync.handle(older, at=Position(0, 5, 5_000)).status == "applied"
    assert (resend.contacts[ADA].unsubscribed, resend.contacts[ADA].properties["plan"]) == (True, "pro")
    # Another partition: older by its timestamp (a tie counts as older), newer after it.
    sync.handle(older, at=Position(1, 50, 9_000))
    assert resend.contacts[ADA].unsubscribed is True

    sync.handle(opt_out, at=Position(0, 9, 9_000))  # the main path reaches the opt-out itself
    newer = event("identify", userId="u", traits={"email": ADA, "unsubscribed": False})
    sync.handle(newer, at=Position(0, 12, 12_000))
    assert resend.contacts[ADA].unsubscribed is False  # a newer re-subscribe applies normally


def test_without_a_position_nothing_is_held_back(resend: FakeResend, redis_client: redis.Redis) -> None:
    sync = make_sync(resend, redis_client, allow_resubscribe=True)
    sync.handle(event("identify", traits={"email": ADA}))
    express(sync, event("identify", traits={"email": ADA, "unsubscribed": True}), Position(0, 9, 9_000))
    sync.handle(event("identify", traits={"email": ADA, "unsubscribed": False}))  # replay, dry runs: no place
    assert resend.contacts[ADA].unsubscribed is False


def test_the_express_path_never_applies_what_the_main_path_has_passed(
    resend: FakeResend, redis_client: redis.Redis
) -> None:
    sync = make_sync(resend, redis_client, allow_resubscribe=True)
    sync.handle(event("identify", traits={"email": ADA}))
    opt_out = event("identify", traits={"email": ADA, "unsubscribed": True})
    sync.handle(opt_out, at=Position(0, 3, 3_000))  # the main path got there first...
    sync.handle(event("identify", traits={"email": ADA, "unsubscribed": False}), at=Position(0, 4, 4_000))
    calls = len(resend.calls)
    assert express(sync, opt_out, Position(0, 3, 3_000)) == "passed_by_main_path"  # ...a late read: nothing
    assert (resend.contacts[ADA].unsubscribed, len(resend.calls)) == (False, calls)


def test_an_erasure_is_not_undone_by_older_events_and_a_newer_sign_up_creates_the_contact(
    resend: FakeResend, redis_client: redis.Redis
) -> None:
    sync = make_sync(resend, redis_client, delete_event_names=["Contact Deleted"])
    sync.handle(event("identify", userId="u", traits={"email": ADA}), at=Position(0, 0, 1_000))
    assert express(sync, event("track", userId="u", event="Contact Deleted"), Position(0, 9, 9_000)) == "applied"
    assert ADA not in resend.contacts

    older = event("identify", userId="u", traits={"email": ADA, "plan": "old"})
    result = sync.handle(older, at=Position(0, 4, 4_000))
    assert (result.status, result.reason, ADA in resend.contacts) == ("skipped", "erased_later", False)
    assert sync.store.email_for("u") is None  # not even its userId mapping comes back
    sync.handle(event("identify", userId="u", traits={"email": ADA, "plan": "new"}), at=Position(0, 10, 10_000))
    assert resend.contacts[ADA].properties["plan"] == "new"


def test_an_opt_out_whose_email_is_not_known_yet_holds_back_that_users_older_events(
    resend: FakeResend, redis_client: redis.Redis
) -> None:
    sync = make_sync(resend, redis_client)
    opt_out = event("track", userId="u-new", event="Saved", traits={"unsubscribed": True})
    assert express(sync, opt_out, Position(2, 40, 40_000)) == "recorded_for_user_id"
    assert resend.calls == []
    # Its identify waited in the backlog: the contact is created already unsubscribed.
    sync.handle(event("identify", userId="u-new", traits={"email": ADA}), at=Position(2, 7, 7_000))
    assert resend.contacts[ADA].unsubscribed is True


def test_once_a_userid_is_linked_to_its_email_older_events_of_any_id_of_that_email_are_held_back(
    resend: FakeResend, redis_client: redis.Redis
) -> None:
    sync = make_sync(resend, redis_client, allow_resubscribe=True)
    opt_out = event("track", userId="u-new", event="Saved", traits={"unsubscribed": True})
    assert express(sync, opt_out, Position(2, 40, 40_000)) == "recorded_for_user_id"
    sync.handle(event("identify", userId="u-new", traits={"email": ADA}), at=Position(2, 7, 7_000))
    assert resend.contacts[ADA].unsubscribed is True
    # An older identify of another userId with the same email, on another partition.
    older = event("identify", userId="u-old", traits={"email": ADA, "unsubscribed": False})
    sync.handle(older, at=Position(1, 3, 3_000))
    assert resend.contacts[ADA].unsubscribed is True
    # An older track of an id aliased to the person: its email comes from the alias, then held back.
    sync.handle(event("alias", previousId="u-new", userId="u-later"), at=Position(2, 8, 8_000))
    assert sync.store.email_for("u-later") == ADA
    resubscribe = event("track", userId="u-later", event="Saved", traits={"unsubscribed": False})
    sync.handle(resubscribe, at=Position(0, 5, 5_000))
    assert resend.contacts[ADA].unsubscribed is True
    sync.handle(resubscribe, at=Position(0, 60, 60_000))  # newer than the opt-out: applies normally
    assert resend.contacts[ADA].unsubscribed is False


def test_an_erasure_recorded_by_userid_holds_back_older_events_of_another_id_with_its_email(
    resend: FakeResend, redis_client: redis.Redis
) -> None:
    sync = make_sync(resend, redis_client, delete_event_names=["Contact Deleted"])
    erase = event("track", userId="u-new", event="Contact Deleted")
    assert express(sync, erase, Position(2, 40, 40_000)) == "recorded_for_user_id"
    result = sync.handle(event("identify", userId="u-new", traits={"email": ADA}), at=Position(2, 7, 7_000))
    assert (result.reason, ADA in resend.contacts) == ("erased_later", False)
    result = sync.handle(event("identify", userId="u-old", traits={"email": ADA}), at=Position(1, 3, 3_000))
    assert (result.reason, ADA in resend.contacts) == ("erased_later", False)
    sync.handle(event("identify", userId="u-old", traits={"email": ADA}), at=Position(1, 9, 50_000))
    assert ADA in resend.contacts  # newer: a sign-up after the erasure creates the contact anew


def test_express_writes_join_the_contacts_outcome_history_marked_express(
    resend: FakeResend, redis_client: redis.Redis
) -> None:
    sync = make_sync(resend, redis_client, delete_event_names=["Contact Deleted"])
    history = HistoryWriter(redis_client, "t:")
    history.close()  # flushed by hand
    sync.handle(event("identify", userId="u", traits={"email": ADA}), at=Position(0, 0, 1_000))
    opt_out = event("track", userId="u", messageId="m-out", event="Saved", traits={"unsubscribed": True})
    action = express_action(opt_out, sync._settings)
    assert action is not None
    at = Position(3, 9, 9_000)
    assert sync.express.act(opt_out, action, at, recording(sync.handle, history, "events", at)) == "applied"
    history.flush()
    [entry] = read_history(redis_client, "t:", ADA)
    assert (entry.outcome, entry.reason, entry.message_id) == ("applied", EXPRESS_REASON, "m-out")
    assert (entry.topic, entry.partition, entry.offset, entry.fields) == ("events", 3, 9, {"unsubscribed": "True"})

    erase = event("track", userId="u", event="Contact Deleted")
    erasure = express_action(erase, sync._settings)
    assert erasure is not None
    sync.express.act(erase, erasure, Position(3, 10, 10_000), recording(sync.handle, history, "events", at))
    history.flush()
    assert read_history(redis_client, "t:", ADA) == []  # an erasure leaves nothing, as on the main path


def test_an_erasure_recorded_by_userid_deletes_the_contact_an_older_event_of_another_id_created(
    resend: FakeResend, redis_client: redis.Redis
) -> None:
    sync = make_sync(resend, redis_client, delete_event_names=["Contact Deleted"])
    erase = event("track", userId="u-new", event="Contact Deleted")
    assert express(sync, erase, Position(2, 40, 40_000)) == "recorded_for_user_id"
    # Before anything links u-new to Ada, an older event of another id creates her contact.
    sync.handle(event("identify", userId="u-old", traits={"email": ADA}), at=Position(1, 3, 3_000))
    assert ADA in resend.contacts
    result = sync.handle(event("identify", userId="u-new", traits={"email": ADA}), at=Position(2, 7, 7_000))
    assert result.reason == "erased_later"
    assert sync.store.email_for("u-new") == ADA  # kept, so that the erasure finds her
    sync.handle(erase, at=Position(2, 40, 40_000))  # the main path reaches the erasure
    assert ADA not in resend.contacts
    assert (sync.store.email_for("u-new"), sync.store.email_for("u-old")) == (None, None)
    # After the erasure, an older event names u-new with Ada again: skipped, and caches nothing.
    sync.handle(event("identify", userId="u-new", traits={"email": ADA}), at=Position(2, 8, 8_000))
    assert (ADA in resend.contacts, sync.store.email_for("u-new")) == (False, None)


def test_the_email_key_learns_when_the_main_path_passed_an_opt_out_recorded_by_userid(
    resend: FakeResend, redis_client: redis.Redis
) -> None:
    sync = make_sync(resend, redis_client, allow_resubscribe=True)
    opt_out = event("track", userId="u-new", event="Saved", traits={"unsubscribed": True})
    assert express(sync, opt_out, Position(2, 40, 40_000)) == "recorded_for_user_id"
    sync.handle(event("identify", userId="u-new", traits={"email": ADA}), at=Position(2, 7, 7_000))  # links
    redis_client.delete(sync.store.key("user", "u-new"))  # the main path reaches X still without its email
    sync.handle(opt_out, at=Position(2, 40, 40_000))
    sync.handle(event("identify", userId="u-new", traits={"email": ADA, "unsubscribed": False}),
                at=Position(2, 41, 41_000))  # fmt: skip
    assert resend.contacts[ADA].unsubscribed is False  # newer: re-subscribed
    # A late express read of X (a rebalance), its email known by now: it must not undo the newer event.
    assert express(sync, opt_out, Position(2, 40, 40_000)) == "passed_by_main_path"
    assert resend.contacts[ADA].unsubscribed is False


def test_an_erasure_recorded_by_an_aliases_new_userid_deletes_the_contact_the_old_id_wrote(
    resend: FakeResend, redis_client: redis.Redis
) -> None:
    # Seed 25 of tests/integration/test_merge_oracle.py: identify u1, group u1, alias u1 -> u1-28,
    # erasure by u1-28, read ahead by the express path while u1-28's email was not known.
    sync = make_sync(resend, redis_client, delete_event_names=["Contact Deleted"])
    erase = event("track", userId="u1-28", event="Contact Deleted")
    assert express(sync, erase, Position(0, 60, 60_000)) == "recorded_for_user_id"
    sync.handle(event("identify", userId="u1", traits={"email": ADA}), at=Position(0, 1, 1_000))
    sync.handle(event("group", userId="u1", groupId="g2", traits={"size": "5"}), at=Position(0, 10, 10_000))
    assert "group_size" in resend.contacts[ADA].properties
    alias = sync.handle(event("alias", previousId="u1", userId="u1-28"), at=Position(0, 20, 20_000))
    assert alias.reason == "erased_later"
    assert sync.store.email_for("u1-28") == ADA  # kept: the erasure must find the contact
    sync.handle(erase, at=Position(0, 60, 60_000))  # the main path reaches the erasure
    assert ADA not in resend.contacts
    # The sign-up after the erasure creates the contact anew, without the group's fields from before.
    sync.handle(event("identify", userId="u1-28", traits={"email": ADA}), at=Position(0, 70, 70_000))
    assert "group_size" not in resend.contacts[ADA].properties


def test_the_express_part_takes_the_shared_limits_next_slot_before_the_main_path(
    resend: FakeResend, redis_client: redis.Redis
) -> None:
    sync = make_sync(resend, redis_client)
    limiter = RateLimiter(redis_client, team="t", cap=0.1, prefix="t:")  # a slot per 10 s: one is taken below
    mark = "t:ratelimit:{t}:first"
    asked: list[tuple[int, bool]] = []

    def handle(part: Event) -> str:
        asked.append((limiter.wait_ms(), bool(redis_client.exists(mark))))
        return sync.handle(part).status

    sync.handle(event("identify", userId="u", traits={"email": ADA}), at=Position(0, 0, 1_000))
    assert limiter.wait_ms() == 0  # the main path's worker took the slot due now
    opt_out = event("track", userId="u", event="Saved", traits={"unsubscribed": True})
    action = express_action(opt_out, sync._settings)
    assert action is not None
    assert sync.express.act(opt_out, action, Position(0, 9, 9_000), handle) == "applied"
    [(wait, marked)] = asked
    assert wait > 0  # the next slot...
    assert marked  # ...which the main path's callers leave to it
    redis_client.delete(mark)
    assert limiter.wait_ms() > 0  # outside the express part, an ordinary caller
    assert not redis_client.exists(mark)
