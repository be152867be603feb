"""Broadcasts over real HTTP: a draft, sent to a segment, ``queued`` then ``sent``, its recipients."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from resend_emulator import EmulatorInspector, EmulatorServer
from tests.conftest import wait_for
from tests.integration.conftest import API_KEY


@pytest.fixture
def http(emulator: EmulatorServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emulator.url, headers={"Authorization": f"Bearer {API_KEY}"}) as client:
        yield client


def test_draft_send_and_recipients(http: httpx.Client, inspector: EmulatorInspector) -> None:
    segment = http.post("/segments", json={"name": "customers"}).json()["id"]
    for email in ("a@x.io", "b@x.io"):
        assert http.post("/contacts", json={"email": email, "segments": [{"id": segment}]}).status_code == 201
    http.patch("/contacts/b@x.io", json={"unsubscribed": True})
    created = http.post(
        "/broadcasts", json={"segment_id": segment, "from": "Acme <news@acme.io>", "subject": "Hi", "html": "<p>Hi</p>"}
    )
    assert created.status_code == 201
    assert created.json()["object"] == "broadcast"
    broadcast = created.json()["id"]
    assert http.get(f"/broadcasts/{broadcast}").json()["status"] == "draft"
    sent = http.post(f"/broadcasts/{broadcast}/send", json={})
    assert (sent.status_code, sent.json()) == (200, {"id": broadcast})

    def status() -> str:
        return str(http.get(f"/broadcasts/{broadcast}").json()["status"])

    wait_for(lambda: status() == "sent", timeout=20, what="the broadcast to be sent")
    recipients = http.get(f"/broadcasts/{broadcast}/recipients", params={"type": "delivered"}).json()
    assert [r["email"] for r in recipients["data"]] == ["a@x.io"]
    assert http.get("/broadcasts").json()["data"][0]["sent_at"] is not None
    refused = http.delete(f"/broadcasts/{broadcast}")
    assert (refused.status_code, refused.json()["name"]) == (422, "validation_error")
    assert inspector.state()["broadcasts"][0]["recipients"] == ["a@x.io"]
