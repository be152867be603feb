"""Consumers joining a group on a topic created a moment earlier (the real broker, real kafka-python).

Without connector.kafka.workarounds, about half of these trials end with the group leader stuck in
"rebalancing" holding nothing and the other member waiting on it for minutes (see the module).
"""

from __future__ import annotations

import threading
import time
import uuid

from kafka import KafkaAdminClient, KafkaConsumer
from kafka.admin import NewTopic

from connector.kafka.workarounds import join_in_flight, repair_lost_join

PARTITIONS = 4


def _owned_after_join(bootstrap: str, admin: KafkaAdminClient, patience_s: float = 20.0) -> tuple[int, float]:
    topic = f"join-{uuid.uuid4().hex[:8]}"
    admin.create_topics([NewTopic(topic, PARTITIONS, 1)])
    consumers = [
        KafkaConsumer(bootstrap_servers=bootstrap, group_id=f"g-{topic}", enable_auto_commit=False) for _ in range(2)
    ]
    started = time.monotonic()
    done = threading.Event()

    def member(consumer: KafkaConsumer) -> None:
        # One thread per member, polling as the runner does: not at all while busy, long while joining.
        consumer.subscribe([topic])
        while not done.is_set():
            consumer.poll(timeout_ms=3_000 if join_in_flight(consumer) else 0)
            repair_lost_join(consumer)
            time.sleep(0.02)  # the runner's dispatch/collect step between two polls

    threads = [threading.Thread(target=member, args=(consumer,), daemon=True) for consumer in consumers]
    for thread in threads:
        thread.start()
    owned: set[object] = set()
    try:
        while time.monotonic() - started < patience_s:
            owned = set().union(*(consumer.assignment() for consumer in consumers))
            if len(owned) == PARTITIONS and all(consumer.assignment() for consumer in consumers):
                break
            time.sleep(0.05)
        return len(owned), time.monotonic() - started
    finally:
        done.set()
        for thread in threads:
            thread.join()
        for consumer in consumers:
            consumer.close()


def test_two_consumers_on_a_brand_new_topic_both_get_partitions_and_every_partition_is_owned(
    kafka_bootstrap: str,
) -> None:
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        results = [_owned_after_join(kafka_bootstrap, admin) for _ in range(6)]
    finally:
        admin.close()
    assert [owned for owned, _ in results] == [PARTITIONS] * len(results), results
