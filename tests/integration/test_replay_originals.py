"""Replaying a dead letter that carries only context (#24 point 5): the original is read from the
events topic by the partition and offset its headers name, when the topic still holds it, and the
replay report says clearly when it does not (here: records deleted as retention would)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest
from kafka import KafkaAdminClient, KafkaProducer, TopicPartition

from connector.dead_letters.fit import context_only, fitted
from connector.dead_letters.format import DeadLetter, FailureContext, dead_letter_for
from connector.errors import ResendRejected
from resend_emulator import EmulatorInspector, EmulatorServer
from tests.harness import Deployment
from tests.integration.conftest import API_KEY

pytestmark = pytest.mark.integration


@pytest.fixture
def deployment(
    kafka_bootstrap: str, redis_url: str, emulator: EmulatorServer, unique: Callable[[str], str]
) -> Deployment:
    d = Deployment(kafka_bootstrap, redis_url, emulator.url, API_KEY, topic=unique("originals"), group=unique("group"),
                   key_prefix=unique("originals") + ":", partitions=1)  # fmt: skip
    d.create_topics()
    return d


def identify(n: int) -> bytes:
    event = {"type": "identify", "userId": f"o-{n}", "traits": {"email": f"original{n}@example.com", "n": n}}
    return json.dumps(event).encode()


def letter_of(deployment: Deployment, offset: int, value: bytes, *, only_context: bool) -> DeadLetter:
    """What `run` writes when the dead-letter topic refused the whole copy: context only, or cut."""
    whole = dead_letter_for(key=f"o-{offset}".encode(), value=value, headers=[("trace", b"t")], timestamp_ms=1,
                            error=ResendRejected("refused for now", status=422),
                            context=FailureContext(deployment.topic, 0, offset), connector_name="test")  # fmt: skip
    if only_context:
        return context_only(whole)
    cut = fitted(DeadLetter(whole.key, value + b" " * 70_000, whole.headers, whole.timestamp_ms), too_large=True)
    assert cut.value != value + b" " * 70_000  # the copy lacks bytes of the original
    return cut


def write_letters(deployment: Deployment, letters: list[DeadLetter]) -> None:
    producer = KafkaProducer(bootstrap_servers=deployment.bootstrap, acks="all")
    for letter in letters:
        producer.send(deployment.dead_letter_topic, key=letter.key, value=letter.value, headers=letter.headers)
    producer.flush()
    producer.close()


def replay(deployment: Deployment, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "connector", "replay", "--no-progress", *args],
        env=deployment.env(), capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip


def test_a_letter_with_only_context_replays_its_original_and_says_when_the_topic_lost_it(
    deployment: Deployment, inspector: EmulatorInspector
) -> None:
    deployment.produce([(b"o-0", identify(0)), (b"o-1", identify(1)), (b"o-2", identify(2))])
    admin = KafkaAdminClient(bootstrap_servers=deployment.bootstrap)
    try:
        admin.delete_records({TopicPartition(deployment.topic, 0): 1})  # offset 0 is gone, as retention does
    finally:
        admin.close()
    write_letters(deployment, [
        letter_of(deployment, 0, identify(0), only_context=True),
        letter_of(deployment, 1, identify(1), only_context=True),
        letter_of(deployment, 2, identify(2), only_context=False),
    ])  # fmt: skip

    dry = replay(deployment, "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr[-2000:]
    report: dict[str, Any] = json.loads(dry.stdout)
    assert [(o["offset"], o["original"]) for o in report["originals"]] == [(0, "gone"), (1, "read"), (2, "read")]
    assert [("commands" in r) for r in report["records"]] == [False, True, True]  # the originals would apply

    done = replay(deployment)
    assert done.returncode == 0, done.stderr[-2000:]
    place = f"{deployment.topic}[0]@0"
    assert f"{place}: its dead letter holds only context and {deployment.topic} no longer holds the original" in (
        done.stderr
    )
    summary = done.stderr.splitlines()[-1]
    assert summary == "replayed 3 record(s): applied 2, failed again 1, originals read 2, originals gone 1", summary
    contacts = inspector.contacts()
    assert {"original1@example.com", "original2@example.com"} <= set(contacts)
    assert "original0@example.com" not in contacts
    again = [r for r in deployment.dead_letters() if r.offset >= 3]  # what this replay wrote back
    assert len(again) == 1
    headers = dict(again[0].headers)
    assert headers["__connect.errors.offset"] == b"0"
    assert headers["__resend_connector.attempts"] == b"2"
