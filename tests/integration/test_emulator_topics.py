"""Topics and contact topic subscriptions over real HTTP, shaped as the recordings and the OpenAPI show."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from resend_emulator import EmulatorInspector, EmulatorServer
from tests.integration.conftest import API_KEY


@pytest.fixture
def http(emulator: EmulatorServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emulator.url, headers={"Authorization": f"Bearer {API_KEY}"}) as client:
        yield client


def test_topic_lifecycle_and_a_contacts_subscriptions(http: httpx.Client, inspector: EmulatorInspector) -> None:
    # The recorded exchange: POST /topics {name, default_subscription} -> 201 {object: topic, id}.
    created = http.post("/topics", json={"name": "Test topic", "default_subscription": "opt_out"})
    assert created.status_code == 201
    assert set(created.json()) == {"object", "id"}
    topic = created.json()["id"]
    contact = http.post("/contacts", json={"email": "a@x.io", "topics": [{"id": topic, "subscription": "opt_in"}]})
    assert contact.status_code == 201
    listed = http.get("/contacts/a@x.io/topics").json()
    assert listed["object"] == "list"
    assert [(t["id"], t["subscription"]) for t in listed["data"]] == [(topic, "opt_in")]
    patched = http.patch("/contacts/a%40x.io/topics", json={"topics": [{"id": topic, "subscription": "opt_out"}]})
    assert patched.status_code == 200
    assert inspector.contacts()["a@x.io"]["topics"] == {"Test topic": "opt_out"}
    fixed = http.patch(f"/topics/{topic}", json={"default_subscription": "opt_in"})
    assert (fixed.status_code, fixed.json()["name"]) == (422, "validation_error")
    assert http.get("/topics").json()["data"][0]["default_subscription"] == "opt_out"
    assert http.delete(f"/topics/{topic}").json() == {"object": "topic", "id": topic, "deleted": True}
    assert http.get(f"/topics/{topic}").status_code == 404
    routes = {(c["method"], c["route"]) for c in inspector.calls()}
    assert ("PATCH", "/contacts/{id}/topics") in routes  # no emails in the call log
