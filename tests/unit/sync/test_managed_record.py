"""The record of which segments the connector manages survives Redis losing its data (issue #19, 1).

Whatever Redis knows or has forgotten, the managed set is read from the contact's record in Resend
before it is trusted as empty, and kept once read.
"""

from __future__ import annotations

import redis

from connector.events import Event
from tests.unit.fakes.resend import FakeResend, identify, make_sync, managed_record


def test_redis_emptied_then_an_identify_without_audiences_keeps_the_managed_set(
    resend: FakeResend, redis_client: redis.Redis
) -> None:
    sync = make_sync(resend, redis_client)
    sync.handle(identify("ada@example.com", resendAudiences="Alpha"))
    redis_client.flushall()  # Redis restarted: it keeps nothing
    assert sync.handle(identify("ada@example.com", plan="pro")).status == "applied"
    assert sync.handle(identify("ada@example.com", resendAudiences="")).status == "applied"
    assert resend.segment_names("ada@example.com") == set()
    assert managed_record(resend, "ada@example.com") == set()


def test_a_reference_contact_first_seen_without_audiences_keeps_what_the_reference_managed(
    resend: FakeResend, redis_client: redis.Redis
) -> None:
    resend.segments.update({"legacy": "Legacy", "hand": "Hand"})
    resend.properties["jitsu_managed_audiences"] = "string"
    resend.create_contact("old@example.com", properties={"jitsu_managed_audiences": "[legacy]"},
                          segment_ids=["legacy", "hand"])  # fmt: skip
    sync = make_sync(resend, redis_client, system_prefix="jitsu_")
    sync.handle(identify("old@example.com", plan="pro"))
    sync.handle(identify("old@example.com", resendAudiences=""))
    assert resend.segment_names("old@example.com") == {"Hand"}  # Legacy was managed, Hand never was


def test_a_record_that_says_only_exists_is_completed_from_resend_before_reconciling(
    resend: FakeResend, redis_client: redis.Redis
) -> None:
    # A contact hash written before this fix (or by a path that knew only that the contact exists):
    # "exists" without "managed" is not "manages nothing".
    sync = make_sync(resend, redis_client)
    sync.handle(identify("ada@example.com", resendAudiences="Alpha", plan="free"))
    redis_client.hdel("t:contact:{ada@example.com}", "managed", "members")
    resend.calls.clear()
    sync.handle(identify("ada@example.com", resendAudiences="Beta"))
    assert resend.segment_names("ada@example.com") == {"Beta"}
    assert resend.calls.count("get_contact") == 1
    resend.calls.clear()
    sync.handle(identify("ada@example.com", resendAudiences="Beta", plan="x"))
    assert resend.calls == ["update_contact"]  # read once, then kept


def test_the_managed_set_read_from_resend_is_kept_in_redis(resend: FakeResend, redis_client: redis.Redis) -> None:
    sync = make_sync(resend, redis_client)
    sync.handle(identify("ada@example.com", resendAudiences="Alpha"))
    alpha = next(iter(resend.segments))
    redis_client.flushall()
    sync.handle(identify("ada@example.com", plan="pro"))
    assert redis_client.hget("t:contact:{ada@example.com}", "managed") == f"[{alpha}]"
    resend.calls.clear()
    sync.handle(identify("ada@example.com", resendAudiences=""))
    assert "get_contact" not in resend.calls  # what was read is trusted now, not read again


def test_a_newer_managed_record_in_redis_is_not_overwritten_by_an_older_reading(
    resend: FakeResend, redis_client: redis.Redis
) -> None:
    sync = make_sync(resend, redis_client)
    sync.handle(identify("ada@example.com", resendAudiences="Alpha"))
    redis_client.flushall()
    # Between this event's Resend read and its last Redis write, another replica reconciled the
    # contact and recorded what it manages now: that record wins over this event's older reading.
    real = resend.get_contact

    def read_then_other_replica_reconciles(email: str) -> object:
        contact = real(email)
        redis_client.hset("t:contact:{ada@example.com}", mapping={"exists": "1", "managed": "[]", "members": "[]"})
        return contact

    resend.get_contact = read_then_other_replica_reconciles  # type: ignore[method-assign]
    sync.handle(identify("ada@example.com", plan="pro"))
    assert redis_client.hget("t:contact:{ada@example.com}", "managed") == "[]"


def test_track_events_never_write_a_partial_contact_record(resend: FakeResend, redis_client: redis.Redis) -> None:
    sync = make_sync(resend, redis_client)
    sync.handle(identify("ada@example.com", resendAudiences="Alpha"))
    redis_client.flushall()
    sync.handle(Event.from_dict({"type": "track", "event": "x", "traits": {"email": "ada@example.com", "a": "b"}}))
    sync.handle(identify("ada@example.com", resendAudiences=""))
    assert resend.segment_names("ada@example.com") == set()
