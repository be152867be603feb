"""One record the broker refuses for good (a topic's max.message.bytes) fails that record only: the
webhook receiver's writer and the backfill's producer send the next record as usual (kafka-python 3's
idempotent producer took such a refusal as fatal and failed every later send of the process)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import pytest
from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import MessageSizeTooLargeError

from connector.errors import RetryableError
from connector.kafka.event_writer import EventWriter
from connector.settings import KafkaSettings, Settings
from connector.wiring import Wiring

pytestmark = pytest.mark.integration


@pytest.fixture
def small_topic(kafka_bootstrap: str, unique: Callable[[str], str]) -> str:
    """A topic that takes records up to about 2 kB."""
    topic = unique("small")
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        admin.create_topics([NewTopic(topic, 1, 1, topic_configs={"max.message.bytes": "2000"})])
    finally:
        admin.close()
    return topic


def test_the_webhook_writer_writes_on_after_a_refused_record(kafka_bootstrap: str, small_topic: str) -> None:
    writer = EventWriter(KafkaSettings(bootstrap_servers=kafka_bootstrap), small_topic, timeout=10)
    try:
        with pytest.raises(RetryableError, match=f"{small_topic} refuses .*MessageSizeTooLargeError"):
            writer.write([("a@example.com", {"event": "big", "pad": "x" * 5000})])
        writer.write([("b@example.com", {"event": "small"})])  # failed too before
    finally:
        writer.close()


def test_the_backfill_producer_sends_on_after_a_refused_record(kafka_bootstrap: str, small_topic: str) -> None:
    with contextlib.ExitStack() as stack:
        producer = Wiring(Settings(kafka=KafkaSettings(bootstrap_servers=kafka_bootstrap)), stack).event_producer()
        try:
            with pytest.raises(MessageSizeTooLargeError):
                producer.send(small_topic, key=b"a", value=b"x" * 5000).get(timeout=10)
            producer.send(small_topic, key=b"b", value=b"small").get(timeout=10)  # failed too before
        finally:
            producer.close(timeout=10)
