"""check, status and backfill against the real servers; the API key never shows in any output."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable
from pathlib import Path

from kafka import KafkaConsumer, TopicPartition

from connector.emulator import EmulatorServer
from connector.events import Event
from connector.ops import run_backfill, run_check, run_status
from connector.settings import Settings, load_settings
from connector.sync import EventSync
from tests.harness import ConnectorProcess, Deployment
from tests.integration.conftest import API_KEY


def settings_with(deployment: Deployment, **resend: object) -> Settings:
    return load_settings(
        kafka={"bootstrap_servers": deployment.bootstrap, "topic": deployment.topic,
               "dead_letter_topic": deployment.dead_letter_topic, "group_id": deployment.group},
        redis={"url": deployment.redis_url, "key_prefix": deployment.key_prefix},
        resend={"base_url": deployment.resend_url, "api_key": API_KEY, **resend},
    )  # fmt: skip


def make_deployment(kafka: str, redis_url: str, emulator: EmulatorServer, unique: Callable[[str], str]) -> Deployment:
    d = Deployment(kafka, redis_url, emulator.url, API_KEY, topic=unique("ops"), group=unique("g"),
                   key_prefix=unique("ops") + ":", partitions=1)  # fmt: skip
    d.create_topics()
    return d


def test_check_passes_and_names_a_sending_only_key(
    kafka_bootstrap: str, redis_url: str, emulator: EmulatorServer, unique: Callable[[str], str]
) -> None:
    deployment = make_deployment(kafka_bootstrap, redis_url, emulator, unique)
    out = io.StringIO()
    assert run_check(settings_with(deployment), out) == 0, out.getvalue()
    assert out.getvalue().count("ok    ") == 7
    out = io.StringIO()
    assert run_check(settings_with(deployment, api_key="re_sending_only"), out) == 1
    assert "sending-only key" in out.getvalue()
    out = io.StringIO()
    missing = settings_with(deployment).model_copy(update={"kafka": settings_with(deployment).kafka.model_copy(
        update={"dead_letter_topic": "no-such-topic"})})  # fmt: skip
    assert run_check(missing, out) == 1
    assert "FAIL  dead-letter topic no-such-topic" in out.getvalue()


def test_status_shows_the_sync_record(
    sync_for: Callable[..., EventSync], settings_for: Callable[..., Settings]
) -> None:
    settings = settings_for()
    traits = {"email": "st@example.com", "resendAudiences": "VIP"}
    sync_for(settings).handle(Event.from_dict({"type": "identify", "userId": "u-7", "traits": traits}))
    out = io.StringIO()
    assert run_status(settings, "ST@example.com", out) == 0
    text = out.getvalue()
    assert "known contact:     yes" in text
    assert "last outcome:      synced" in text
    assert "managed segments:  VIP" in text
    assert "userIds:           u-7" in text
    assert run_status(settings, "nobody@example.com", io.StringIO()) == 1


def test_backfill_resumes_without_duplicates(
    kafka_bootstrap: str, redis_url: str, emulator: EmulatorServer, unique: Callable[[str], str], tmp_path: Path
) -> None:
    deployment = make_deployment(kafka_bootstrap, redis_url, emulator, unique)
    settings = settings_with(deployment)
    path = tmp_path / "contacts.csv"
    path.write_text("email,name,audiences\n" + "".join(f"c{i}@example.com,C {i},A\n" for i in range(1200))
                    + "broken,No Email,\n")  # fmt: skip
    out = io.StringIO()
    assert run_backfill(settings, path, fmt=None, progress=False, out=out) == 0
    assert "1200 produced" in out.getvalue()
    assert "line 1202: skipped" in out.getvalue()
    out = io.StringIO()
    assert run_backfill(settings, path, fmt=None, progress=False, out=out) == 0  # a rerun after completion
    assert "0 produced, 1201 already done" in out.getvalue()
    consumer = KafkaConsumer(bootstrap_servers=kafka_bootstrap, enable_auto_commit=False)
    tp = TopicPartition(deployment.topic, 0)
    consumer.assign([tp])
    consumer.seek_to_beginning(tp)
    ids: list[str] = []
    deadline = time.monotonic() + 30
    while len(ids) < 1200 and time.monotonic() < deadline:
        for batch in consumer.poll(timeout_ms=500).values():
            ids.extend(json.loads(r.value)["messageId"] for r in batch)
    consumer.close()
    assert len(ids) == 1200
    assert len(set(ids)) == 1200


def test_the_api_key_never_appears_in_output(
    kafka_bootstrap: str, redis_url: str, emulator: EmulatorServer, unique: Callable[[str], str], tmp_path: Path
) -> None:
    deployment = make_deployment(kafka_bootstrap, redis_url, emulator, unique)
    deployment.produce_events([{"type": "identify", "userId": "u", "traits": {"email": "k@example.com"}},
                               {"type": "identify", "traits": {"email": "bad"}}])  # fmt: skip
    process = ConnectorProcess(deployment, tmp_path / "run.log")
    deadline = time.monotonic() + 60
    while deployment.lag() > 0 and time.monotonic() < deadline:
        time.sleep(0.3)
    assert process.stop() == 0
    check = ConnectorProcess(deployment, tmp_path / "check.log", "check")
    assert check.stop() == 0  # check exits by itself; stop() waits and closes its log
    output = process.output() + check.output()
    assert "record.dead_lettered" in output  # the run did log, and said why
    assert API_KEY not in output
