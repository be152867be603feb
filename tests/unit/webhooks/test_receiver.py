"""The receiver's HTTP surface without servers: Starlette's test client, fakeredis, and a writer that
records what it was given (or fails). Signatures are made with the standardwebhooks library."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import httpx
import pytest
import redis
from standardwebhooks.webhooks import Webhook

from connector.errors import RetryableError, StateStoreUnavailable
from connector.state import StateStore
from connector.webhooks.app import PATH, build_app
from connector.webhooks.dedupe import Dedupe
from connector.webhooks.follow import Follower
from connector.webhooks.handler import WebhookHandler
from connector.webhooks.metrics import WebhookMetrics
from connector.webhooks.verify import Verifier

SECRET = "whsec_" + base64.b64encode(b"a test secret of 24 bytes").decode()
AT = "2026-11-30T20:39:59.540Z"


class AppClient:
    """Requests to the ASGI app in-process (httpx's ASGI transport), one event loop per request."""

    def __init__(self, app: Any) -> None:
        self._transport = httpx.ASGITransport(app=app)

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        async def go() -> httpx.Response:
            async with httpx.AsyncClient(transport=self._transport, base_url="http://receiver") as client:
                return await client.request(method, path, **kwargs)

        return anyio.run(go)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self._send("POST", path, **kwargs)

    def get(self, path: str) -> httpx.Response:
        return self._send("GET", path)


class RecordingWriter:
    def __init__(self) -> None:
        self.written: list[tuple[str, dict[str, Any]]] = []
        self.failures: list[Exception] = []

    def write(self, events: list[tuple[str, dict[str, Any]]]) -> None:
        if self.failures:
            raise self.failures.pop(0)
        self.written.extend(events)

    def connected(self) -> bool:
        return True


@pytest.fixture
def store(redis_client: redis.Redis) -> StateStore:
    return StateStore(redis_client, prefix="t:", user_ttl_seconds=600, refused_ttl_seconds=60)


@pytest.fixture
def writer() -> RecordingWriter:
    return RecordingWriter()


@pytest.fixture
def metrics() -> WebhookMetrics:
    return WebhookMetrics()


@pytest.fixture
def client(store: StateStore, redis_client: redis.Redis, writer: RecordingWriter, metrics: WebhookMetrics) -> AppClient:
    dedupe = Dedupe(redis_client, prefix="t:", ttl_seconds=600)
    handler = WebhookHandler(store, dedupe, writer, Follower(store), metrics)  # type: ignore[arg-type]
    return AppClient(build_app(Verifier(SECRET), handler, metrics, ready=lambda: True, max_body_bytes=4096))


def signed(payload: Any, msg_id: str = "msg_1", *, at: datetime | None = None, secret: str = SECRET) -> dict[str, Any]:
    body = payload if isinstance(payload, str) else json.dumps(payload)
    when = at or datetime.now(UTC)
    signature = Webhook(secret).sign(msg_id, when, body)
    headers = {"svix-id": msg_id, "svix-timestamp": str(int(when.timestamp())), "svix-signature": signature,
               "content-type": "application/json"}  # fmt: skip
    return {"content": body.encode(), "headers": headers}


def bounce(to: str = "ada@example.com") -> dict[str, Any]:
    return {
        "type": "email.bounced",
        "created_at": AT,
        "data": {"email_id": "e1", "to": [to], "bounce": {"type": "Permanent"}},
    }


def unsubscribe(flag: bool = True, at: str = AT) -> dict[str, Any]:
    return {"type": "contact.updated", "created_at": at, "data": {"id": "c1", "email": "ada@example.com",
                                                                 "unsubscribed": flag}}  # fmt: skip


def test_a_signed_bounce_is_written_with_the_known_user_id(
    client: AppClient, store: StateStore, writer: RecordingWriter
) -> None:
    store.remember_users([("u-1", "ada@example.com"), ("u-2", "ada@example.com")])  # the last one wins
    answer = client.post(PATH, **signed(bounce()))
    assert (answer.status_code, answer.json()) == (200, {"written": 1})
    [(key, event)] = writer.written
    assert key == "ada@example.com"
    assert (event["event"], event["userId"], event["messageId"]) == ("Email Bounced", "u-2", "resend-webhook:msg_1")


def test_a_redelivery_is_acknowledged_and_dropped(client: AppClient, writer: RecordingWriter) -> None:
    first = client.post(PATH, **signed(bounce(), "msg_dup"))
    again = client.post(PATH, **signed(bounce(), "msg_dup"))
    assert (first.status_code, again.status_code, again.json()) == (200, 200, {"duplicate": True})
    assert len(writer.written) == 1


@pytest.mark.parametrize(
    ("mutate", "status"),
    [
        (lambda r: r["headers"].update({"svix-signature": "v1," + base64.b64encode(b"x" * 32).decode()}), 401),
        (lambda r: r.update(content=r["content"].replace(b"ada", b"eve")), 401),  # body changed after signing
        (lambda r: r["headers"].pop("svix-id"), 400),
        (lambda r: r["headers"].update({"svix-signature": "garbage"}), 401),
        (lambda r: r["headers"].update({"svix-timestamp": "soon"}), 401),
        (lambda r: r.update(content=b"\xff\xfe"), 400),
    ],
)
def test_forged_or_malformed_deliveries_are_refused_and_write_nothing(
    client: AppClient, writer: RecordingWriter, mutate: Any, status: int
) -> None:
    request = signed(bounce())
    mutate(request)
    assert client.post(PATH, **request).status_code == status
    assert writer.written == []


def test_a_replayed_old_timestamp_is_refused(client: AppClient, writer: RecordingWriter) -> None:
    old = client.post(PATH, **signed(bounce(), at=datetime.now(UTC) - timedelta(minutes=6)))
    future = client.post(PATH, **signed(bounce(), at=datetime.now(UTC) + timedelta(minutes=6)))
    assert (old.status_code, future.status_code) == (401, 401)
    assert old.json() == {"error": "timestamp outside the tolerance"}
    assert writer.written == []


def test_another_secret_is_refused(client: AppClient, writer: RecordingWriter) -> None:
    other = "whsec_" + base64.b64encode(b"another secret entirely").decode()
    assert client.post(PATH, **signed(bounce(), secret=other)).status_code == 401
    assert writer.written == []


@pytest.mark.parametrize(
    "body", ["not json", "[1, 2]", '{"type": "email.bounced", "data": {}}', "[" * 2000 + "]" * 2000]
)
def test_bad_bodies_get_a_clear_4xx(client: AppClient, writer: RecordingWriter, body: str) -> None:
    answer = client.post(PATH, **signed(body))
    assert answer.status_code in {400, 422}
    assert "error" in answer.json()
    assert writer.written == []


def test_an_oversized_body_is_refused(client: AppClient) -> None:
    assert client.post(PATH, **signed({"type": "x", "pad": "y" * 5000})).status_code == 413


def test_a_failed_kafka_write_answers_503_and_the_retry_writes_it(client: AppClient, writer: RecordingWriter) -> None:
    writer.failures.append(RetryableError("broker down"))
    assert client.post(PATH, **signed(bounce(), "msg_r")).status_code == 503
    assert client.post(PATH, **signed(bounce(), "msg_r")).status_code == 200  # Resend's retry
    assert len(writer.written) == 1


def test_a_delivery_another_replica_is_handling_is_retried_later(
    client: AppClient, redis_client: redis.Redis, writer: RecordingWriter
) -> None:
    Dedupe(redis_client, prefix="t:", ttl_seconds=600).claim("msg_c")
    assert client.post(PATH, **signed(bounce(), "msg_c")).status_code == 409
    assert writer.written == []


def test_an_unsubscribe_updates_the_connectors_state_in_order(
    client: AppClient, store: StateStore, writer: RecordingWriter
) -> None:
    assert client.post(PATH, **signed(unsubscribe(True), "m1")).status_code == 200
    assert store.unsubscribed("ada@example.com") is True
    stale = unsubscribe(False, at="2026-11-30T20:00:00Z")  # an earlier change delivered late
    assert client.post(PATH, **signed(stale, "m0")).status_code == 200
    assert store.unsubscribed("ada@example.com") is True
    later = unsubscribe(False, at="2026-11-30T21:00:00Z")
    assert client.post(PATH, **signed(later, "m2")).status_code == 200
    assert store.unsubscribed("ada@example.com") is False
    assert [e["event"] for _, e in writer.written] == [
        "Contact Unsubscribed",
        "Contact Updated",
        "Contact Resubscribed",
    ]


def test_a_contact_deleted_in_resend_is_forgotten(client: AppClient, store: StateStore) -> None:
    store.remember_contact("ada@example.com", frozenset({"s1"}), None)
    deleted = {"type": "contact.deleted", "created_at": AT, "data": {"id": "c1", "email": "ada@example.com"}}
    assert client.post(PATH, **signed(deleted)).status_code == 200
    assert store.contact("ada@example.com") is None


def test_health_readiness_and_metrics(client: AppClient) -> None:
    client.post(PATH, **signed(bounce()))
    client.post(PATH, **signed(bounce(), at=datetime.now(UTC) - timedelta(hours=1)))
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    text = client.get("/metrics").text
    assert 'webhooks_received_total{outcome="written",type="email.bounced"} 1.0' in text
    assert 'webhooks_received_total{outcome="refused",type="other"} 1.0' in text
    assert SECRET not in text


def test_a_state_follow_that_fails_writes_nothing_and_the_retry_does_both(
    store: StateStore, redis_client: redis.Redis, writer: RecordingWriter, metrics: WebhookMetrics
) -> None:
    class FlakyFollower(Follower):
        failures = 1

        def follow(self, change: Any) -> None:
            if self.failures:
                self.failures -= 1
                raise StateStoreUnavailable("redis unavailable: ConnectionError")
            super().follow(change)

    dedupe = Dedupe(redis_client, prefix="t:", ttl_seconds=600)
    handler = WebhookHandler(store, dedupe, writer, FlakyFollower(store), metrics)  # type: ignore[arg-type]
    client = AppClient(build_app(Verifier(SECRET), handler, metrics, ready=lambda: True, max_body_bytes=4096))
    assert client.post(PATH, **signed(unsubscribe(True), "m-f")).status_code == 503
    assert writer.written == []
    assert client.post(PATH, **signed(unsubscribe(True), "m-f")).status_code == 200
    assert [e["event"] for _, e in writer.written] == ["Contact Unsubscribed"]
    assert store.unsubscribed("ada@example.com") is True


def test_what_was_written_is_forgotten_only_when_someone_else_changed_the_contact(
    client: AppClient, store: StateStore
) -> None:
    from connector.mapping import UpdateContact
    from connector.sync.fingerprints import written

    email = "ada@example.com"
    ours = written(UpdateContact(email, (("first_name", "Ada"), ("unsubscribed", False))), time.time())
    store.remember_contact(email, None, None, written=ours)

    def updated(msg_id: str, **data: Any) -> int:
        payload = {"type": "contact.updated", "created_at": AT, "data": {"id": "c1", "email": email, **data}}
        return client.post(PATH, **signed(payload, msg_id)).status_code

    assert updated("m-ours", first_name="Ada", unsubscribed=False) == 200  # Resend reporting our own write
    assert store.written_fields(email)[0] == ours
    assert updated("m-theirs", first_name="Adeline", unsubscribed=False) == 200  # edited in the dashboard
    assert store.written_fields(email)[0] == {}
