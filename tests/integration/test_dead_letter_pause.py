"""A dead-letter topic that takes nothing, against the real broker (#24 point 4): consumption pauses
with one error line, /status and the metrics say why, nothing is committed past the record, and it
resumes by itself once the topic takes writes again (re-created; its max.message.bytes raised)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType, NewTopic
from kafka.errors import KafkaError

from resend_emulator import EmulatorInspector, EmulatorServer
from tests.harness import ConnectorProcess, Deployment, wait_drained
from tests.integration.conftest import API_KEY
from tests.integration.test_operator import events_logged, identify, metrics_port, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def deployment(
    kafka_bootstrap: str, redis_url: str, emulator: EmulatorServer, unique: Callable[[str], str]
) -> Deployment:
    d = Deployment(kafka_bootstrap, redis_url, emulator.url, API_KEY, topic=unique("dlqpause"), group=unique("group"),
                   key_prefix=unique("dlqpause") + ":", partitions=1)  # fmt: skip
    d.extra_env["RESEND_CONNECTOR_RESEND__PAUSE_PROBE_MAX_SECONDS"] = "1"  # probes every second
    d.create_topics()
    return d


@pytest.fixture
def admin(kafka_bootstrap: str) -> Iterator[KafkaAdminClient]:
    client = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    yield client
    client.close()


def committed(deployment: Deployment) -> int | None:
    consumer = KafkaConsumer(bootstrap_servers=deployment.bootstrap, group_id=deployment.group)
    try:
        return consumer.committed(TopicPartition(deployment.topic, 0))
    finally:
        consumer.close()


def paused_on_the_dead_letter_topic(process: ConnectorProcess, port: int) -> None:
    """What shows while paused, after at least one probe was refused too."""
    wait_for(lambda: "consumer.still_paused" in {line["event"] for line in events_logged(process)}, "a refused probe")
    status = httpx.get(f"http://127.0.0.1:{port}/status").json()
    assert status["state"] == "paused"
    assert status["pause"]["reason"] == "DeadLetterTopicUnwritable"
    assert status["errors"]["DeadLetterTopicUnwritable"]["fate"] == "paused"
    metrics = httpx.get(f"http://127.0.0.1:{port}/metrics").text
    assert "connector_paused 1.0" in metrics
    assert 'connector_pauses_total{reason="DeadLetterTopicUnwritable"} 1.0' in metrics


def one_error_line(process: ConnectorProcess) -> dict[str, object]:
    errors = [line for line in events_logged(process) if line["level"] == "error"]
    assert [line["event"] for line in errors] == ["consumer.paused"], errors
    return errors[0]


def test_a_deleted_dead_letter_topic_pauses_until_it_is_created_again(
    deployment: Deployment, inspector: EmulatorInspector, admin: KafkaAdminClient, tmp_path: Path
) -> None:
    deployment.produce_events([identify(1)])
    process = ConnectorProcess(deployment, tmp_path / "connector.log")
    try:
        port = metrics_port(process)
        wait_drained(deployment, process)  # offset 0 applied: the connector consumes
        admin.delete_topics([deployment.dead_letter_topic])
        wait_for(lambda: deployment.dead_letter_topic not in admin.list_topics(), "the topic deleted")
        deployment.produce([(b"k-bad", b"not json")])  # offset 1: must be dead-lettered
        deployment.produce_events([identify(2)])  # offset 2: another identity, waits behind it
        paused_on_the_dead_letter_topic(process, port)
        assert committed(deployment) == 1  # nothing past the record
        assert deployment.dead_letter_topic not in admin.list_topics()  # the connector never auto-creates it
        create_again(admin, deployment.dead_letter_topic)
        wait_drained(deployment, process, timeout=120)
        status = httpx.get(f"http://127.0.0.1:{port}/status").json()
    finally:
        process.stop()
    assert status["state"] == "running"
    assert [record.value for record in deployment.dead_letters()] == [b"not json"]
    assert "person2@example.com" in inspector.contacts()
    line = one_error_line(process)
    assert line["reason"] == "DeadLetterTopicUnwritable"
    assert f"{deployment.dead_letter_topic} does not exist" in str(line["detail"])
    assert "consumer.resumed" in {entry["event"] for entry in events_logged(process)}


def test_a_dead_letter_topic_too_small_for_the_context_only_copy_pauses_until_it_is_raised(
    deployment: Deployment, inspector: EmulatorInspector, admin: KafkaAdminClient, tmp_path: Path
) -> None:
    set_max_message_bytes(admin, deployment.dead_letter_topic, 64)  # less than the context headers
    deployment.produce([(b"k-bad", b"not json")])
    deployment.produce_events([identify(3)])
    process = ConnectorProcess(deployment, tmp_path / "connector.log")
    try:
        port = metrics_port(process)
        paused_on_the_dead_letter_topic(process, port)
        assert committed(deployment) in (None, 0)  # nothing past the record (the first)
        set_max_message_bytes(admin, deployment.dead_letter_topic, 1_048_588)
        wait_drained(deployment, process, timeout=120)
    finally:
        process.stop()
    assert [record.value for record in deployment.dead_letters()] == [b"not json"]  # whole again
    assert "person3@example.com" in inspector.contacts()
    assert "context-only" in str(one_error_line(process)["detail"])


def set_max_message_bytes(admin: KafkaAdminClient, topic: str, size: int) -> None:
    admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic, configs={"max.message.bytes": str(size)})])


def create_again(admin: KafkaAdminClient, topic: str) -> None:
    """A deleted topic's name is free again once the broker finished deleting it."""
    deadline = time.monotonic() + 60
    while True:
        try:
            admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
            return
        except KafkaError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
