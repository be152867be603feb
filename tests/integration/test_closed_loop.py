"""The closed loop end to end: the emulator delivers signed webhooks (its own background deliverer,
retries included) to the receiver running as an OS process, which writes to the real broker and
Redis; the connector's sync then honours what came back.

Issue #16, point 6: an unsubscribe clicked in Resend survives an identify saying otherwise; a bounce
and a complaint reach the topic as track events with the contact's userId; a forged signature, an
old timestamp and a malformed body are refused and write nothing; a receiver killed before it wrote
loses nothing (Resend's retry delivers again) and a redelivery is dropped.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from kafka import KafkaConsumer, TopicPartition
from standardwebhooks.webhooks import Webhook

from connector.events import Event
from connector.resend import ResendClient
from connector.settings import Settings, load_settings
from connector.state import StateStore
from connector.sync import EventSync
from connector.wiring import state_store
from resend_emulator import EmulatorInspector, EmulatorServer
from tests.conftest import wait_for
from tests.integration.conftest import API_KEY

pytestmark = pytest.mark.integration

EVENTS = ["contact.created", "contact.updated", "contact.deleted", "email.bounced", "email.complained"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Receiver:
    """``resend-connector webhooks`` as a process, as in production (so SIGKILL is a real crash)."""

    def __init__(self, env: dict[str, str], port: int, log_path: Path) -> None:
        self.port = port
        self._log = log_path.open("ab")
        self.log_path = log_path
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "connector", "webhooks"], env=env, stdout=self._log, stderr=subprocess.STDOUT
        )
        self.url = f"http://127.0.0.1:{port}"

    def ready(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"receiver exited {self.proc.returncode}:\n{self.log_path.read_text()[-3000:]}")
        try:
            return httpx.get(self.url + "/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)  # a stopped process dies of SIGKILL as well; be explicit
            self.proc.kill()
        self.proc.wait(timeout=30)
        self._log.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=60)
        self._log.close()


class Loop:
    """One test's world: names nobody else uses, the webhook registered in the emulator."""

    def __init__(self, emulator: EmulatorServer, kafka: str, redis_url: str, unique: Callable[[str], str]) -> None:
        self.kafka = kafka
        self.topic = unique("resend-events")
        self.prefix = unique("loop") + ":"
        self.port = free_port()
        answer = httpx.post(
            emulator.url + "/webhooks",
            headers={"Authorization": f"Bearer {API_KEY}"},
            json={"endpoint": f"http://127.0.0.1:{self.port}/webhooks/resend", "events": EVENTS},
        )
        answer.raise_for_status()
        self.secret = str(answer.json()["signing_secret"])
        values = {
            "KAFKA__BOOTSTRAP_SERVERS": kafka,
            "REDIS__URL": redis_url,
            "REDIS__KEY_PREFIX": self.prefix,
            "RESEND__BASE_URL": emulator.url,
            "RESEND__API_KEY": API_KEY,
            "WEBHOOKS__SIGNING_SECRET": self.secret,
            "WEBHOOKS__PORT": str(self.port),
            "WEBHOOKS__TOPIC": self.topic,
            "LOG_FORMAT": "json",
        }
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("RESEND_CONNECTOR_")}
        self.env.update({f"RESEND_CONNECTOR_{k}": v for k, v in values.items()})
        self.settings: Settings = load_settings(
            redis={"url": redis_url, "key_prefix": self.prefix},
            resend={"base_url": emulator.url, "api_key": API_KEY, "max_requests_per_second": 1000},
        )

    def start(self, log_path: Path) -> Receiver:
        receiver = Receiver(self.env, self.port, log_path)
        try:
            wait_for(receiver.ready, timeout=60, what="the receiver to be ready")
        except BaseException:
            receiver.kill()
            raise
        return receiver

    def events(self, expected: int, *, timeout: float = 60) -> list[dict[str, Any]]:
        """Every event on the topic, once at least ``expected`` are there."""
        consumer = KafkaConsumer(bootstrap_servers=self.kafka, enable_auto_commit=False)
        try:
            partitions = [TopicPartition(self.topic, p) for p in consumer.partitions_for_topic(self.topic) or ()]
            consumer.assign(partitions)
            consumer.seek_to_beginning(*partitions)
            events: list[dict[str, Any]] = []
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                for batch in consumer.poll(timeout_ms=500).values():
                    events.extend(json.loads(record.value) for record in batch)
                ends = consumer.end_offsets(partitions)
                if len(events) >= expected and all(consumer.position(tp) >= ends[tp] for tp in partitions):
                    return events
            raise AssertionError(f"{len(events)} events on {self.topic} after {timeout}s, expected {expected}")
        finally:
            consumer.close()


@pytest.fixture
def loop(
    emulator: EmulatorServer, inspector: EmulatorInspector, kafka_bootstrap: str, redis_url: str,
    unique: Callable[[str], str],
) -> Loop:  # fmt: skip
    inspector.set_webhook_retries([0.5, 1.0, 1.0, 2.0, 2.0, 4.0, 4.0, 8.0, 8.0], timeout_seconds=2.0)
    return Loop(emulator, kafka_bootstrap, redis_url, unique)


@pytest.fixture
def receiver(loop: Loop, tmp_path: Path) -> Iterator[Receiver]:
    process = loop.start(tmp_path / "receiver.log")
    yield process
    process.stop()


