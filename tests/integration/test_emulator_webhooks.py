"""Webhooks over real HTTP: registered through the API, delivered signed to a real endpoint, retried."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from svix.webhooks import Webhook

from resend_emulator import EmulatorInspector, EmulatorServer
from tests.conftest import wait_for
from tests.integration.conftest import API_KEY


class Endpoint:
    """A real HTTP endpoint that answers the next of ``statuses`` (then 204) and keeps each delivery."""

    def __init__(self) -> None:
        self.statuses: list[int] = []
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.lock = threading.Lock()
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                return

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with endpoint.lock:
                    endpoint.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                    status = endpoint.statuses.pop(0) if endpoint.statuses else 204
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/resend"

    def deliveries(self) -> list[tuple[dict[str, str], bytes]]:
        with self.lock:
            return list(self.received)


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    receiver = Endpoint()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


@pytest.fixture
def http(emulator: EmulatorServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emulator.url, headers={"Authorization": f"Bearer {API_KEY}"}) as client:
        yield client


def test_unsubscribe_click_is_delivered_signed_and_redelivered_with_the_same_id(
    http: httpx.Client, inspector: EmulatorInspector, endpoint: Endpoint
) -> None:
    inspector.set_webhook_retries([0.05, 0.05, 0.05])
    created = http.post("/webhooks", json={"endpoint": endpoint.url, "events": ["contact.updated", "email.bounced"]})
    assert created.status_code == 201
    secret = created.json()["signing_secret"]
    assert secret.startswith("whsec_")
    assert http.post("/contacts", json={"email": "ada@x.io"}).status_code == 201
    endpoint.statuses = [500, 503]  # the receiver fails twice, then takes it
    events = inspector.contact_event("ada@x.io", "unsubscribe")
    assert [e["type"] for e in events] == ["contact.updated"]
    svix_id = events[0]["svix_ids"][0]
    wait_for(lambda: len(endpoint.deliveries()) == 3, timeout=20, what="two failures and a delivery")
    assert {headers["svix-id"] for headers, _ in endpoint.deliveries()} == {svix_id}
    headers, body = endpoint.deliveries()[-1]
    Webhook(secret).verify(body, headers)  # raises on a bad signature or timestamp
    event = json.loads(body)
    assert (event["type"], event["data"]["email"], event["data"]["unsubscribed"]) == (
        "contact.updated",
        "ada@x.io",
        True,
    )
    assert http.get("/contacts/ada@x.io").json()["unsubscribed"] is True
    assert [d["status"] for d in inspector.deliveries()] == [500, 503, 204]
    assert secret not in json.dumps(inspector.state()) + json.dumps(inspector.deliveries())


def test_bounce_and_listing(http: httpx.Client, inspector: EmulatorInspector, endpoint: Endpoint) -> None:
    hook = http.post("/webhooks", json={"endpoint": endpoint.url, "events": ["email.bounced"]}).json()["id"]
    inspector.contact_event("gone@x.io", "bounce")
    wait_for(lambda: len(endpoint.deliveries()) == 1, timeout=20, what="the bounce")
    event = json.loads(endpoint.deliveries()[0][1])
    assert event["type"] == "email.bounced"
    assert event["data"]["bounce"]["type"] == "Permanent"
    listed = http.get("/webhooks").json()
    assert listed["object"] == "list"
    assert [(w["id"], w["status"]) for w in listed["data"]] == [(hook, "enabled")]
    assert "signing_secret" not in listed["data"][0]
    assert http.delete(f"/webhooks/{hook}").json() == {"object": "webhook", "id": hook, "deleted": True}
    assert http.get(f"/webhooks/{hook}").status_code == 404
