"""Contact imports over real HTTP: a multipart CSV upload, queued -> completed, listing, the size limit."""

from __future__ import annotations

import json
import socket
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


def test_multipart_import_runs_asynchronously_to_completed(http: httpx.Client, inspector: EmulatorInspector) -> None:
    assert http.post("/contact-properties", json={"key": "seats", "type": "number"}).status_code == 201
    segment = http.post("/segments", json={"name": "imported"}).json()["id"]
    inspector.set_imports(paused=True)
    csv_text = "Email,Seats\na@x.io,3\nb@x.io,four\nc@x.io,\n"
    column_map = {"email": "Email", "properties": {"seats": {"column": "Seats", "type": "number"}}}
    created = http.post(
        "/contacts/imports",
        files={"file": ("contacts.csv", csv_text.encode(), "text/csv")},
        data={"column_map": json.dumps(column_map), "on_conflict": "upsert", "segments": json.dumps([{"id": segment}])},
    )
    assert created.status_code == 201, created.text
    assert created.json()["object"] == "contact_import"
    import_id = created.json()["id"]
    assert http.get(f"/contacts/imports/{import_id}").json()["status"] == "queued"
    inspector.set_imports(paused=False)

    def completed() -> bool:
        return bool(http.get(f"/contacts/imports/{import_id}").json()["status"] == "completed")

    wait_for(completed, timeout=20, what="the import to complete")
    done = http.get(f"/contacts/imports/{import_id}").json()
    assert set(done) == {"object", "id", "status", "created_at", "completed_at", "counts"}
    assert done["counts"] == {"total": 3, "created": 2, "updated": 0, "skipped": 0, "failed": 1}
    contacts = inspector.contacts()
    assert contacts["a@x.io"]["properties"] == {"seats": 3}
    assert contacts["a@x.io"]["segments"] == ["imported"]
    assert "b@x.io" not in contacts
    listed = http.get("/contacts/imports", params={"status": "completed"}).json()
    assert [i["id"] for i in listed["data"]] == [import_id]
    calls = {(c["method"], c["route"], c["status"]) for c in inspector.calls()}
    assert ("GET", "/contacts/imports/{id}", 200) in calls  # no ids in the call log
    assert inspector.state()["imports"][0]["failed_rows"][0]["row"] == 2


def test_bad_requests_are_answered_like_resend(http: httpx.Client) -> None:
    missing = http.post("/contacts/imports", files={"other": ("x.csv", b"Email\n", "text/csv")})
    assert (missing.status_code, missing.json()["name"]) == (422, "missing_required_field")
    no_email = http.post("/contacts/imports", files={"file": ("x.csv", b"Name\nAda\n", "text/csv")})
    assert (no_email.status_code, no_email.json()["name"]) == (422, "validation_error")
    unknown = http.get("/contacts/imports/00000000-0000-0000-0000-000000000000")
    assert (unknown.status_code, unknown.json()["name"]) == (404, "not_found")


def test_a_body_over_the_limit_is_refused_unread(emulator: EmulatorServer) -> None:
    # Announce a 60 MB body and send none of it: the answer must come without reading it.
    host, port = emulator.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(
            b"POST /contacts/imports HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + API_KEY.encode() + b"\r\n"
            b"Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 60000000\r\n\r\n"
        )
        head = conn.recv(4096).decode()
    assert head.startswith("HTTP/1.1 422")
