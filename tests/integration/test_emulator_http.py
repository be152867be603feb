"""The emulator over real HTTP: keys, Resend's rate window, faults changed while it runs, inspection."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from resend_emulator import EmulatorInspector, EmulatorServer, Faults
from tests.conftest import wait_for
from tests.integration.conftest import API_KEY

RATE_HEADERS = ("ratelimit-limit", "ratelimit-remaining", "ratelimit-reset", "ratelimit-policy")


@pytest.fixture
def http(emulator: EmulatorServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emulator.url, headers={"Authorization": f"Bearer {API_KEY}"}) as client:
        yield client


def test_keys_missing_unknown_and_sending_only(emulator: EmulatorServer) -> None:
    with httpx.Client(base_url=emulator.url) as anonymous:
        missing = anonymous.get("/segments")
        unknown = anonymous.get("/segments", headers={"Authorization": "Bearer re_nobody"})
        restricted = anonymous.get("/segments", headers={"Authorization": "Bearer re_sending_only"})
    assert (missing.status_code, missing.json()["name"]) == (401, "missing_api_key")
    assert (unknown.status_code, unknown.json()["name"]) == (401, "invalid_api_key")
    assert (restricted.status_code, restricted.json()["name"]) == (401, "restricted_api_key")
    assert set(missing.json()) == {"statusCode", "name", "message"}


def test_unknown_key_can_be_answered_with_resends_documented_403() -> None:
    server = EmulatorServer(api_keys=("k",), unknown_key_status=403).start()
    try:
        with httpx.Client(base_url=server.url) as anonymous:
            unknown = anonymous.get("/segments", headers={"Authorization": "Bearer re_nobody"})
            missing = anonymous.get("/segments")
    finally:
        server.stop()
    assert (unknown.status_code, unknown.json()["name"]) == (403, "invalid_api_key")
    assert missing.status_code == 401  # only the unknown-key answer changes


def test_a_request_without_user_agent_is_refused_before_the_api(emulator: EmulatorServer) -> None:
    with httpx.Client(base_url=emulator.url, headers={"Authorization": f"Bearer {API_KEY}"}) as client:
        client.headers.pop("User-Agent")
        refused = client.get("/segments")
        answered = client.get("/segments", headers={"User-Agent": "any/1"})
    assert (refused.status_code, refused.text) == (403, "error code: 1010")  # as Cloudflare answers
    assert answered.status_code == 200


def test_one_second_window_headers_and_429(
    emulator: EmulatorServer, inspector: EmulatorInspector, http: httpx.Client
) -> None:
    inspector.set_rate_limit(3)
    answers = [http.get("/segments") for _ in range(10)]
    for answer in answers:
        assert all(name in answer.headers for name in RATE_HEADERS)
        assert answer.headers["ratelimit-limit"] == "3"
        assert answer.headers["ratelimit-policy"] == "3;w=1"
    limited = [a for a in answers if a.status_code == 429]
    # Ten calls within milliseconds span at most two windows: at most 6 pass.
    assert len(limited) >= 4
    assert all(a.json()["name"] == "rate_limit_exceeded" for a in limited)
    assert all(1 <= int(a.headers["retry-after"]) <= 1 for a in limited)
    assert all(a.headers["ratelimit-remaining"] == "0" for a in limited)
    inspector.set_rate_limit(0)  # unthrottled: no limit, no headers
    assert http.get("/segments").status_code == 200


def test_inspection_is_never_limited_nor_logged(inspector: EmulatorInspector, http: httpx.Client) -> None:
    inspector.set_rate_limit(1)
    for _ in range(20):
        inspector.state()
    assert inspector.calls() == []
    assert http.get("/segments").status_code == 200
    assert [(c["method"], c["route"], c["status"]) for c in inspector.calls()] == [("GET", "/segments", 200)]


def test_faults_change_while_running(inspector: EmulatorInspector, http: httpx.Client) -> None:
    inspector.set_faults(quota_exhausted=True)
    quota = http.get("/segments")
    assert (quota.status_code, quota.json()["name"]) == (429, "daily_quota_exceeded")
    inspector.set_faults(quota_exhausted=False, error_rate=1.0)
    assert {http.get("/segments").status_code for _ in range(20)} == {500, 503}
    inspector.set_faults(error_rate=0.0, drop_rate=1.0)
    with pytest.raises(httpx.RemoteProtocolError):
        http.get("/segments")
    inspector.set_faults(drop_rate=0.0, storm_429=2, retry_after_seconds=0.5)
    storm = [http.get("/segments") for _ in range(3)]
    assert [a.status_code for a in storm] == [429, 429, 200]
    assert storm[0].headers["retry-after"] == "0.5"
    inspector.set_faults(outage_seconds=0.3)
    assert http.get("/segments").status_code == 503
    wait_for(lambda: http.get("/segments").status_code == 200, timeout=10, what="the outage to end")
    counts = inspector.call_counts()
    assert counts["GET /segments 0"] == 1  # the dropped connection is logged with status 0
    assert counts["GET /segments 429"] == 3


def test_faults_given_at_start_apply_from_the_start() -> None:
    server = EmulatorServer(api_keys=("k",), faults=Faults(outage_seconds=60)).start()
    try:
        answer = httpx.get(server.url + "/segments", headers={"Authorization": "Bearer k"})
        assert (answer.status_code, answer.json()["name"]) == (503, "service_unavailable")
    finally:
        server.stop()


def test_unknown_fault_is_refused(emulator: EmulatorServer) -> None:
    for wrong in ({"no_such_fault": 1}, {"error_rate": "half"}, {"quota_exhausted": 1}, {"storm_429": True}):
        answer = httpx.post(emulator.url + "/_emulator/faults", json=wrong)
        assert answer.status_code == 400, wrong


def test_bad_bodies_are_resend_errors(http: httpx.Client) -> None:
    not_json = http.post("/contacts", content=b"{nope", headers={"Content-Type": "application/json"})
    assert (not_json.status_code, not_json.json()["name"]) == (400, "validation_error")
    wrong_shape = http.post("/contacts", json={"email": "a@x.io", "segments": [{"name": "VIP"}]})
    assert (wrong_shape.status_code, wrong_shape.json()["name"]) == (422, "validation_error")
    missing = http.post("/contacts", json={"first_name": "A"})
    assert (missing.status_code, missing.json()["name"]) == (422, "missing_required_field")
    assert http.get("/nowhere").status_code == 404
    assert http.put("/contacts").status_code == 405


def test_state_calls_counts_and_reset(inspector: EmulatorInspector, http: httpx.Client) -> None:
    http.post("/contact-properties", json={"key": "plan", "type": "string"})
    segment = http.post("/segments", json={"name": "VIP"}).json()["id"]
    http.post("/contacts", json={"email": "Ada@Example.com", "properties": {"plan": "pro"}})
    http.post(f"/contacts/{'ada%40example.com'}/segments/{segment}")
    state = inspector.state()
    [contact] = state["contacts"]
    assert contact["email"] == "Ada@Example.com"
    assert contact["properties"] == {"plan": "pro"}
    assert (contact["segments"], contact["segment_ids"]) == (["VIP"], [segment])
    assert state["segments"] == [{"id": segment, "name": "VIP"}]
    assert [(p["key"], p["type"]) for p in state["properties"]] == [("plan", "string")]
    routes = [f"{c['method']} {c['route']}" for c in inspector.calls()]
    assert routes == [
        "POST /contact-properties",
        "POST /segments",
        "POST /contacts",
        "POST /contacts/{id}/segments/{segment_id}",
    ]
    assert not any("example" in route.lower() for route in routes)
    assert inspector.call_counts()["POST /contacts 201"] == 1
    inspector.reset()
    assert inspector.state()["contacts"] == []
    assert inspector.calls() == []


def test_standalone_process() -> None:
    command = [sys.executable, "-m", "resend_emulator", "--port", "0", "--api-key", "re_cli", "--rate-limit", "5"]
    with subprocess.Popen(command, stderr=subprocess.PIPE, text=True) as proc:
        try:
            assert proc.stderr is not None
            banner = proc.stderr.readline()  # the first line names the URL, so --port 0 works
            found = re.search(r"http://127\.0\.0\.1:\d+", banner)
            assert found, banner
            url = found.group(0)
            answer = httpx.post(url + "/segments", json={"name": "A"}, headers={"Authorization": "Bearer re_cli"})
            assert answer.status_code == 201
            assert answer.headers["ratelimit-limit"] == "5"
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=10) == 0


def test_a_handler_that_raises_is_answered_500_and_counted(
    emulator: EmulatorServer, http: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An emulator bug, simulated: the account's dispatch and its snapshot raise what no rule expects.
    call, resend = emulator.resend.call, emulator.resend

    def buggy_call(method: str, path: str, query: dict[str, str], body: Any) -> Any:
        if path == "/contacts":
            raise RuntimeError("an emulator bug")
        return call(method, path, query, body)

    def buggy_snapshot() -> Any:
        raise LookupError("an emulator bug")

    monkeypatch.setattr(resend, "call", buggy_call)
    monkeypatch.setattr(resend, "snapshot", buggy_snapshot)
    broken = http.post("/contacts", json={"email": "a@example.com"})
    inspection = http.get("/_emulator/state")
    after = http.get("/segments")  # the server still answers on the same client
    assert (broken.status_code, broken.json()) == (
        500,
        {"statusCode": 500, "name": "application_error", "message": "Internal server error"},
    )
    assert (inspection.status_code, inspection.json()["name"]) == (500, "application_error")
    assert after.status_code == 200
    assert http.get("/_emulator/errors").json() == {"requests": 2, "jobs": 0}
    counts = http.get("/_emulator/counts").json()
    assert counts["POST /contacts 500"] == 1
    assert not any("_emulator" in key for key in counts)  # the inspection API stays out of the call log


@pytest.mark.parametrize("raw", [b'{"limit": "many"}', b'{"limit": null}', b'{"limit": [1]}', b'{"limit": 1e999}'])
def test_a_rate_limit_that_is_not_a_number_is_refused(http: httpx.Client, raw: bytes) -> None:
    answer = http.post("/_emulator/rate-limit", content=raw, headers={"Content-Type": "application/json"})
    assert answer.status_code == 400
    assert http.post("/_emulator/rate-limit", json={"limit": 0}).json() == {"limit": 0}
