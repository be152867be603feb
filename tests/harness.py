"""Running the real connector as an OS process against the test servers, and watching it finish.

Integration tests and the benchmark use this: the connector is started exactly as in production
(``python -m connector run`` with RESEND_CONNECTOR_* variables), so a SIGKILL is a real crash.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic

from connector.local.services import free_port
from resend_emulator import EmulatorInspector


@dataclass
class Deployment:
    """Names and addresses one test's connector uses; nothing is shared with another test."""

    bootstrap: str
    redis_url: str
    resend_url: str
    api_key: str
    topic: str
    group: str
    key_prefix: str
    partitions: int = 4
    replication: int = 1  # 3 on a three-broker cluster (tests/integration/test_topologies.py)
    extra_env: dict[str, str] = field(default_factory=dict)
    topic_configs: dict[str, str] = field(default_factory=dict)  # of the events topic

    @property
    def dead_letter_topic(self) -> str:
        return f"{self.topic}-dlq"

    def env(self) -> dict[str, str]:
        values = {
            "KAFKA__BOOTSTRAP_SERVERS": self.bootstrap,
            "KAFKA__TOPIC": self.topic,
            "KAFKA__DEAD_LETTER_TOPIC": self.dead_letter_topic,
            "KAFKA__PARKED_TOPIC": f"{self.topic}-parked",
            "KAFKA__GROUP_ID": self.group,
            "KAFKA__SESSION_TIMEOUT_MS": "6000",
            "REDIS__URL": self.redis_url,
            "REDIS__KEY_PREFIX": self.key_prefix,
            "RESEND__BASE_URL": self.resend_url,
            "RESEND__API_KEY": self.api_key,
            "RESEND__MAX_REQUESTS_PER_SECOND": "5000",
            "METRICS__PORT": "0",
            "LOG_FORMAT": "json",
        }
        env = {k: v for k, v in os.environ.items() if not k.startswith("RESEND_CONNECTOR_")}
        env.update({f"RESEND_CONNECTOR_{k}": v for k, v in values.items()})
        env.update(self.extra_env)
        return env

    def create_topics(self) -> None:
        admin = KafkaAdminClient(bootstrap_servers=self.bootstrap)
        try:
            admin.create_topics(
                [
                    NewTopic(
                        self.topic,
                        num_partitions=self.partitions,
                        replication_factor=self.replication,
                        topic_configs=self.topic_configs,
                    ),
                    NewTopic(self.dead_letter_topic, num_partitions=1, replication_factor=self.replication),
                ]
            )
        finally:
            admin.close()
        # A consumer that joins before the broker serves the new topic's metadata is assigned nothing
        # (kafka-python then waited for a rejoin that did not come within a minute; see the closing note).
        probe = KafkaConsumer(bootstrap_servers=self.bootstrap)
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                if len(probe.partitions_for_topic(self.topic) or ()) == self.partitions:
                    return
                probe.topics()  # refresh metadata
                time.sleep(0.1)
            raise AssertionError(f"topic {self.topic} has no metadata after 30 s")
        finally:
            probe.close()

    def produce(self, records: Iterable[tuple[bytes | None, bytes]]) -> int:
        producer = KafkaProducer(bootstrap_servers=self.bootstrap, acks="all", linger_ms=20, batch_size=256_000)
        count = 0
        for key, value in records:
            producer.send(self.topic, key=key, value=value)
            count += 1
        producer.flush()
        producer.close()
        return count

    def produce_events(self, events: Iterable[Mapping[str, Any]]) -> int:
        def keyed() -> Iterable[tuple[bytes | None, bytes]]:
            for event in events:
                identity = event.get("userId") or event.get("anonymousId")
                yield (str(identity).encode() if identity else None, json.dumps(event).encode())

        return self.produce(keyed())

    def lag(self) -> int:
        """Records of the events topic not yet committed by the group (-1 while unknown)."""
        return sum(self.lags().values())

    def lags(self) -> dict[int, int]:
        """Per partition: records not yet committed by the group."""
        consumer = KafkaConsumer(bootstrap_servers=self.bootstrap, group_id=self.group, enable_auto_commit=False)
        try:
            partitions = [TopicPartition(self.topic, p) for p in range(self.partitions)]
            ends = consumer.end_offsets(partitions)
            return {tp.partition: ends[tp] - (consumer.committed(tp) or 0) for tp in partitions}
        finally:
            consumer.close()

    def dead_letters(self) -> list[Any]:
        consumer = KafkaConsumer(
            bootstrap_servers=self.bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
        )
        try:
            tp = TopicPartition(self.dead_letter_topic, 0)
            consumer.assign([tp])
            consumer.seek_to_beginning(tp)
            end = consumer.end_offsets([tp])[tp]
            records: list[Any] = []
            deadline = time.monotonic() + 30
            while consumer.position(tp) < end and time.monotonic() < deadline:
                for batch in consumer.poll(timeout_ms=500).values():
                    records.extend(batch)
            return records
        finally:
            consumer.close()