@pytest.fixture
def sync(loop: Loop, redis_client: redis.Redis) -> Iterator[EventSync]:
    client = ResendClient.from_settings(loop.settings.resend, redis_client, key_prefix=loop.prefix)
    yield EventSync(loop.settings, client, state_store(loop.settings, redis_client))
    client.close()


def identify(email: str, user_id: str, **traits: Any) -> Event:
    return Event.from_dict({"type": "identify", "userId": user_id, "traits": {"email": email, **traits}})


def delivered(inspector: EmulatorInspector, svix_id: str) -> bool:
    return any(a["svix_id"] == svix_id and 200 <= a["status"] < 300 for a in inspector.deliveries())


def test_an_unsubscribe_clicked_in_resend_survives_an_identify_saying_false(
    loop: Loop, receiver: Receiver, sync: EventSync, inspector: EmulatorInspector, redis_client: redis.Redis
) -> None:
    email = "ada@example.com"
    sync.handle(identify(email, "u-ada", unsubscribed=False, plan="free"))
    [event] = [e for e in inspector.contact_event(email, "unsubscribe") if e["type"] == "contact.updated"]
    wait_for(lambda: delivered(inspector, event["svix_ids"][0]), timeout=60, what="the unsubscribe delivered")
    store = StateStore(redis_client, prefix=loop.prefix, user_ttl_seconds=60, refused_ttl_seconds=60)
    assert store.unsubscribed(email) is True
    outcome = sync.handle(identify(email, "u-ada", unsubscribed=False, plan="pro"))
    assert outcome.status == "applied"
    contact = inspector.contacts()[email]
    assert contact["unsubscribed"] is True
    assert contact["properties"]["plan"] == "pro"  # the event's other fields synced
    names = {e["event"]: e for e in loop.events(2)}
    assert names["Contact Unsubscribed"]["userId"] == "u-ada"


def test_a_bounce_and_a_complaint_reach_the_topic_with_the_users_id(
    loop: Loop, receiver: Receiver, sync: EventSync, inspector: EmulatorInspector
) -> None:
    sync.handle(identify("bob@example.com", "u-bob", plan="free"))
    inspector.contact_event("bob@example.com", "bounce", bounce_type="Permanent")
    inspector.contact_event("bob@example.com", "complaint")
    events = [e for e in loop.events(3) if e["event"].startswith("Email")]
    assert sorted(e["event"] for e in events) == ["Email Bounced", "Email Complained"]
    for event in events:
        assert (event["type"], event["userId"], event["context"]["traits"]["email"]) == (
            "track", "u-bob", "bob@example.com",
        )  # fmt: skip
    bounced = next(e for e in events if e["event"] == "Email Bounced")
    assert bounced["properties"]["bounce_type"] == "Permanent"


def test_forged_old_and_malformed_deliveries_are_refused_and_write_nothing(loop: Loop, receiver: Receiver) -> None:
    url = receiver.url + "/webhooks/resend"
    body = json.dumps({"type": "email.bounced", "created_at": "2026-11-30T20:39:59Z",
                       "data": {"to": ["eve@example.com"], "email_id": "e-1"}})  # fmt: skip

    def post(content: str, msg_id: str, *, secret: str = loop.secret, at: datetime | None = None) -> int:
        when = at or datetime.now(UTC)
        headers = {"svix-id": msg_id, "svix-timestamp": str(int(when.timestamp())),
                   "svix-signature": Webhook(secret).sign(msg_id, when, content)}  # fmt: skip
        return httpx.post(url, content=content.encode(), headers=headers, timeout=10).status_code

    forged = "whsec_" + "Zm9yZ2VkIHNlY3JldCBvZiB0aGUgYXR0YWNrZXI="
    assert post(body, "msg_forged", secret=forged) == 401
    assert post(body, "msg_old", at=datetime.now(UTC) - timedelta(minutes=10)) == 401
    assert post("{not json", "msg_bad") == 400
    assert post(json.dumps({"type": "email.bounced", "data": {}}), "msg_shape") == 422
    assert post(body, "msg_good") == 200  # the same body, signed now with the right secret
    assert post(body, "msg_good") == 200  # a redelivery: acknowledged, dropped
    events = loop.events(1)
    assert [e["messageId"] for e in events] == ["resend-webhook:msg_good"]


def test_a_receiver_killed_before_writing_loses_nothing(
    loop: Loop, receiver: Receiver, sync: EventSync, inspector: EmulatorInspector, tmp_path: Path
) -> None:
    sync.handle(identify("cy@example.com", "u-cy", plan="free"))
    receiver.proc.send_signal(signal.SIGSTOP)  # it accepts the connection, never gets to write
    [event] = inspector.contact_event("cy@example.com", "bounce")
    svix_id = event["svix_ids"][0]
    wait_for(lambda: any(a["svix_id"] == svix_id and a["status"] == 0 for a in inspector.deliveries()),
             timeout=30, what="a delivery attempt that got no answer")  # fmt: skip
    receiver.kill()
    restarted = loop.start(tmp_path / "restarted.log")
    try:
        wait_for(lambda: delivered(inspector, svix_id), timeout=90, what="Resend's retry delivered")
        bounces = [e for e in loop.events(2) if e["event"] == "Email Bounced"]
        assert [e["messageId"] for e in bounces] == [f"resend-webhook:{svix_id}"]
        assert bounces[0]["userId"] == "u-cy"
    finally:
        restarted.stop()
