"""The suppression list over real HTTP."""

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


def test_suppressions_over_http(http: httpx.Client, inspector: EmulatorInspector) -> None:
    added = http.post("/suppressions", json={"email": "a@x.io"})
    assert added.status_code == 201
    batch = http.post("/suppressions/batch/add", json={"emails": ["b@x.io", "c@x.io"]})
    assert batch.status_code == 201
    assert len(batch.json()["data"]) == 2
    inspector.contact_event("d@x.io", "complaint")
    listed = http.get("/suppressions").json()
    assert [s["email"] for s in listed["data"]] == ["d@x.io", "c@x.io", "b@x.io", "a@x.io"]
    assert http.get("/suppressions", params={"origin": "complaint"}).json()["data"][0]["origin"] == "complaint"
    got = http.get("/suppressions/a%40x.io")
    assert got.json()["id"] == added.json()["id"]
    removed = http.post("/suppressions/batch/remove", json={"emails": ["b@x.io"]})
    assert removed.json()["data"][0]["deleted"] is True
    assert http.delete(f"/suppressions/{added.json()['id']}").json()["deleted"] is True
    missing = http.get("/suppressions/a@x.io")
    assert (missing.status_code, missing.json()["name"]) == (404, "not_found")
    routes = {c["route"] for c in inspector.calls()}
    assert "/suppressions/{suppression}" in routes
    assert "/suppressions/batch/remove" in routes
    assert not any("@" in route for route in routes)  # no emails in the call log
