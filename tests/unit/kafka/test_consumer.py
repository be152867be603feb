"""The wrapper's own logic (connector/kafka/consumer.py) above kafka-python's fake consumer: which
assignment (epoch) each record comes with, what a revocation forgets and commits, the seek back after
a partition is revoked and assigned back, holding and resuming fetching, committing. The run loop's
tests fake the wrapper itself (tests/unit/fakes/kafka.py)."""

from __future__ import annotations

from kafka.errors import CommitFailedError

from connector.kafka import TopicPartition
from connector.kafka.consumer import Consumer
from tests.unit.fakes.kafka import TP, FakeKafkaConsumer, Record

OTHER = TopicPartition("events", 1)


class Hooks:
    def __init__(self, offsets: dict[TopicPartition, int], positions: dict[TopicPartition, int]) -> None:
        self.answer = (offsets, positions)
        self.assigned: list[set[TopicPartition]] = []
        self.revoked: list[set[TopicPartition]] = []

    def on_assigned(self, tps: set[TopicPartition]) -> None:
        self.assigned.append(tps)

    def on_revoked(self, tps: set[TopicPartition]) -> tuple[dict[TopicPartition, int], dict[TopicPartition, int]]:
        self.revoked.append(tps)
        return self.answer


def joined(records: list[Record], hooks: Hooks) -> tuple[Consumer, FakeKafkaConsumer]:
    kafka = FakeKafkaConsumer(records)
    consumer = Consumer(kafka, "events")
    consumer.subscribe(on_assigned=hooks.on_assigned, on_revoked=hooks.on_revoked)
    return consumer, kafka


def records(count: int) -> list[Record]:
    return [Record(i, b"k", f"v{i}".encode()) for i in range(count)]


def test_records_come_stamped_with_their_partitions_assignment() -> None:
    hooks = Hooks({}, {})
    consumer, _ = joined(records(3), hooks)
    polled = consumer.poll(10, 100, now=1.0)
    assert [(r.offset, r.value, r.partition_key, r.polled_at) for r in polled] == [
        (0, b"v0", TP, 1.0), (1, b"v1", TP, 1.0), (2, b"v2", TP, 1.0)]  # fmt: skip
    assert {r.epoch for r in polled} == {consumer.epoch(TP)} != {None}
    assert consumer.joined
    assert hooks.assigned == [{TP}]
    assert consumer.owned() == [TP]


def test_a_revocation_forgets_the_partition_first_then_commits_what_finished_without_blocking() -> None:
    hooks = Hooks({TP: 5}, {TP: 5})
    consumer, kafka = joined(records(3), hooks)
    kafka.listener.on_partitions_revoked({TP})
    assert hooks.revoked == [{TP}]
    assert consumer.epoch(TP) is None
    assert consumer.owned() == []
    assert kafka.commits == [{TP: 5}]  # commit_async: kafka-python's thread also drives heartbeats
    assert consumer.poll(10, 100, now=1.0) == []  # fetched for a partition no longer ours: discarded


def test_a_partition_revoked_and_assigned_back_is_read_again_from_where_this_member_stopped() -> None:
    hooks = Hooks({}, {TP: 2})
    consumer, kafka = joined(records(6), hooks)
    first = consumer.poll(10, 100, now=1.0)
    kafka.listener.on_partitions_revoked({TP})
    kafka.listener.on_partitions_assigned({TP})
    assert consumer.epoch(TP) is not None
    assert consumer.epoch(TP) != first[0].epoch  # a record taken before never passes for the new assignment
    assert consumer.poll(10, 100, now=2.0) == []  # the seek back happens here
    again = consumer.poll(10, 100, now=3.0)
    assert [r.offset for r in again] == [2, 3, 4, 5]
    assert {r.epoch for r in again} == {consumer.epoch(TP)}


def test_a_held_partition_stays_paused_until_released_and_a_stop_pauses_every_partition() -> None:
    consumer, kafka = joined(records(1), Hooks({}, {}))
    consumer.hold(TP)
    consumer.hold(TP)
    consumer.resume()
    assert kafka.paused() == {TP}
    consumer.release(TP)
    consumer.resume()
    assert kafka.paused() == {TP}  # held twice, released once
    consumer.release(TP)
    consumer.stop_fetching("pause")
    consumer.resume()
    assert kafka.paused() == {TP}  # stopped: nothing resumes
    assert consumer.stopped("pause")
    consumer.may_fetch("pause")
    consumer.resume()
    assert kafka.paused() == set()


def test_a_partition_assigned_while_fetching_is_stopped_is_paused_until_fetching_may_go_on() -> None:
    # kafka-python gives a newly assigned partition a fresh, unpaused state: during a quota pause
    # it would fetch (and buffer) the whole backlog.
    consumer, kafka = joined(records(1), Hooks({}, {}))
    consumer.stop_fetching("pause")
    kafka.listener.on_partitions_revoked({TP})
    kafka.paused_set.clear()  # the states went with the revocation
    kafka.assigned = {TP, OTHER}
    kafka.listener.on_partitions_assigned({TP, OTHER})
    assert kafka.paused() == {TP, OTHER}
    consumer.may_fetch("pause")
    consumer.resume()
    assert kafka.paused() == set()


def test_a_commit_the_group_refuses_answers_false() -> None:
    class Refusing(FakeKafkaConsumer):
        def commit(self, offsets: dict[TopicPartition, object]) -> None:
            raise CommitFailedError("rebalanced")

    consumer = Consumer(Refusing([]), "events")
    assert consumer.commit({TP: 3}) is False
    kafka = FakeKafkaConsumer([])
    assert Consumer(kafka, "events").commit({TP: 3}) is True
    assert kafka.commits == [{TP: 3}]