class ConnectorProcess:
    def __init__(self, deployment: Deployment, log_path: Path, *args: str) -> None:
        self.log_path = log_path
        self._log = log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "connector", *(args or ("run",))],
            env=deployment.env(),
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)
        self._log.close()

    def stop(self, timeout: float = 60) -> int:
        if self.proc.poll() is None and self.proc.args[3:4] == ["run"]:
            self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=timeout)
        self._log.close()
        return code

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")


def met_redis_gone(output: str) -> bool:
    """Whether a connector's log shows it met Redis gone or not ready: a record's attempt retried on
    it (StateStoreUnavailable), or, when no record was in flight at that moment (merging what waits
    drains a backlog sooner, #25), the replication gate or a best-effort writer saw it."""
    return any(sign in output for sign in ("StateStoreUnavailable", "redis unavailable", "redis not ready"))


def wait_drained(deployment: Deployment, process: ConnectorProcess | None = None, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.proc.poll() is not None:
            raise AssertionError(f"connector exited with {process.proc.returncode}:\n{process.output()[-3000:]}")
        if deployment.lag() == 0:
            return
        time.sleep(0.5)
    raise AssertionError(f"lag still {deployment.lag()} after {timeout}s")


def start_emulator(api_key: str, rate_limit: int = 0) -> tuple[subprocess.Popen[bytes], str, EmulatorInspector]:
    """The emulator as its own process (a team limit of ``rate_limit`` requests a second, 0: none),
    answering before this returns: the benches' Resend."""
    port = free_port()
    command = [sys.executable, "-m", "connector", "emulator", "--port", str(port), "--api-key", api_key,
               "--rate-limit", str(rate_limit)]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    inspector = EmulatorInspector(url)
    for _ in range(100):
        try:
            inspector.state()
            break
        except httpx.HTTPError:
            time.sleep(0.1)
    return process, url, inspector


def comparable_state(inspector: EmulatorInspector) -> dict[str, Any]:
    """The emulator's contacts as two emulators fed the same events compare: by email, segment and
    topic ids replaced by their names (each emulator makes its own ids), property values included."""
    state = inspector.state()
    names = {s["id"]: s["name"] for s in state["segments"]} | {t["id"]: t["name"] for t in state["topics"]}

    def named(value: Any) -> Any:
        if isinstance(value, str):
            for ident, name in names.items():
                value = value.replace(ident, name)
            if value.startswith("[") and value.endswith("]"):  # the managed record: a set, in any order
                return sorted(part for part in value[1:-1].split(",") if part)
        return value

    return {
        c["email"].lower(): {
            "first_name": c["first_name"],
            "last_name": c["last_name"],
            "unsubscribed": c["unsubscribed"],
            "properties": {k: named(v) for k, v in c["properties"].items()},
            "segments": sorted(names.get(s, s) for s in c["segment_ids"]),
            "topics": {names.get(k, k): v for k, v in c["topics"].items()},
        }
        for c in state["contacts"]
    }
