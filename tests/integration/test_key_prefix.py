"""Every Redis key a command writes starts with ``redis.key_prefix`` (issue #23, point 1).

One deployment, on a Redis database of its own, runs ``run``, ``replay``, ``webhooks``, ``backfill``
(through imports and through the events topic), ``check`` and ``resume`` as OS processes, as in
production; then every key in the database is listed. A key outside the prefix fails the test (before
the wiring point, ``run`` wrote its rate limit under ``resend-connector:``, whatever the prefix).
"""

from __future__ import annotations

import base64
import json
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
import redis
from kafka import KafkaProducer
from standardwebhooks.webhooks import Webhook

from resend_emulator import EmulatorServer
from tests.conftest import wait_for
from tests.harness import ConnectorProcess, Deployment, wait_drained
from tests.integration.conftest import API_KEY

pytestmark = pytest.mark.integration

_DATABASE = 13  # no other test uses it: every key found there is this test's


def _database_url(redis_url: str) -> str:
    parts = urlsplit(redis_url)
    return urlunsplit(parts._replace(path=f"/{_DATABASE}"))


@pytest.fixture
def database(redis_url: str) -> Iterator[tuple[str, redis.Redis]]:
    url = _database_url(redis_url)
    client = redis.Redis.from_url(url, decode_responses=True)
    client.flushdb()
    yield url, client
    client.flushdb()
    client.close()


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    """One that announces its rate limit, so the limiter keeps a key that outlives the commands."""
    server = EmulatorServer(api_keys=(API_KEY,), rate_limit=1000).start()
    yield server
    server.stop()


@pytest.fixture
def deployment(
    kafka_bootstrap: str, database: tuple[str, redis.Redis], emulator: EmulatorServer, unique: Callable[[str], str]
) -> Deployment:
    d = Deployment(kafka_bootstrap, database[0], emulator.url, API_KEY, topic=unique("prefix"), group=unique("group"),
                   key_prefix="tenant-x:", partitions=1)  # fmt: skip
    d.create_topics()
    return d


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "connector", *args], env=env, capture_output=True, text=True, timeout=180, check=False
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _identify(n: int) -> dict[str, object]:
    return {"type": "identify", "messageId": f"m-{n}", "userId": f"u-{n}",
            "traits": {"email": f"person{n}@example.com", "plan": "pro"}}  # fmt: skip


def _run(deployment: Deployment, tmp_path: Path) -> None:
    bad = {"type": "identify", "messageId": "m-bad", "userId": "u-bad", "traits": {"email": "not an email"}}
    deployment.produce_events([_identify(1), _identify(2), bad])
    process = ConnectorProcess(deployment, tmp_path / "run.log")
    try:
        wait_drained(deployment, process)
    finally:
        assert process.stop() == 0, process.output()[-3000:]


def _replay(deployment: Deployment) -> None:
    # A record on the dead-letter topic that applies now: replay writes the contact and the rate limit.
    producer = KafkaProducer(bootstrap_servers=deployment.bootstrap, acks="all")
    producer.send(deployment.dead_letter_topic, key=b"u-3", value=json.dumps(_identify(3)).encode())
    producer.flush()
    producer.close()
    done = _cli(deployment.env(), "replay", "--no-progress")
    assert done.returncode == 0, done.stderr[-3000:]


def _webhooks(deployment: Deployment, tmp_path: Path) -> None:
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
    port = _free_port()
    env = deployment.env()
    env.update(RESEND_CONNECTOR_WEBHOOKS__SIGNING_SECRET=secret, RESEND_CONNECTOR_WEBHOOKS__PORT=str(port),
               RESEND_CONNECTOR_WEBHOOKS__TOPIC=deployment.topic + "-hooks")  # fmt: skip
    log = (tmp_path / "webhooks.log").open("ab")
    receiver = subprocess.Popen([sys.executable, "-m", "connector", "webhooks"], env=env, stdout=log,
                                stderr=subprocess.STDOUT)  # fmt: skip
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        assert receiver.poll() is None, (tmp_path / "webhooks.log").read_text()[-3000:]
        try:
            return httpx.get(url + "/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_for(ready, timeout=60, what="the receiver to be ready")
        body = json.dumps({"type": "email.bounced", "created_at": "2026-11-30T20:39:59Z",
                           "data": {"to": ["person1@example.com"], "email_id": "e-1"}})  # fmt: skip
        when = datetime.now(UTC)
        headers = {"svix-id": "msg_1", "svix-timestamp": str(int(when.timestamp())),
                   "svix-signature": Webhook(secret).sign("msg_1", when, body)}  # fmt: skip
        assert (
            httpx.post(url + "/webhooks/resend", content=body.encode(), headers=headers, timeout=30).status_code == 200
        )
    finally:
        receiver.terminate()
        receiver.wait(timeout=60)
        log.close()


def _backfill(deployment: Deployment, tmp_path: Path) -> None:
    rows = tmp_path / "contacts.csv"
    rows.write_text("email,first_name\nnew1@example.com,Ann\nnew2@example.com,Bo\n", encoding="utf-8")
    for extra in ((), ("--via-events",)):
        done = _cli(deployment.env(), "backfill", str(rows), "--no-progress", *extra)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]


def test_every_key_any_command_writes_starts_with_the_prefix(
    deployment: Deployment, database: tuple[str, redis.Redis], tmp_path: Path
) -> None:
    _run(deployment, tmp_path)
    _replay(deployment)
    _webhooks(deployment, tmp_path)
    _backfill(deployment, tmp_path)
    for command in ("check", "resume"):
        _cli(deployment.env(), command)  # what they answer is tested elsewhere; only their keys matter here
    time.sleep(0.2)
    keys = sorted(database[1].scan_iter("*"))
    outside = [key for key in keys if not key.startswith(deployment.key_prefix)]
    assert outside == [], f"keys outside {deployment.key_prefix!r}: {outside}"
    written = {key.removeprefix(deployment.key_prefix).split(":", 1)[0] for key in keys}
    # The commands did write: the shared rate limit, contacts, the webhook dedupe, the resume signal.
    assert {"ratelimit", "contact", "webhook", "control"} <= written, sorted(written)
