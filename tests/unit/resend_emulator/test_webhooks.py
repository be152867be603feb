"""Webhooks without a network: management rules, event payloads, Svix signatures, retries with one svix-id."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import httpx
import pytest
from svix.webhooks import Webhook as SvixWebhook
from svix.webhooks import WebhookVerificationError

from resend_emulator.resources.webhooks import emit
from resend_emulator.state import ApiError, Resend
from resend_emulator.webhook_delivery import Deliverer, Message
from tests.conftest import wait_for


class Receiver:
    """Answers each POST with the next status of ``statuses`` (then 200) and keeps what it saw."""

    def __init__(self, *statuses: int) -> None:
        self.statuses = list(statuses)
        self.seen: list[httpx.Request] = []
        self.lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            self.seen.append(request)
            status = self.statuses.pop(0) if self.statuses else 200
        return httpx.Response(status)

    def bodies(self) -> list[dict]:
        with self.lock:
            return [json.loads(r.content) for r in self.seen]


def call(r: Resend, method: str, path: str, body: dict | None = None) -> dict:
    status, answer, _ = r.call(method, path, {}, body)
    assert status in (200, 201)
    return answer


@pytest.fixture
def receiver() -> Receiver:
    return Receiver()


@pytest.fixture
def team(receiver: Receiver) -> Iterator[Resend]:
    r = Resend()
    r.world.runtime.deliverer.close()
    r.world.runtime.deliverer = Deliverer(transport=httpx.MockTransport(receiver), retry_delays=(0.01, 0.01))
    yield r
    r.close()


def subscribe(r: Resend, *events: str) -> dict:
    return call(r, "POST", "/webhooks", {"endpoint": "https://hooks.example/resend", "events": list(events)})


def test_create_answers_a_whsec_secret_that_list_and_reprs_never_show(team: Resend) -> None:
    created = subscribe(team, "contact.updated")
    assert created["object"] == "webhook"
    assert created["signing_secret"].startswith("whsec_")
    SvixWebhook(created["signing_secret"])  # a secret the svix library accepts
    listed = call(team, "GET", "/webhooks")["data"]
    assert "signing_secret" not in listed[0]
    assert call(team, "GET", f"/webhooks/{created['id']}")["signing_secret"] == created["signing_secret"]
    assert created["signing_secret"] not in repr(team.world) + json.dumps(team.snapshot())


def test_management_rules(team: Resend) -> None:
    def refused(method: str, path: str, body: dict) -> int:
        with pytest.raises(ApiError) as caught:
            team.call(method, path, {}, body)
        return caught.value.status

    assert refused("POST", "/webhooks", {"events": ["email.bounced"]}) == 422
    assert refused("POST", "/webhooks", {"endpoint": "ftp://x", "events": ["email.bounced"]}) == 422
    assert refused("POST", "/webhooks", {"endpoint": "https://x.io", "events": []}) == 422
    assert refused("POST", "/webhooks", {"endpoint": "https://x.io", "events": ["email.exploded"]}) == 422
    hook = subscribe(team, "email.bounced")["id"]
    assert refused("PATCH", f"/webhooks/{hook}", {"status": "paused"}) == 422
    call(team, "PATCH", f"/webhooks/{hook}", {"status": "disabled", "endpoint": "https://y.io/h"})
    assert call(team, "GET", f"/webhooks/{hook}")["endpoint"] == "https://y.io/h"
    assert call(team, "DELETE", f"/webhooks/{hook}")["deleted"] is True
    assert refused("GET", f"/webhooks/{hook}", {}) == 404


def test_contact_writes_deliver_signed_contact_events(team: Resend, receiver: Receiver) -> None:
    secret = subscribe(team, "contact.created", "contact.updated", "contact.deleted")["signing_secret"]
    contact = call(team, "POST", "/contacts", {"email": "a@x.io", "first_name": "Ada"})["id"]
    call(team, "PATCH", "/contacts/a@x.io", {"unsubscribed": True})
    call(team, "DELETE", f"/contacts/{contact}")
    wait_for(lambda: len(receiver.seen) == 3, timeout=10, what="three deliveries")
    assert [b["type"] for b in receiver.bodies()] == ["contact.created", "contact.updated", "contact.deleted"]
    updated = receiver.bodies()[1]["data"]
    assert updated["id"] == contact
    assert (updated["email"], updated["first_name"], updated["unsubscribed"]) == ("a@x.io", "Ada", True)
    assert {"created_at", "updated_at", "segment_ids"} <= set(updated)
    assert "T" in receiver.bodies()[1]["created_at"]  # ISO-8601, unlike REST timestamps
    verifier = SvixWebhook(secret)
    for request in receiver.seen:
        verifier.verify(request.content, dict(request.headers))
    forged = dict(receiver.seen[0].headers)
    with pytest.raises(WebhookVerificationError):
        verifier.verify(receiver.seen[0].content + b" ", forged)


def test_only_subscribed_and_enabled_webhooks_receive(team: Resend, receiver: Receiver) -> None:
    subscribe(team, "email.bounced")
    disabled = subscribe(team, "contact.created")["id"]
    call(team, "PATCH", f"/webhooks/{disabled}", {"status": "disabled"})
    call(team, "POST", "/contacts", {"email": "a@x.io"})
    with team.lock:
        assert emit(team.world, "contact.created", {"id": "x"}) == []
    assert team.world.runtime.deliverer.pending() == 0
    assert receiver.seen == []


def test_failures_are_retried_with_the_same_svix_id_then_given_up() -> None:
    flaky = Receiver(500, 503)
    deliverer = Deliverer(transport=httpx.MockTransport(flaky), retry_delays=(0.01, 0.01))
    secret = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    try:
        deliverer.submit(Message("msg_1", "wh_1", "https://h.io/", "email.bounced", b"{}", secret))
        wait_for(lambda: [e["status"] for e in deliverer.log] == [500, 503, 200], timeout=10, what="three attempts")
        assert {r.headers["svix-id"] for r in flaky.seen} == {"msg_1"}
        down = Receiver(500, 500, 500, 500)
        deliverer.close()
        deliverer = Deliverer(transport=httpx.MockTransport(down), retry_delays=(0.01, 0.01))
        message = Message("msg_2", "wh_1", "https://h.io/", "email.bounced", b"{}", secret)
        deliverer.submit(message)
        wait_for(lambda: message.state == "failed", timeout=10, what="the message to be given up")
        assert message.attempts == 3  # the first try and one per retry delay
        assert secret not in repr(message)
    finally:
        deliverer.close()


def test_inspection_unsubscribe_bounce_and_complaint(team: Resend, receiver: Receiver) -> None:
    subscribe(team, "contact.updated", "email.bounced", "email.complained", "email.suppressed")
    call(team, "POST", "/contacts", {"email": "a@x.io"})

    def act(body: dict) -> tuple[int, dict]:
        answered = team.inspect("POST", "contact-event", body)
        assert answered is not None
        return answered

    status, answer = act({"email": "a@x.io", "action": "unsubscribe"})
    assert status == 200
    assert [e["type"] for e in answer["events"]] == ["contact.updated"]
    assert len(answer["events"][0]["svix_ids"]) == 1
    assert team.snapshot()["contacts"][0]["unsubscribed"] is True
    assert act({"email": "a@x.io", "action": "bounce", "bounce_type": "Transient"})[0] == 200
    assert act({"email": "a@x.io", "action": "complaint"})[0] == 200
    assert act({"email": "a@x.io", "action": "suppressed"})[0] == 200
    assert act({"email": "nobody@x.io", "action": "unsubscribe"})[0] == 404
    assert act({"email": "a@x.io", "action": "explode"})[0] == 400
    assert act({"email": "a@x.io", "action": "bounce", "bounce_type": "Soft"})[0] == 400
    wait_for(lambda: len(receiver.seen) == 4, timeout=10, what="four deliveries")
    bodies = {b["type"]: b["data"] for b in receiver.bodies()}
    assert bodies["email.bounced"]["bounce"]["type"] == "Transient"
    assert bodies["email.bounced"]["to"] == ["a@x.io"]
    assert set(bodies["email.complained"]) >= {"email_id", "created_at", "from", "to", "subject"}
    assert bodies["email.suppressed"]["suppressed"]["type"] == "OnAccountSuppressionList"


@pytest.mark.parametrize("endpoint", ["http://\x00x/", "http://[::1/x", "http:///x", "https://:443/x"])
def test_an_endpoint_no_http_client_can_post_to_is_refused(team: Resend, endpoint: str) -> None:
    with pytest.raises(ApiError) as caught:
        team.call("POST", "/webhooks", {}, {"endpoint": endpoint, "events": ["email.bounced"]})
    assert caught.value.status == 422


def test_a_message_whose_url_httpx_refuses_fails_and_the_next_is_still_delivered(receiver: Receiver) -> None:
    deliverer = Deliverer(transport=httpx.MockTransport(receiver), retry_delays=(0.01,))
    secret = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    try:
        bad = Message("msg_bad", "wh_1", "http://\x00x/", "email.bounced", b"{}", secret)
        deliverer.submit(bad)
        wait_for(lambda: bad.state == "failed", timeout=10, what="the unpostable message to be given up")
        good = Message("msg_good", "wh_1", "https://h.io/", "email.bounced", b"{}", secret)
        deliverer.submit(good)
        wait_for(lambda: good.state == "delivered", timeout=10, what="the next message to be delivered")
        assert [r.headers["svix-id"] for r in receiver.seen] == ["msg_good"]
    finally:
        deliverer.close()
