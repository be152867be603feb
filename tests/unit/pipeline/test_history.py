"""The outcome history the console shows: capped, expiring, newest first, written in one pipeline of
one script call per contact (each in one Redis Cluster slot)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import fakeredis
import pytest
import redis
from redis.cluster import key_slot

from connector.mapping.commands import CacheUserEmail, CreateContact, DeleteContact, UpdateContact
from connector.mapping.topics import SetTopics
from connector.pipeline.history import HISTORY_CAP, HISTORY_TTL_SECONDS, HistoryWriter, history_key, read_history
from connector.state import StateStore


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
    created = CreateContact("b@x.com", topics=(("t2", "Tips", "opt_in"),))  # a new contact's, in its POST
    history.add("b@x.com", "identify", "applied", "", "n", "events", 0, 2, 1, (created,))
    history.flush()
    (entry,) = read_history(client, "p:", "b@x.com")
    assert entry.fields == {"topic:Tips": "opt_in"}


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


def test_a_whole_cluster_lost_drops_the_batch_and_never_raises(
    redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    # redis-py's cluster errors do not derive from RedisError: the writer's thread must survive them.
    client, history = writer(redis_client)

    def lost(*args: Any, **options: Any) -> Any:
        raise redis.exceptions.RedisClusterUnreachableError("no node answers")

    monkeypatch.setattr(redis.client.Pipeline, "execute", lost)
    monkeypatch.setattr(client, "execute_command", lost)
    history.add("a@x.com", "identify", "applied", "", "m", "events", 0, 1, 1, ())
    history.flush()


class Sent:
    """Every command the client sends, alone or in a pipeline (one list per round trip)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, client: redis.Redis) -> None:
        self.trips: list[list[Sequence[Any]]] = []
        direct, execute = client.execute_command, redis.client.Pipeline.execute

        def command(*args: Any, **options: Any) -> Any:
            self.trips.append([args])
            return direct(*args, **options)

        def pipeline(pipe: redis.client.Pipeline, raise_on_error: bool = True) -> list[Any]:
            self.trips.append([args for args, _ in pipe.command_stack])
            return execute(pipe, raise_on_error)

        monkeypatch.setattr(client, "execute_command", command)
        monkeypatch.setattr(redis.client.Pipeline, "execute", pipeline)

    def scripts(self) -> list[list[str]]:
        """The keys each EVAL/EVALSHA named."""
        calls = [args for trip in self.trips for args in trip if str(args[0]).upper() in {"EVAL", "EVALSHA"}]
        return [[str(k) for k in args[3 : 3 + int(args[2])]] for args in calls]


def test_every_script_call_names_keys_of_one_slot_and_a_batch_is_one_round_trip(
    redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Redis Cluster refuses a script whose keys span hash slots (CROSSSLOT, issue #27)."""
    client, history = writer(redis_client)
    sent = Sent(monkeypatch, client)
    emails = [f"person{i}@x.com" for i in range(40)]
    for email in emails:
        history.add(email, "identify", "applied", "", "m", "events", 0, 1, 1, ())
    history.add(emails[0], "track", "applied", "", "d", "events", 0, 2, 1, (DeleteContact(emails[0]),))
    history.flush()
    calls = sent.scripts()
    assert calls, "the writer sent no script"
    assert all(len({key_slot(key.encode()) for key in keys}) == 1 for keys in calls), calls
    assert len({key_slot(keys[0].encode()) for keys in calls}) > 20  # contacts spread over the slots
    # The contact's hash tag: its history shares the slot of anything else tagged by its email.
    assert key_slot(history_key("p:", emails[1]).encode()) == key_slot(f"contact:{{{emails[1]}}}".encode())
    assert not client.exists(history_key("p:", emails[0]))
    assert [e.message_id for e in read_history(client, "p:", emails[39])] == ["m"]
    sent.trips.clear()  # the script is loaded by now: a batch is one pipeline, nothing else
    for email in emails:
        history.add(email, "identify", "applied", "", "m2", "events", 0, 3, 1, ())
    history.flush()
    assert len(sent.trips) == 1
    assert len(sent.trips[0]) == len(emails)
    assert [e.message_id for e in read_history(client, "p:", emails[39])] == ["m2", "m"]


def test_a_server_that_lost_the_script_is_sent_it_again(redis_client: redis.Redis) -> None:
    client, history = writer(redis_client)
    history.add("a@x.com", "identify", "applied", "", "m1", "events", 0, 1, 1, ())
    history.flush()
    client.script_flush()  # a restart, a failover, another cluster node
    history.add("a@x.com", "identify", "applied", "", "m2", "events", 0, 2, 1, ())
    history.add("b@x.com", "identify", "applied", "", "b", "events", 0, 3, 1, ())
    history.flush()
    assert [e.message_id for e in read_history(client, "p:", "a@x.com")] == ["m2", "m1"]
    assert [e.message_id for e in read_history(client, "p:", "b@x.com")] == ["b"]


def test_erasing_a_contact_deletes_its_history_under_both_names(server: fakeredis.FakeServer) -> None:
    client = fakeredis.FakeRedis(server=server, decode_responses=True)
    store = StateStore(client, prefix="p:", user_ttl_seconds=100, refused_ttl_seconds=50)
    _, history = writer(client)
    history.add("a@x.com", "identify", "applied", "", "m1", "events", 0, 1, 1, ())
    history.flush()
    client.rpush("p:history:a@x.com", "[]")  # written before the key carried the contact's tag
    store.forget_contact("a@x.com")
    assert not client.exists(history_key("p:", "a@x.com"), "p:history:a@x.com")
