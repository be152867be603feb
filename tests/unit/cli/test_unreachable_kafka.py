"""``run`` against a Kafka nobody answers: the connector's one line, kafka-python's noise at debug (#24 point 7)."""

from __future__ import annotations

import gc
import json
import os
from collections.abc import Iterator

import pytest
import structlog

from connector.cli import main


@pytest.fixture(autouse=True)
def unreachable_kafka(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith("RESEND_CONNECTOR_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("RESEND_CONNECTOR_RESEND__API_KEY", "re_unreachable_kafka")
    monkeypatch.setenv("RESEND_CONNECTOR_RESEND__BASE_URL", "http://127.0.0.1:1")
    monkeypatch.setenv("RESEND_CONNECTOR_KAFKA__BOOTSTRAP_SERVERS", "127.0.0.1:1")  # nothing listens on port 1
    monkeypatch.setenv("RESEND_CONNECTOR_KAFKA__BOOTSTRAP_TIMEOUT_MS", "300")
    monkeypatch.setenv("RESEND_CONNECTOR_REDIS__URL", "redis://127.0.0.1:1/0")
    monkeypatch.setenv("RESEND_CONNECTOR_METRICS__ENABLED", "false")
    monkeypatch.setenv("RESEND_CONNECTOR_LOG_FORMAT", "json")
    yield
    structlog.reset_defaults()


pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning")


def test_run_prints_only_its_own_line_at_the_default_level(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run"]) == 1
    err = capsys.readouterr().err
    gc.collect()  # kafka-python leaks wake-up sockets when it fails to bootstrap: their warnings come here
    assert err.splitlines() == ["resend-connector: Kafka: KafkaTimeoutError: Unable to bootstrap from ['127.0.0.1:1']"]


def test_kafka_pythons_connection_lines_are_debug_lines_and_one_bootstrap_is_waited_for(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RESEND_CONNECTOR_LOG_LEVEL", "debug")
    assert main(["run"]) == 1
    lines = capsys.readouterr().err.splitlines()
    gc.collect()
    assert lines[-1].startswith("resend-connector: Kafka: ")
    logged = [json.loads(line) for line in lines[:-1]]
    kafkas = [entry for entry in logged if entry.get("logger", "").startswith("kafka.")]
    assert kafkas, "kafka-python's lines are there at debug"
    assert {entry["level"] for entry in kafkas} == {"debug"}
    # Exit within kafka.bootstrap_timeout_ms: one client waited for a broker, not one per client.
    assert sum("Unable to bootstrap" in entry["event"] for entry in kafkas) == 1
