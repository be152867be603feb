"""Lone surrogates (issue #12 point 3, #19 point 3): valid JSON (``"\\ud800"``) that is not Unicode text.

Each kind of record below sits between good identifies on the real broker; the connector runs as a
process. An identity holding one (an email, a userId, a segment name) is dead-lettered at the plan
stage with a reason that names it, never stage ``internal``; a trait key holding one is made valid
like any other odd key; a value holding one reaches Resend with U+FFFD in its place; a key the
connector does not read changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from connector.mapping import property_key
from resend_emulator import EmulatorInspector, EmulatorServer
from tests.harness import ConnectorProcess, Deployment, wait_drained
from tests.integration.conftest import API_KEY


@pytest.fixture
def deployment(
    kafka_bootstrap: str, redis_url: str, emulator: EmulatorServer, unique: Callable[[str], str]
) -> Deployment:
    d = Deployment(kafka_bootstrap, redis_url, emulator.url, API_KEY, topic=unique("events"), group=unique("group"),
                   key_prefix=unique("sur") + ":", partitions=1)  # fmt: skip
    d.create_topics()
    return d


def raw(text: str) -> bytes:
    """A record value exactly as written: ``\\ud800`` stays a JSON escape (json.dumps would keep it too)."""
    return text.encode()


def good(n: int) -> tuple[bytes, bytes]:
    event = {"type": "identify", "userId": f"g{n}", "traits": {"email": f"good{n}@example.com"}}
    return f"g{n}".encode(), json.dumps(event).encode()


BAD: dict[str, tuple[bytes, str | None]] = {
    # kind: (record value, expected dead-letter reason fragment; None = applied)
    "email": (raw('{"type":"identify","traits":{"email":"ada\\ud800@example.com"}}'), "lone surrogate U+D800"),
    "context-email": (
        raw('{"type":"track","event":"x","context":{"traits":{"email":"a@exa\\udfffmple.com"}},"traits":{"a":1}}'),
        "lone surrogate U+DFFF",
    ),
    "user-id": (raw('{"type":"identify","userId":"u\\ud800","traits":{"email":"uid@example.com"}}'), "`userId`"),
    "audience": (
        raw('{"type":"identify","traits":{"email":"aud@example.com","resendAudiences":"A\\udc00"}}'),
        "resendAudiences",
    ),
    "trait-key": (raw('{"type":"identify","traits":{"email":"key@example.com","\\udc00x":"v"}}'), None),
    "trait-value": (raw('{"type":"identify","traits":{"email":"val@example.com","note":"a\\ud800b"}}'), None),
    "nested-value": (raw('{"type":"identify","traits":{"email":"obj@example.com","prefs":{"\\ud800":"x"}}}'), None),
    "name": (raw('{"type":"identify","traits":{"email":"name@example.com","firstName":"Ad\\ud800a"}}'), None),
    "record-key": (raw('{"type":"identify","\\ud800":1,"traits":{"email":"rec@example.com"}}'), None),
}


@pytest.mark.timeout(300)
def test_lone_surrogates_end_as_specified(deployment: Deployment, inspector: EmulatorInspector, tmp_path: Path) -> None:
    records: list[tuple[bytes, bytes]] = [good(0)]
    for n, (kind, (value, _)) in enumerate(BAD.items(), start=1):
        records += [(kind.encode(), value), good(n)]
    deployment.produce(records)
    process = ConnectorProcess(deployment, tmp_path / "connector.log")
    try:
        wait_drained(deployment, process)
    finally:
        assert process.stop() == 0
    letters = {r.key.decode(): dict(r.headers) for r in deployment.dead_letters()}
    failing = {kind for kind, (_, reason) in BAD.items() if reason is not None}
    assert set(letters) == failing, {k: v.get("__connect.errors.exception.message") for k, v in letters.items()}
    for kind in failing:
        headers: dict[str, Any] = letters[kind]
        assert headers["__connect.errors.stage"] == b"plan", kind
        assert BAD[kind][1].encode() in headers["__connect.errors.exception.message"], kind  # type: ignore[union-attr]
    contacts = inspector.contacts()
    assert {f"good{n}@example.com" for n in range(len(BAD) + 1)} <= set(contacts)
    assert contacts["key@example.com"]["properties"][property_key("\udc00x")] == "v"
    assert contacts["val@example.com"]["properties"]["note"] == "a\ufffdb"
    assert contacts["obj@example.com"]["properties"]["prefs"] == '{"\ufffd":"x"}'
    assert contacts["name@example.com"]["first_name"] == "Ad\ufffda"
    assert "rec@example.com" in contacts
    assert not {"ada@example.com", "uid@example.com", "aud@example.com"} & set(contacts)
