"""The operator's view of a running connector, against the real broker, Redis and the emulator:
every log line is JSON and each event's outcome line names it; /status follows a quota pause that
an operator lifts with `resend-connector resume`; HTTP retries are counted; replay says what it
would do per record and refuses a topic that does not exist."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from resend_emulator import EmulatorInspector, EmulatorServer
from tests.harness import ConnectorProcess, Deployment, wait_drained
from tests.integration.conftest import API_KEY

pytestmark = pytest.mark.integration


@pytest.fixture
def deployment(
    kafka_bootstrap: str, redis_url: str, emulator: EmulatorServer, unique: Callable[[str], str]
) -> Deployment:
    d = Deployment(kafka_bootstrap, redis_url, emulator.url, API_KEY, topic=unique("ops"), group=unique("group"),
                   key_prefix=unique("ops") + ":", partitions=2)  # fmt: skip
    d.create_topics()
    return d


def identify(n: int, **traits: Any) -> dict[str, Any]:
    return {"type": "identify", "messageId": f"m-{n}", "userId": f"u-{n}",
            "traits": {"email": f"person{n}@example.com", **traits}}  # fmt: skip


def cli(deployment: Deployment, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "connector", *args],
        env=deployment.env(), capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def metrics_port(process: ConnectorProcess, deadline_s: float = 60) -> int:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        for line in events_logged(process):
            if line["event"] == "metrics.serving":
                return int(line["port"])
        if process.proc.poll() is not None:
            raise AssertionError(process.output()[-3000:])
        time.sleep(0.1)
    raise AssertionError("the connector never said where it serves metrics")


def events_logged(process: ConnectorProcess) -> list[dict[str, Any]]:
    """The connector's log lines so far, parsed (a line still being written is left for later)."""
    return [json.loads(line) for line in process.output().splitlines(keepends=True) if line.endswith("\n")]


def wait_for(condition: Callable[[], Any], what: str, deadline_s: float = 90) -> Any:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_every_log_line_is_json_and_each_outcome_names_its_event(
    deployment: Deployment, inspector: EmulatorInspector, tmp_path: Path
) -> None:
    inspector.set_faults(storm_429=2, retry_after_seconds=0.05)  # two HTTP retries inside the client
    deployment.extra_env["RESEND_CONNECTOR_LOG_EVENT_OUTCOMES"] = "all"  # the no-call track's line at info too
    deployment.produce_events([identify(1, plan="pro"), {"type": "track", "messageId": "m-2", "event": "x"}])
    deployment.produce([(b"bad", b"not json")])
    process = ConnectorProcess(deployment, tmp_path / "connector.log")
    try:
        port = metrics_port(process)
        wait_drained(deployment, process)
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics").text
    finally:
        process.stop()
    lines = [json.loads(line) for line in process.output().splitlines()]  # every line parses
    assert all({"event", "level", "timestamp"} <= set(line) for line in lines)
    [applied] = [line for line in lines if line["event"] == "event.applied"]
    assert applied["message_id"] == "m-1"
    assert (applied["type"], applied["user_id"], applied["email"]) == ("identify", "u-1", "p***@example.com")
    assert applied["calls"] >= 1
    assert {"partition", "offset"} <= set(applied)
    [skipped] = [line for line in lines if line["event"] == "event.skipped"]
    assert skipped["message_id"] == "m-2"
    assert skipped["reason"]  # a stated reason, whatever the planner calls it
    [dead] = [line for line in lines if line["event"] == "record.dead_lettered"]
    assert (dead["key"], dead["stage"]) == ("bad", "decode")
    [requests] = re.findall(r'connector_retries_total\{reason="RateLimited",scope="request"\} (\S+)', metrics)
    assert float(requests) >= 2


