"""Order by identity: which records wait for which, retries, revocations (issue #13 point 1)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from connector.pipeline.ordering import IdentityScheduler, identities_of, joins_of


@dataclass(eq=False)
class Item:
    name: str
    identities: tuple[str, ...]
    partition_key: Any = 0
    joins: tuple[str, ...] = ()
    blocked: int = field(default=0)


def names(items: list[Item]) -> list[str]:
    return [i.name for i in items]


def test_identities_are_the_key_the_ids_and_the_emails_of_both_trait_sets() -> None:
    event = {"type": "alias", "userId": "u1", "anonymousId": 7, "previousId": "anon-1",
             "traits": {"email": " Ada@Example.com "}, "context": {"traits": {"email": "bob@example.com"}}}  # fmt: skip
    assert set(identities_of(b"m-1", event)) == {"m-1", "u1", "7", "anon-1", "ada@example.com", "bob@example.com"}
    # One namespace: producers key by these very ids, and a userId may be the person's email.
    assert identities_of(b"u1", {"userId": "u1"}) == ("u1",)
    assert identities_of(None, {"userId": "ada@example.com", "traits": {"email": "Ada@example.com"}}) == (
        "ada@example.com",
    )
    assert identities_of(None, b"not a dict") == ()
    assert identities_of(None, {"userId": True, "traits": "x", "context": []}) == ()


def test_an_alias_keyed_by_its_new_id_waits_for_the_identify_of_its_previous_id() -> None:
    scheduler: IdentityScheduler[Item] = IdentityScheduler()
    identify = Item("identify", identities_of(b"anon-1", {"anonymousId": "anon-1", "traits": {"email": "a@x.io"}}))
    alias = Item("alias", identities_of(b"u1", {"userId": "u1", "previousId": "anon-1"}))
    track = Item("track", identities_of(b"m-9", {"userId": "u1"}))
    other = Item("other", identities_of(None, {"userId": "u2"}))
    for item in (identify, alias, track, other):
        scheduler.push(item)
    assert names(scheduler.take(0, 10)) == ["identify", "other"]
    scheduler.done(identify)
    assert names(scheduler.take(0, 10)) == ["alias"]
    scheduler.done(alias)
    assert names(scheduler.take(0, 10)) == ["track"]
    scheduler.done(track)
    scheduler.done(other)
    assert len(scheduler) == 0


def test_after_an_alias_its_two_ids_are_one_person_in_both_directions() -> None:
    scheduler: IdentityScheduler[Item] = IdentityScheduler()
    alias_event = {"type": "alias", "previousId": "old", "userId": "new"}
    alias = Item("alias", identities_of(b"m-1", alias_event), joins=joins_of(alias_event))
    identify_old = Item("identify-old", identities_of(b"m-2", {"userId": "old"}))
    track_new = Item("track-new", identities_of(b"m-3", {"userId": "new"}))
    identify_old_again = Item("identify-old-again", identities_of(b"m-4", {"userId": "old"}))
    for item in (alias, identify_old, track_new, identify_old_again):
        scheduler.push(item)
    for expected in ("alias", "identify-old", "track-new", "identify-old-again"):
        [item] = scheduler.take(0, 10)  # one at a time: the new id waits for the old one and back
        assert item.name == expected
        scheduler.done(item)
    assert joins_of({"type": "identify", "userId": "a", "previousId": "b"}) == ()
    assert joins_of({"type": "alias", "userId": "a"}) == ()


def test_a_record_waits_for_every_identity_it_shares() -> None:
    scheduler: IdentityScheduler[Item] = IdentityScheduler()
    a, b, both = Item("a", ("a",)), Item("b", ("b",)), Item("both", ("a", "b"))
    for item in (a, b, both):
        scheduler.push(item)
    assert names(scheduler.take(0, 10)) == ["a", "b"]
    scheduler.done(a)
    assert scheduler.take(0, 10) == []  # still behind b
    scheduler.done(b)
    assert names(scheduler.take(0, 10)) == ["both"]


def test_other_partitions_and_records_without_identities_run_concurrently() -> None:
    scheduler: IdentityScheduler[Item] = IdentityScheduler()
    scheduler.push(Item("p0", ("k:a",), 0))
    scheduler.push(Item("p1", ("k:a",), 1))
    scheduler.push(Item("none-1", ()))
    scheduler.push(Item("none-2", ()))
    assert names(scheduler.take(0, 10)) == ["p0", "p1", "none-1", "none-2"]


def test_a_retried_record_holds_back_what_shares_its_identity_until_its_time() -> None:
    scheduler: IdentityScheduler[Item] = IdentityScheduler()
    first, second, free = Item("first", ("k:a",)), Item("second", ("k:a",)), Item("free", ("k:b",))
    for item in (first, second, free):
        scheduler.push(item)
    assert names(scheduler.take(0, 1)) == ["first"]
    scheduler.retry_at(first, 5.0)
    assert names(scheduler.take(1.0, 10)) == ["free"]
    assert scheduler.next_retry() == 5.0
    assert not scheduler.has_ready(1.0)
    assert scheduler.has_ready(5.0)
    assert names(scheduler.take(5.0, 10)) == ["first"]
    scheduler.done(first)
    assert names(scheduler.take(5.0, 10)) == ["second"]


def test_dropping_a_partition_keeps_what_runs_and_forgets_the_rest() -> None:
    scheduler: IdentityScheduler[Item] = IdentityScheduler()
    running, queued, waiting = Item("running", ("k:a",)), Item("queued", ("k:a",)), Item("waiting", ("k:b",))
    kept = Item("kept", ("k:a",), 1)
    for item in (running, queued, waiting, kept):
        scheduler.push(item)
    assert names(scheduler.take(0, 3)) == ["running", "waiting", "kept"]
    scheduler.retry_at(waiting, 9.0)
    assert scheduler.drop([0]) == 2  # queued and waiting; running is still running
    assert len(scheduler) == 2
    scheduler.done(running)
    scheduler.done(kept)
    assert len(scheduler) == 0
    assert scheduler.take(10.0, 10) == []


def test_random_streams_keep_partition_order_per_identity_and_lose_nothing() -> None:
    rng = random.Random(13)
    for _ in range(50):
        scheduler: IdentityScheduler[Item] = IdentityScheduler()
        items = [Item(str(n), tuple({f"k:{rng.randrange(8)}" for _ in range(rng.randint(0, 3))}), rng.randrange(2))
                 for n in range(60)]  # fmt: skip
        for item in items:
            scheduler.push(item)
        finished: list[Item] = []
        running: list[Item] = []
        while len(finished) < len(items):
            running.extend(scheduler.take(0, rng.randint(1, 4)))
            assert running, "nothing runnable while records remain: a deadlock"
            item = running.pop(rng.randrange(len(running)))
            for earlier in items[: items.index(item)]:
                shares = earlier.partition_key == item.partition_key and set(earlier.identities) & set(item.identities)
                assert not shares or earlier in finished, f"{item.name} overtook {earlier.name}"
            scheduler.done(item)
            finished.append(item)
        assert len(scheduler) == 0


def test_followers_are_the_persons_next_records_that_wait_for_nothing_else() -> None:
    # Merging what waits (#25): a record is handed out with its person's records queued right behind
    # it, up to one that also waits for someone else, an alias, or the limit.
    scheduler: IdentityScheduler[Item] = IdentityScheduler()
    first, second, third = Item("1", ("u1", "ada@x.io")), Item("2", ("u1",)), Item("3", ("ada@x.io", "u1"))
    shared, after = Item("shared", ("u1", "u2")), Item("after", ("u1",))
    for item in (Item("u2", ("u2",)), first, second, third, shared, after):
        scheduler.push(item)
    (other, head) = scheduler.take(0, 10)
    assert (head, other.name) == (first, "u2")
    assert names(scheduler.followers(first, 10)) == ["2", "3"]
    assert scheduler.take(0, 10) == []  # the followers run with their head: none is handed out again
    # Their head done, a follower does not become ready again (it is running); done in order, the
    # next record waits for u2's record only.
    scheduler.done(first)
    assert scheduler.take(0, 10) == []
    scheduler.done(second)
    scheduler.done(third)
    assert scheduler.take(0, 10) == []
    scheduler.done(other)
    assert names(scheduler.take(0, 10)) == ["shared"]


def test_a_follower_not_tried_waits_behind_its_head_again() -> None:
    scheduler: IdentityScheduler[Item] = IdentityScheduler()
    head, follower = Item("head", ("u1",)), Item("follower", ("u1",))
    scheduler.push(head)
    scheduler.push(follower)
    scheduler.take(0, 10)
    assert scheduler.followers(head, 1) == [follower]
    scheduler.retry_at(follower, 5.0)  # not tried: back behind its head, not waiting on its own
    scheduler.retry_at(head, 5.0)
    assert scheduler.take(4.0, 10) == []
    assert scheduler.take(5.0, 10) == [head]  # the head alone comes back first
    assert scheduler.followers(head, 0) == []
    scheduler.done(head)
    assert scheduler.take(5.0, 10) == [follower]
    assert len(scheduler) == 1


def test_an_alias_is_never_a_follower_nor_followed() -> None:
    scheduler: IdentityScheduler[Item] = IdentityScheduler()
    head, alias = Item("head", ("u1",)), Item("alias", ("u1", "anon"), joins=("anon", "u1"))
    scheduler.push(head)
    scheduler.push(alias)
    scheduler.take(0, 10)
    assert scheduler.followers(head, 10) == []
