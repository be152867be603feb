"""The servers are real: a consumer group commits and resumes; Redis stores and expires keys."""

from __future__ import annotations

import time
from collections.abc import Callable

import redis
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic

from tests.conftest import wait_for


def _consume(consumer: KafkaConsumer, count: int) -> list[bytes]:
    seen: list[bytes] = []
    deadline = time.monotonic() + 30
    while len(seen) < count and time.monotonic() < deadline:
        for records in consumer.poll(timeout_ms=500, max_records=count - len(seen)).values():
            seen.extend(record.value for record in records)
    return seen


def test_consumer_group_resumes_after_committed_offset(kafka_bootstrap: str, unique: Callable[[str], str]) -> None:
    topic, group = unique("smoke"), unique("group")
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    admin.close()
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    for i in range(10):
        producer.send(topic, f"m{i}".encode())
    producer.flush()
    producer.close()

    def consumer() -> KafkaConsumer:
        c = KafkaConsumer(
            bootstrap_servers=kafka_bootstrap,
            group_id=group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        c.subscribe([topic])
        return c

    first = consumer()
    assert _consume(first, 4) == [b"m0", b"m1", b"m2", b"m3"]
    first.commit()
    first.close()

    second = consumer()
    assert _consume(second, 6) == [f"m{i}".encode() for i in range(4, 10)]
    assert second.committed(TopicPartition(topic, 0)) == 4
    second.close()


def test_redis_stores_and_expires(redis_url: str, unique: Callable[[str], str]) -> None:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    key = unique("smoke")
    client.set(key, "value", px=300)
    assert client.get(key) == "value"
    wait_for(lambda: client.get(key) is None, timeout=5, what="the key to expire")
    client.close()
