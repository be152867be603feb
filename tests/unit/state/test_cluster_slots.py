"""Redis Cluster's rule, checked without a cluster (issue #27): every Lua script, MULTI/EXEC and
multi-key command the connector sends touches keys of one hash slot, and per-contact keys spread.

A spy on fakeredis sees every command of a realistic run (identifies, tracks, groups, aliases,
audience moves, consent, deletions, the rate limiter, the email index, definitions) with the client
taken for a cluster, and fails on the first command or transaction whose keys span slots.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from typing import Any

import fakeredis
import pytest
import redis
from redis.cluster import key_slot

import connector.redisio
from connector.events import Event
from connector.pipeline.history import HistoryWriter, history_key
from connector.resend.ratelimit import RateLimiter
from connector.state import StateStore
from connector.state.base import store_key
from tests.unit.fakes.resend import FakeResend, make_sync

_ALL_KEYS = {"MGET", "DEL", "UNLINK", "EXISTS", "TOUCH", "SINTER", "SUNION", "SDIFF", "WATCH"}


def keys_of(args: Sequence[Any]) -> list[str]:
    name = str(args[0]).upper()
    if name in {"EVAL", "EVALSHA"}:
        return [str(k) for k in args[3 : 3 + int(args[2])]]
    if name in _ALL_KEYS:
        return [str(k) for k in args[1:]]
    if name in {"MULTI", "EXEC", "PING", "SCRIPT", "TIME", "INFO"} or len(args) < 2:
        return []
    return [str(args[1])]


def slots(keys: Sequence[str]) -> set[int]:
    return {key_slot(key.encode()) for key in keys}


class Spy:
    """Records the slots of every command and transaction; ``violations`` lists those spanning several."""

    def __init__(self) -> None:
        self.violations: list[str] = []
        self.transactions = 0
        self.commands = 0

    def command(self, args: Sequence[Any]) -> None:
        self.commands += 1
        if len(slots(keys_of(args))) > 1:
            self.violations.append(f"{args[0]} {keys_of(args)}")

    def transaction(self, stack: Sequence[Sequence[Any]]) -> None:
        self.transactions += 1
        keys = [key for args in stack for key in keys_of(args)]
        if len(slots(keys)) > 1:
            self.violations.append(f"MULTI over {sorted(set(keys))}")


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> Spy:
    seen = Spy()
    monkeypatch.setattr(connector.redisio, "is_cluster", lambda client: True)
    original_execute = redis.client.Pipeline.execute
    original_command = fakeredis.FakeRedis.execute_command

    def execute(self: Any, raise_on_error: bool = True) -> Any:
        stack = [args for args, _ in self.command_stack]
        for args in stack:
            seen.command(args)
        if self.transaction:
            seen.transaction(stack)
        return original_execute(self, raise_on_error)

    def command(self: Any, *args: Any, **options: Any) -> Any:
        seen.command(args)
        return original_command(self, *args, **options)

    monkeypatch.setattr(redis.client.Pipeline, "execute", execute)
    monkeypatch.setattr(fakeredis.FakeRedis, "execute_command", command)
    return seen


def stream(seed: int, people: int = 60, count: int = 600) -> Iterator[Event]:
    rng = random.Random(seed)
    for n in range(count):
        u = n % people if n < people else rng.randrange(people)
        email = f"p{u}@example.com"
        kind = "identify" if n < people else rng.choice(["identify", "track", "group", "alias"])
        if kind == "identify":
            traits = {
                "email": email,
                "plan": rng.choice(["free", "pro"]),
                "resendAudiences": rng.choice(["A", "B", "A,B", ""]),
            }
            yield Event.from_dict({"type": "identify", "userId": f"u{u}", "traits": traits})
        elif kind == "track":
            yield Event.from_dict({"type": "track", "userId": f"u{u}", "event": "Viewed", "properties": {"n": n}})
        elif kind == "group":
            yield Event.from_dict({"type": "group", "userId": f"u{u}", "groupId": f"g{u % 5}", "traits": {"name": "G"}})
        else:
            yield Event.from_dict({"type": "alias", "previousId": f"anon{n}", "userId": f"u{u}"})


def test_a_realistic_run_keeps_every_script_and_transaction_in_one_slot(spy: Spy) -> None:
    client = fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=True)
    sync = make_sync(FakeResend(), client)
    for event in stream(seed=27):
        sync.handle(event)
    store = StateStore(client, prefix="t:", user_ttl_seconds=60, refused_ttl_seconds=60)
    store.remember_segments({"A": "a1"}, loaded=True, replace=True)
    store.replace_properties({"plan": "string"}, ["gone"], at=1)
    store.refused(["x", "y", "z"])
    store.latest_users([f"p{u}@example.com" for u in range(60)])
    store.link_alias("nobody-yet", "later")
    store.remember_users([("nobody-yet", "late@example.com")])
    store.forget_contact("p1@example.com")
    history = HistoryWriter(client, "t:")  # the outcome history (connector.pipeline.history)
    for n in range(5):
        history.add(f"p{n}@example.com", "identify", "applied", "", f"m{n}", "events", 0, n, 1, ())
    history.close()
    assert store_key("t:", "history", "{p1@example.com}") == history_key("t:", "p1@example.com")
    limiter = RateLimiter(client, team="0123abcd", cap=1000, prefix="t:")
    granted = limiter.take()
    limiter.observe({"ratelimit-limit": "5", "ratelimit-remaining": "3", "ratelimit-policy": "5;w=1"}, 200, granted)
    limiter.observe({"ratelimit-limit": "5", "ratelimit-remaining": "0", "ratelimit-policy": "5;w=1"}, 429, 0)
    limiter.wait_ms()
    limiter.cool_down(0.01)
    assert spy.commands > 1000  # the run went through the spy
    assert spy.transactions > 0
    assert spy.violations == []


def test_the_spy_catches_a_transaction_over_two_contacts(spy: Spy) -> None:
    client = fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=True)
    pipe = client.pipeline(transaction=True)
    pipe.set(store_key("t:", "contact", "a@example.com"), "1")
    pipe.set(store_key("t:", "contact", "b@example.com"), "1")
    pipe.execute()
    client.mget([store_key("t:", "user", "u1"), store_key("t:", "user", "u2")])
    assert len(spy.violations) == 2


def test_an_entity_s_keys_share_a_slot_and_entities_spread() -> None:
    email, user = "ada@example.com", "u-42"
    assert (
        len(slots([store_key("p:", name, email) for name in ("contact", "fields", "email-users", "email-user")])) == 1
    )
    assert len(slots([store_key("p:", "user", user), store_key("p:", "alias-pending", user)])) == 1
    groups = [store_key("p:", name) for name in ("segments", "segments:loaded", "properties", "properties:loaded",
                                                 "properties:deleted", "topics", "topics:loaded")]  # fmt: skip
    assert len(slots([*groups, store_key("p:", "property-refused", "k")])) == 1
    assert len(slots([store_key("p:", "email-index"), store_key("p:", "email-index:meta")])) == 1
    spread = slots([store_key("p:", "contact", f"c{n}@example.com") for n in range(1000)])
    assert len(spread) > 900  # 1000 contacts over 16384 slots: nearly all distinct
