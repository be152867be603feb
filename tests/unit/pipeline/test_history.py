"""The outcome history the console shows: capped, expiring, newest first, written in one command."""

from __future__ import annotations

import redis

from connector.mapping.commands import CacheUserEmail, CreateContact, DeleteContact, UpdateContact
from connector.mapping.topics import SetTopics
from connector.pipeline.history import HISTORY_CAP, HISTORY_TTL_SECONDS, HistoryWriter, history_key, read_history


def writer(client: redis.Redis) -> tuple[redis.Redis, HistoryWriter]:
    history = HistoryWriter(client, "p:")
    history.close()  # the thread is stopped; the tests flush by hand
    return client, history


def test_entries_are_read_newest_first_with_the_fields_written(redis_client: redis.Redis) -> None:
    client, history = writer(redis_client)
    create = (
        CacheUserEmail("u1", "a@x.com"),
        CreateContact("a@x.com", first_name="<b>A</b>", properties=(("plan", "pro"),)),
    )
    history.add("a@x.com", "identify", "applied", "", "m1", "events", 2, 10, 2, create)
    history.add("a@x.com", "identify", "skipped", "unchanged", "m2", "events", 2, 11, 0,
                (UpdateContact("a@x.com", properties=(("plan", "team"),)),))  # fmt: skip
    history.flush()
    first, second = read_history(client, "p:", "a@x.com")
    assert (first.message_id, first.outcome, first.reason, first.offset) == ("m2", "skipped", "unchanged", 11)
    assert second.fields == {"first_name": "<b>A</b>", "plan": "pro"}
    assert second.commands == ("CacheUserEmail", "CreateContact")
    assert 0 < client.ttl(history_key("p:", "a@x.com")) <= HISTORY_TTL_SECONDS


def test_each_contact_keeps_only_its_newest_entries(redis_client: redis.Redis) -> None:
    client, history = writer(redis_client)
    for offset in range(HISTORY_CAP + 15):
        history.add("a@x.com", "track", "applied", "", f"m{offset}", "events", 0, offset, 1, ())
    history.add("b@x.com", "track", "applied", "", "b", "events", 1, 0, 1, ())
    history.flush()
    for offset in range(HISTORY_CAP + 15, HISTORY_CAP + 20):  # a second batch trims again
        history.add("a@x.com", "track", "applied", "", f"m{offset}", "events", 0, offset, 1, ())
    history.flush()
    entries = read_history(client, "p:", "a@x.com")
    assert [e.offset for e in entries] == list(range(HISTORY_CAP + 19, 19, -1))
    assert client.llen(history_key("p:", "a@x.com")) == HISTORY_CAP
    assert [e.message_id for e in read_history(client, "p:", "b@x.com")] == ["b"]


def test_topic_subscriptions_written_are_kept_by_topic_name(redis_client: redis.Redis) -> None:
    client, history = writer(redis_client)
    topics = SetTopics("a@x.com", (("t1", "Product news", "opt_out"), ("t2", "Tips", "opt_in")))
    history.add("a@x.com", "identify", "applied", "", "m", "events", 0, 1, 1, (topics,))
    history.flush()
    (entry,) = read_history(client, "p:", "a@x.com")
    assert entry.fields == {"topic:Product news": "opt_out", "topic:Tips": "opt_in"}


def test_an_erasure_empties_the_history_and_leaves_no_entry(redis_client: redis.Redis) -> None:
    client, history = writer(redis_client)
    history.add("a@x.com", "identify", "applied", "", "m1", "events", 0, 1, 1, ())
    history.flush()
    history.add("a@x.com", "identify", "applied", "", "m2", "events", 0, 2, 1, ())
    history.add("a@x.com", "track", "applied", "", "m3", "events", 0, 3, 1, (DeleteContact("a@x.com"),))
    history.flush()
    assert not client.exists(history_key("p:", "a@x.com"))
    history.add("a@x.com", "identify", "applied", "", "m4", "events", 0, 4, 1, ())  # back, later
    history.flush()
    assert [e.message_id for e in read_history(client, "p:", "a@x.com")] == ["m4"]


def test_long_values_are_cut_and_an_unreadable_entry_is_left_out(redis_client: redis.Redis) -> None:
    client, history = writer(redis_client)
    history.add("a@x.com", "identify", "applied", "", None, "events", 0, 1, 1,
                (UpdateContact("a@x.com", properties=(("bio", "x" * 500),)),))  # fmt: skip
    history.flush()
    client.rpush(history_key("p:", "a@x.com"), "not json")
    (entry,) = read_history(client, "p:", "a@x.com")
    assert len(entry.fields["bio"]) == 80


def test_a_redis_failure_drops_the_batch_and_never_raises(redis_client: redis.Redis) -> None:
    client, history = writer(redis_client)
    client.connected = False  # fakeredis: every command raises ConnectionError
    history.add("a@x.com", "identify", "applied", "", "m", "events", 0, 1, 1, ())
    history.flush()
