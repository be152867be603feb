"""poll_guard against kafka-python's real fetcher and a real broker: a record whose header key is
not UTF-8, read leniently (the record reaches the connector), and, without that, contained (the
partition goes on past it instead of raising at the same offset forever)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic

from connector.kafka.workarounds import header_fault, install_lenient_header_keys, poll, uninstall_lenient_header_keys
from tests.integration.poison_corpus import RawKey


@pytest.fixture
def partition(kafka_bootstrap: str) -> TopicPartition:
    topic = f"guard-{uuid.uuid4().hex[:10]}"
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    admin.close()
    # A linger no stall of a loaded machine outlasts: the batch is closed by flush() alone, so the
    # records before it are one batch whatever the scheduler does between the sends.
    producer = KafkaProducer(
        bootstrap_servers=kafka_bootstrap, linger_ms=120_000, delivery_timeout_ms=300_000, retries=5
    )
    for n in range(4):  # one batch: 0, 1, the bad 2, 3
        headers = [(RawKey(b"bad\xff"), b"v")] if n == 2 else [("ok", b"v")]
        producer.send(topic, partition=0, key=b"k%d" % n, value=b"v%d" % n, headers=headers)
    producer.flush(timeout=30)
    for n in (4, 5):  # later batches
        future = producer.send(topic, partition=0, key=b"k%d" % n, value=b"v%d" % n)
        producer.flush(timeout=30)
        future.get(timeout=30)
    producer.close()
    return TopicPartition(topic, 0)


def consume(bootstrap: str, tp: TopicPartition) -> list[tuple[int, str]]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    consumer.assign([tp])
    consumer.seek_to_beginning(tp)
    seen: list[tuple[int, str]] = []
    deadline = time.monotonic() + 30
    try:
        while len(seen) < 6 and time.monotonic() < deadline:
            batches, unreadable = poll(consumer, timeout_ms=200, max_records=500)
            for records in batches.values():
                seen += [(r.offset, "fault" if header_fault(r.headers) else "ok") for r in records]
            seen += [(u.offset, "unreadable") for u in unreadable]
    finally:
        consumer.close()
    return seen


@pytest.fixture
def strict() -> Iterator[None]:
    uninstall_lenient_header_keys()
    yield
    install_lenient_header_keys()


def test_read_leniently_the_record_arrives_with_its_fault(kafka_bootstrap: str, partition: TopicPartition) -> None:
    install_lenient_header_keys()
    assert consume(kafka_bootstrap, partition) == [(0, "ok"), (1, "ok"), (2, "fault"), (3, "ok"), (4, "ok"), (5, "ok")]


@pytest.mark.usefixtures("strict")
def test_without_it_the_error_is_contained_and_the_partition_goes_on(
    kafka_bootstrap: str, partition: TopicPartition
) -> None:
    # kafka-python re-reads the batch from its start, so the rest of that batch is unreadable too
    # (the README says so); the next batch reads normally.
    seen = consume(kafka_bootstrap, partition)
    assert seen == [(0, "ok"), (1, "ok"), (2, "unreadable"), (3, "unreadable"), (4, "ok"), (5, "ok")]
