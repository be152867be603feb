"""A randomised simulation of ordering (issue #13 point 2): random streams over many users, keyed at
random (userId, anonymousId, messageId, no key), random Resend failures and latency, through the
real run loop, lifecycle and sync (fakes only for Kafka, Resend and Redis). Each contact's final
state must equal what applying its events in partition order gives (the oracle below).

The same property is checked against the real broker, Redis and emulator, with the sample events of
``make run``, in tests/integration/test_ordering_e2e.py.
"""

from __future__ import annotations

import random
import threading
import time
from collections import defaultdict
from typing import Any, cast

import fakeredis
import pytest
from kafka import TopicPartition

from connector.dead_letters.sink import DeadLetterTopic
from connector.errors import RateLimited, ResendUnavailable
from connector.kafka.records import InFlight
from connector.pipeline import runner as runner_module
from connector.pipeline.lifecycle import Lifecycle
from connector.pipeline.metrics import Metrics
from connector.pipeline.runner import Runner
from connector.resend import ResendClient
from connector.settings import KafkaSettings, load_settings
from connector.sync import EventSync
from connector.wiring import state_store
from tests.unit.fakes.kafka import FakeConsumer, Record, RecordingDeadLetters
from tests.unit.fakes.pipeline import NoTransforms
from tests.unit.fakes.resend import FakeResend

PARTITIONS = [TopicPartition("events", p) for p in range(4)]


class JsonDecoder:
    def decode(self, value: bytes) -> dict[str, Any]:
        import json

        return dict(json.loads(value))


class FlakyResend(FakeResend):
    """Fails some calls before they take effect (503, or 429 with a tiny retry-after), and answers
    each after a random delay, so concurrent records finish in a random order."""

    def __init__(self, rng: random.Random, failure_rate: float) -> None:
        super().__init__()
        self._rng = rng
        self._rate = failure_rate
        self._lock = threading.Lock()

    def _call(self, method: str) -> None:
        with self._lock:
            delay, roll, which = self._rng.uniform(0, 0.002), self._rng.random(), self._rng.random()
        time.sleep(delay)
        if roll < self._rate:
            raise ResendUnavailable("503", status=503) if which < 0.5 else RateLimited("429", retry_after=0.001)
        super()._call(method)


