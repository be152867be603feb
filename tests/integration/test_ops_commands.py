"""check, status and backfill against the real servers; the API key never shows in any output."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from connector.events import Event
from connector.ops import StatusQuery, backfill, run_backfill, run_check, run_status
from connector.settings import Settings, load_settings
from connector.sync import EventSync
from resend_emulator import EmulatorInspector, EmulatorServer
from tests.harness import ConnectorProcess, Deployment, wait_drained
from tests.integration.conftest import API_KEY


def settings_with(deployment: Deployment, *, kafka: dict[str, str] | None = None, **resend: object) -> Settings:
    return load_settings(
        kafka={"bootstrap_servers": deployment.bootstrap, "topic": deployment.topic,
               "dead_letter_topic": deployment.dead_letter_topic, "parked_topic": f"{deployment.topic}-parked",
               "group_id": deployment.group, **(kafka or {})},
        redis={"url": deployment.redis_url, "key_prefix": deployment.key_prefix},
        resend={"base_url": deployment.resend_url, "api_key": API_KEY, **resend},
    )  # fmt: skip


@pytest.fixture
def deployment(
    kafka_bootstrap: str, redis_url: str, emulator: EmulatorServer, unique: Callable[[str], str]
) -> Deployment:
    d = Deployment(kafka_bootstrap, redis_url, emulator.url, API_KEY, topic=unique("ops"), group=unique("g"),
                   key_prefix=unique("ops") + ":", partitions=1)  # fmt: skip
    d.create_topics()
    return d


@contextmanager
def connector_running(deployment: Deployment, log: Path) -> Iterator[ConnectorProcess]:
    """The connector as an OS process; killed if the test fails before stopping it."""
    process = ConnectorProcess(deployment, log)
    try:
        yield process
    finally:
        if process.proc.poll() is None:
            process.kill()


def check(settings: Settings) -> tuple[int, str]:
    out = io.StringIO()
    return run_check(settings, out), out.getvalue()


def test_check_passes_with_one_ok_line_per_check(deployment: Deployment) -> None:
    code, text = check(settings_with(deployment))
    assert code == 0, text
    lines = text.splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "ok    settings", "ok    kafka reachable", f"ok    events topic {deployment.topic}",
        f"ok    dead-letter topic {deployment.dead_letter_topic}", f"ok    parked topic {deployment.topic}-parked",
        f"ok    consumer group {deployment.group}", "ok    redis", "ok    resend"]  # fmt: skip
    assert "exists, 1 partition(s)" in lines[2]
    assert lines[4].endswith("does not exist yet; `run` creates it with the broker default number of partition(s), "
                             "replication factor the broker default")  # fmt: skip
    assert API_KEY not in text


def test_check_fails_on_a_wrong_key_and_names_a_sending_only_key(deployment: Deployment) -> None:
    code, text = check(settings_with(deployment, api_key="re_wrong_key"))
    assert code == 1
    assert "FAIL  resend: the API key was refused" in text
    assert text.count("ok    ") == 7
    code, text = check(settings_with(deployment, api_key="re_sending_only"))
    assert code == 1
    assert "FAIL  resend: the API key is a sending-only key" in text


def test_check_fails_on_a_missing_events_topic(deployment: Deployment) -> None:
    code, text = check(settings_with(deployment, kafka={"topic": "no-such-topic"}))
    assert code == 1
    assert "FAIL  events topic no-such-topic: LookupError: does not exist (`run` does not create" in text


def test_check_says_what_run_creates_and_fails_a_replication_factor_the_cluster_cannot_hold(
    deployment: Deployment,
) -> None:
    wanted = {"dead_letter_topic": "no-such-dlq", "dead_letter_partitions": "3"}
    code, text = check(settings_with(deployment, kafka=wanted))
    assert code == 0, text
    assert "ok    dead-letter topic no-such-dlq: does not exist yet; `run` creates it with 3 partition(s)" in text
    code, text = check(settings_with(deployment, kafka={**wanted, "dead_letter_replication_factor": "3"}))
    assert code == 1
    assert "replication factor 3 (kafka.dead_letter_replication_factor) but the cluster has 1 broker(s)" in text


def test_status_shows_the_sync_record(
    sync_for: Callable[..., EventSync], settings_for: Callable[..., Settings]
) -> None:
    settings = settings_for()
    traits = {"email": "st@example.com", "resendAudiences": "VIP"}
    sync_for(settings).handle(Event.from_dict({"type": "identify", "userId": "u-7", "traits": traits}))
    out = io.StringIO()
    assert run_status(settings, StatusQuery(emails=("ST@example.com",)), out) == 0
    text = out.getvalue()
    assert "known contact:     yes" in text
    assert "last outcome:      synced" in text
    assert "managed segments:  VIP" in text
    assert "userIds:           u-7" in text
    assert run_status(settings, StatusQuery(emails=("nobody@example.com",)), io.StringIO()) == 1


class InterruptedProducer:
    """A real producer that is interrupted (as by Ctrl-C) when asked for send number ``after + 1``."""

    def __init__(self, bootstrap: str, after: int) -> None:
        self._producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20)
        self._left = after

    def send(self, topic: str, *, key: bytes, value: bytes) -> Any:
        if self._left == 0:
            raise KeyboardInterrupt
        self._left -= 1
        return self._producer.send(topic, key=key, value=value)

    def flush(self, timeout: float | None = None) -> None:
        self._producer.flush(timeout=timeout)

    def close(self, timeout: float | None = None) -> None:
        self._producer.close(timeout=timeout)


def message_ids(bootstrap: str, topic: str, expected: int) -> list[str]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    tp = TopicPartition(topic, 0)
    consumer.assign([tp])
    consumer.seek_to_beginning(tp)
    end = consumer.end_offsets([tp])[tp]
    ids: list[str] = []
    deadline = time.monotonic() + 30
    while consumer.position(tp) < end and time.monotonic() < deadline:
        for batch in consumer.poll(timeout_ms=500).values():
            ids.extend(json.loads(r.value)["messageId"] for r in batch)
    consumer.close()
    assert end == expected, f"{end} records on the topic, expected {expected}"
    return ids


def test_backfill_interrupted_and_resumed_produces_each_row_exactly_once(
    deployment: Deployment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(backfill, "_BATCH", 200)
    settings = settings_with(deployment)
    path = tmp_path / "contacts.csv"
    path.write_text("email,name,audiences\n" + "".join(f"c{i}@example.com,C {i},A\n" for i in range(1200))
                    + "broken,No Email,\n")  # fmt: skip
    out = io.StringIO()
    interrupted = InterruptedProducer(deployment.bootstrap, after=731)
    code = run_backfill(settings, path, fmt=None, progress=False, out=out, producer=interrupted)
    assert code == backfill.EXIT_INTERRUPTED
    assert "731 produced, 0 already done, 0 bad rows; interrupted" in out.getvalue()
    out = io.StringIO()
    assert run_backfill(settings, path, fmt=None, progress=False, out=out) == 0
    assert "469 produced, 731 already done, 1 bad rows" in out.getvalue()
    assert "line 1202: skipped: email is not a valid address" in out.getvalue()
    out = io.StringIO()
    assert run_backfill(settings, path, fmt=None, progress=False, out=out) == 0  # a rerun after completion
    assert "0 produced, 1201 already done" in out.getvalue()
    ids = message_ids(deployment.bootstrap, deployment.topic, expected=1200)
    assert len(set(ids)) == 1200


def test_the_api_key_never_appears_in_output(deployment: Deployment, tmp_path: Path) -> None:
    deployment.extra_env["RESEND_CONNECTOR_LOG_LEVEL"] = "debug"  # the most output there is
    deployment.produce_events([{"type": "identify", "userId": "u", "traits": {"email": "k@example.com"}},
                               {"type": "identify", "traits": {"email": "bad"}}])  # fmt: skip
    with connector_running(deployment, tmp_path / "run.log") as process:
        wait_drained(deployment, process)
        assert process.stop() == 0
    check = ConnectorProcess(deployment, tmp_path / "check.log", "check")
    assert check.stop() == 0  # check exits by itself; stop() waits and closes its log
    output = process.output() + check.output()
    assert "record.dead_lettered" in output  # the run did log, and said why
    assert "ok    resend" in output  # check reached Resend with the key
    assert API_KEY not in output
    assert "k@example.com" not in output  # emails are masked by default
    structured = [json.loads(line) for line in process.output().splitlines() if line.startswith("{")]
    assert {"consumer.started", "record.dead_lettered"} <= {entry["event"] for entry in structured}  # JSON lines


def test_backfilled_contacts_take_the_live_path_into_resend(
    deployment: Deployment, inspector: EmulatorInspector, tmp_path: Path
) -> None:
    path = tmp_path / "contacts.jsonl"
    rows = [{"email": f"B{i}@Example.com", "first_name": f"B{i}", "plan": "pro", "audiences": ["Imported"],
             "userId": f"u-{i}"} for i in range(20)]  # fmt: skip
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    settings = settings_with(deployment)
    assert run_backfill(settings, path, fmt=None, progress=False, out=io.StringIO()) == 0
    with connector_running(deployment, tmp_path / "run.log") as process:
        wait_drained(deployment, process)
        assert process.stop() == 0
    contacts = inspector.contacts()
    assert {f"b{i}@example.com" for i in range(20)} <= set(contacts)
    assert contacts["b7@example.com"]["first_name"] == "B7"
    out = io.StringIO()
    assert run_status(settings, StatusQuery(emails=("b7@example.com",)), out) == 0
    assert "last outcome:      synced" in out.getvalue()
    assert "managed segments:  Imported" in out.getvalue()
    assert "userIds:           u-7" in out.getvalue()