def test_a_quota_pause_shows_in_status_and_an_operator_resume_lifts_it(
    deployment: Deployment, inspector: EmulatorInspector, tmp_path: Path
) -> None:
    # Probes at most every hour: within this test only the operator's resume can end the pause.
    deployment.extra_env["RESEND_CONNECTOR_RESEND__PAUSE_PROBE_MAX_SECONDS"] = "3600"
    inspector.set_faults(quota_exhausted=True)
    deployment.produce_events([identify(7)])
    process = ConnectorProcess(deployment, tmp_path / "connector.log")
    try:
        url = f"http://127.0.0.1:{metrics_port(process)}/status"
        paused = wait_for(lambda: (s := httpx.get(url).json())["state"] == "paused" and s, "the quota pause")
        assert paused["pause"]["reason"] == "QuotaExceeded"
        assert paused["errors"]["QuotaExceeded"]["fate"] == "paused"
        assert sorted(p["partition"] for p in paused["partitions"]) == [0, 1]
        assert paused["rate_limit"]["ceiling_per_second"] == 5000
        assert httpx.get(url.replace("/status", "/readyz")).status_code == 503
        inspector.set_faults(quota_exhausted=False)  # the quota was raised
        resumed = cli(deployment, "resume")
        assert resumed.returncode == 0, resumed.stderr
        wait_for(lambda: "person7@example.com" in inspector.contacts(), "the contact after resume", 30)
        wait_for(lambda: httpx.get(url).json()["state"] == "running", "the running state", 30)
        wait_drained(deployment, process)
    finally:
        process.stop()
    assert "consumer.resume_requested" in {line["event"] for line in events_logged(process)}


def test_a_quota_pause_probes_on_its_schedule_not_after_the_retry_after_day(
    deployment: Deployment, inspector: EmulatorInspector, tmp_path: Path
) -> None:
    deployment.extra_env["RESEND_CONNECTOR_RESEND__PAUSE_PROBE_MAX_SECONDS"] = "1"
    inspector.set_faults(quota_exhausted=True)  # answers retry-after: 86400
    deployment.produce_events([identify(8)])
    process = ConnectorProcess(deployment, tmp_path / "connector.log")
    try:
        wait_for(lambda: "consumer.paused" in {line["event"] for line in events_logged(process)}, "the pause")
        inspector.set_faults(quota_exhausted=False)
        wait_drained(deployment, process, timeout=60)
    finally:
        process.stop()
    assert "person8@example.com" in inspector.contacts()


def test_replay_dry_run_names_each_record_and_sums_up_by_stage_and_reason(
    deployment: Deployment, inspector: EmulatorInspector, tmp_path: Path
) -> None:
    deployment.produce([(b"k-bad", b"not json")])
    deployment.produce([(b"k-bad-email", json.dumps(identify(3, email="nope")).encode())])
    process = ConnectorProcess(deployment, tmp_path / "connector.log")
    try:
        wait_drained(deployment, process)
    finally:
        process.stop()
    dry = cli(deployment, "replay", "--dry-run", "--no-progress")
    assert dry.returncode == 0, dry.stderr[-2000:]
    lines = dry.stdout.splitlines()
    assert any(
        re.match(rf"{deployment.topic}\[\d\]@0 key=k-bad email=- \(failed at decode: DecodeError", x) for x in lines
    )
    assert "by stage and reason: decode/DecodeError 1, plan/InvalidEventError 1" in dry.stderr
    as_json = json.loads(cli(deployment, "replay", "--dry-run", "--no-progress", "--json").stdout)
    assert {r["key"]: r["email"] for r in as_json["records"]} == {"k-bad": None, "k-bad-email": "***"}
    assert as_json["by_stage_and_reason"] == [
        {"stage": "decode", "reason": "DecodeError", "records": 1},
        {"stage": "plan", "reason": "InvalidEventError", "records": 1},
    ]
    deployment.extra_env["RESEND_CONNECTOR_KAFKA__DEAD_LETTER_TOPIC"] = "no-such-dlq-topic"
    missing = cli(deployment, "replay", "--no-progress")
    assert missing.returncode == 1
    assert "resend-connector: dead-letter topic no-such-dlq-topic does not exist" in missing.stderr
    assert "Traceback" not in missing.stderr