class PartitionedConsumer(FakeConsumer):
    """Kafka as the run loop sees it (the wrapper): several partitions, batches of random sizes, holds and
    pauses honoured."""

    def __init__(self, partitions: dict[TopicPartition, list[Record]], rng: random.Random) -> None:
        super().__init__([])
        self.partitions = partitions
        self.positions = dict.fromkeys(partitions, 0)
        self.rng = rng
        self.committed: dict[TopicPartition, int] = {}
        self.assigned_on_join = set(partitions)

    def poll(self, idle_ms: int, max_records: int, now: float) -> list[InFlight]:
        out: list[InFlight] = []
        for tp, records in self.partitions.items():
            if tp in self.paused_set or self.rng.random() < 0.3:
                continue
            start = self.positions[tp]
            batch = records[start : start + self.rng.randint(1, max(1, max_records // 4))]
            epoch = self.epoch(tp)
            out.extend(InFlight(tp.topic, tp.partition, r.offset, r.key, r.value, list(r.headers), r.timestamp, tp,
                                now, epoch or 0) for r in batch)  # fmt: skip
            self.positions[tp] = start + len(batch)
        if not out:
            self.on_idle()
            time.sleep(min(idle_ms, 5) / 1000)
        return out

    def commit(self, offsets: dict[TopicPartition, int]) -> bool:
        self.committed.update(offsets)
        return True


def user_stream(rng: random.Random, i: int, counter: list[int]) -> list[dict[str, Any]]:
    """One person's events in the order their producer sent them: a user id that an alias replaces
    part-way (sometimes before the old id's first identify), identifies, tracks that carry traits."""
    old, new, anon, email = f"old-{i}", f"new-{i}", f"anon-{i}", f"p{i}@sim.example"
    events: list[dict[str, Any]] = []
    current = old
    alias_at = rng.randint(0, 4)
    for step in range(rng.randint(3, 9)):
        counter[0] += 1
        n = counter[0]
        if step == alias_at:
            events.append({"type": "alias", "messageId": f"m{n}", "previousId": old, "userId": new})
            current = new
            continue
        kind = rng.random()
        if kind < 0.4:
            who = old if rng.random() < 0.3 else current  # an identify from a device still on the old id
            events.append({"type": "identify", "messageId": f"m{n}", "userId": who, "anonymousId": anon,
                           "traits": {"email": email, "plan": f"plan-{n}"}})  # fmt: skip
        elif kind < 0.8:
            events.append({"type": "track", "messageId": f"m{n}", "userId": current, "event": "Viewed",
                           "traits": {"lastEvent": f"e{n}"}})  # fmt: skip
        else:
            events.append({"type": "track", "messageId": f"m{n}", "anonymousId": anon, "event": "Scrolled"})
    return events


def oracle(streams: list[list[dict[str, Any]]]) -> dict[str, dict[str, str]]:
    """Each person's events applied one by one, in order, by the rules of semantics.md."""
    contacts: dict[str, dict[str, str]] = {}
    emails: dict[str, str] = {}
    pending: dict[str, set[str]] = defaultdict(set)

    def remember(user_id: str, email: str) -> None:
        emails[user_id] = email
        for waiting in pending.pop(user_id, set()):
            remember(waiting, email)  # an alias that was waiting for this id's email

    for events in streams:
        for event in events:
            if event["type"] == "identify":
                email = event["traits"]["email"]
                contact = contacts.setdefault(email, {})
                contact.update(plan=event["traits"]["plan"], cdp_user_id=event["userId"],
                               cdp_anonymous_id=event["anonymousId"])  # fmt: skip
                remember(event["userId"], email)
            elif event["type"] == "alias":
                if event["previousId"] in emails:
                    remember(event["userId"], emails[event["previousId"]])
                else:
                    pending[event["previousId"]].add(event["userId"])
            elif "traits" in event and (email := emails.get(event.get("userId", ""))) in contacts:
                contacts[email].update(event["traits"])
    return contacts


def key_for(rng: random.Random, event: dict[str, Any]) -> bytes | None:
    choice = rng.choice(["userId", "anonymousId", "messageId", None])
    value = event.get(choice) if choice else None
    return str(value).encode() if value is not None else None


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_streams_end_as_their_partition_order_says(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    monkeypatch.setattr(runner_module, "backoff_seconds", lambda attempt, retry_after: 0.002)
    rng = random.Random(seed)
    counter = [0]
    streams = [user_stream(rng, i, counter) for i in range(40)]
    # Each person's events go to one partition (as a producer partitioning by person would) but are
    # keyed at random; the persons of one partition are interleaved at random.
    by_partition: dict[TopicPartition, list[list[dict[str, Any]]]] = defaultdict(list)
    for i, events in enumerate(streams):
        by_partition[PARTITIONS[i % len(PARTITIONS)]].append(list(events))
    partitions: dict[TopicPartition, list[Record]] = {}
    for tp, queues in by_partition.items():
        records: list[Record] = []
        while any(queues):
            event = rng.choice([q for q in queues if q]).pop(0)
            records.append(Record(len(records), key_for(rng, event), json.dumps(event).encode()))
        partitions[tp] = records
    total = sum(len(r) for r in partitions.values())

    resend = FlakyResend(random.Random(seed + 100), failure_rate=0.15)
    redis_client = fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=True)
    settings = load_settings(redis={"key_prefix": "sim:"}, resend={"base_url": "http://127.0.0.1:9"})
    sync = EventSync(settings, cast(ResendClient, resend), state_store(settings, redis_client))
    dlq = RecordingDeadLetters()
    kafka = KafkaSettings(max_in_flight_contacts=8, max_poll_records=rng.choice([4, 16, 64]))
    lifecycle = Lifecycle(JsonDecoder(), NoTransforms(), sync, DeadLetterTopic(dlq, "dlq", "sim"))
    consumer = PartitionedConsumer(partitions, rng)
    runner = Runner(kafka, consumer, lifecycle, Metrics())  # type: ignore[arg-type]

    def drained() -> None:
        if sum(consumer.committed.values()) == total:
            runner.stop()

    consumer.on_idle = drained
    thread = threading.Thread(target=runner.run)
    thread.start()
    thread.join(timeout=120)
    assert not thread.is_alive(), f"not drained: committed {consumer.committed} of {total}"

    assert dlq.sent == []  # every failure was transient: retried, never dead-lettered
    expected = oracle(streams)
    actual = {email: {k: c.properties.get(k) for k in expected.get(email, {})} for email, c in resend.contacts.items()}
    assert set(actual) == set(expected)
    wrong = {email: (want, actual[email]) for email, want in expected.items() if actual[email] != want}
    assert wrong == {}, f"{len(wrong)} of {len(expected)} contacts differ from the oracle: {wrong}"
    assert any(event["type"] == "alias" for events in streams for event in events)
