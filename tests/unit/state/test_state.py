"""The Redis state store and lock, on an in-process Redis (fakeredis, with Lua)."""

from __future__ import annotations

from collections.abc import Iterator

import fakeredis
import pytest
import redis

from connector.errors import RetryableError, StateStoreUnavailable
from connector.mapping import ContactState
from connector.state import StateStore, redis_lock


@pytest.fixture
def server() -> fakeredis.FakeServer:
    return fakeredis.FakeServer()


@pytest.fixture
def client(server: fakeredis.FakeServer) -> Iterator[redis.Redis]:
    connection = fakeredis.FakeRedis(server=server, decode_responses=True)
    yield connection
    connection.close()


@pytest.fixture
def store(client: redis.Redis) -> StateStore:
    return StateStore(client, prefix="t:", user_ttl_seconds=100, refused_ttl_seconds=50)


def test_a_held_lock_keeps_others_out_until_released(client: redis.Redis) -> None:
    with redis_lock(client, "t:lock:x"), pytest.raises(RetryableError), redis_lock(client, "t:lock:x", wait_s=0):
        pass
    with redis_lock(client, "t:lock:x", wait_s=0):
        assert client.exists("t:lock:x")
    assert not client.exists("t:lock:x")


def test_a_lock_that_expired_is_never_released_by_its_old_holder(client: redis.Redis) -> None:
    with pytest.raises(RetryableError, match="lost while held"), redis_lock(client, "t:lock:x"):
        client.set("t:lock:x", "someone-else")  # our TTL ran out and another process took it
    assert client.get("t:lock:x") == "someone-else"


def test_the_lock_has_a_ttl_so_a_dead_holder_frees_it(client: redis.Redis) -> None:
    with redis_lock(client, "t:lock:x", ttl_ms=5_000):
        assert 0 < client.pttl("t:lock:x") <= 5_000


def test_user_ids_map_to_emails_with_a_ttl(store: StateStore, client: redis.Redis) -> None:
    store.remember_users([("u1", "ada@example.com")])
    assert store.email_for("u1") == "ada@example.com"
    assert 0 < client.ttl("t:user:{u1}") <= 100
    assert store.email_for("u2") is None


def test_user_mappings_ride_along_with_the_contact_and_sync_records(store: StateStore, client: redis.Redis) -> None:
    store.remember_contact("a@x.io", frozenset({"s1"}), None, synced=True, users=[("u1", "a@x.io")])
    store.record_sync("b@x.io", "synced", users=[("u2", "b@x.io"), ("u3", "b@x.io")])
    assert (store.email_for("u1"), store.email_for("u2"), store.email_for("u3")) == ("a@x.io", "b@x.io", "b@x.io")
    assert store.sync_record("b@x.io").user_ids == {"u2", "u3"}
    assert store.sync_record("a@x.io").last_outcome == "synced"
    assert 0 < client.ttl("t:user:{u2}") <= 100


def test_contact_state_round_trips_and_none_leaves_it_unchanged(store: StateStore) -> None:
    assert store.contact("ada@example.com") is None
    store.remember_contact("ada@example.com", frozenset({"a", "b"}), frozenset({"a", "b", "c"}))
    store.remember_contact("ada@example.com", None, None, synced=True)
    assert store.contact("ada@example.com") == ContactState(True, frozenset({"a", "b"}), frozenset({"a", "b", "c"}))
    assert store.sync_record("ada@example.com").last_outcome == "synced"


def test_a_stale_contact_is_forgotten_but_its_sync_record_kept(store: StateStore) -> None:
    store.remember_contact("ada@example.com", frozenset({"a"}), None)
    store.record_sync("ada@example.com", "synced")
    store.forget_contact_state("ada@example.com")
    assert store.contact("ada@example.com") is None
    assert store.sync_record("ada@example.com").last_outcome == "synced"


def test_erasure_forgets_the_contact_and_every_user_id_of_it(store: StateStore) -> None:
    store.remember_users([("u1", "ada@example.com")])
    store.remember_users([("u2", "ada@example.com")])
    store.remember_users([("u3", "bob@example.com")])
    store.remember_contact("ada@example.com", frozenset(), frozenset())
    store.forget_contact("ada@example.com")
    assert (store.email_for("u1"), store.email_for("u2"), store.email_for("u3")) == (None, None, "bob@example.com")
    record = store.sync_record("ada@example.com")
    assert (record.known, record.last_outcome, record.user_ids) == (False, None, frozenset())


def test_refused_keys_are_remembered_for_a_while(store: StateStore, client: redis.Redis) -> None:
    store.refuse("bad", "422 validation_error")
    assert store.refused(["bad", "good"]) == {"bad"}
    assert 0 < client.ttl("t:{definitions}:property-refused:bad") <= 50
    assert store.refused([]) == frozenset()


def test_segment_map_can_be_replaced(store: StateStore) -> None:
    store.remember_segments({"A": "1", "B": "2"}, loaded=True)
    assert store.segment_ids() == ({"A": "1", "B": "2"}, True)
    store.remember_segments({"A": "3"}, replace=True)
    assert store.segment_ids() == ({"A": "3"}, True)


def test_redis_failures_become_state_store_unavailable(store: StateStore, server: fakeredis.FakeServer) -> None:
    server.connected = False
    with pytest.raises(StateStoreUnavailable):
        store.contact("ada@example.com")


def test_several_contacts_read_at_once_match_one_by_one(store: StateStore) -> None:
    store.remember_contact("a@x.io", frozenset({"s1"}), frozenset({"s1", "s2"}))
    store.remember_contact("b@x.io", frozenset(), None)
    store.record_sync("c@x.io", "failed", "refused")  # a sync record alone: not a known contact
    emails = ["a@x.io", "b@x.io", "c@x.io", "d@x.io"]
    assert store.contacts(emails) == {email: store.contact(email) for email in emails}
    assert store.contacts(emails)["a@x.io"] == ContactState(
        exists=True, managed=frozenset({"s1"}), members=frozenset({"s1", "s2"})
    )
    assert store.contacts(emails)["c@x.io"] is None
