"""Every recorded exchange with the real api.resend.com, replayed against the emulator over HTTP.

Each recording (tests/fixtures/resend-recordings, one HAR file per Node SDK test) replays in order
against a fresh emulator; ids the real API gave are mapped to the ids the emulator gives the same
objects, so later calls address the right ones. Compared: status, error name, ``object`` markers,
booleans (``deleted``, ``has_more``, ``unsubscribed``), body key sets and types, and ids that must
name the same object (tests/recordings.py). The exchanges that cannot match are listed in EXCEPTIONS
with the reason; an exception that starts matching fails the test, so the list never goes stale.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from resend_emulator import EmulatorInspector, EmulatorServer
from tests.integration.conftest import API_KEY
from tests.recordings import Exchange, IdMap, answer_now, differences, exchanges, recordings

_OCTOBER = "recorded 2025-10-17, before Resend added `properties` to contact answers (the 2025-11-30 recordings of the same legacy route carry it, and so does the emulator)"  # noqa: E501

EXCEPTIONS: dict[tuple[str, int], str] = {
    ("contacts/Contacts-Integration-Tests-get-retrieves-a-contact-by-email.har", 2): _OCTOBER,
    ("contacts/Contacts-Integration-Tests-get-retrieves-a-contact-by-id.har", 2): _OCTOBER,
    ("contacts/Contacts-Integration-Tests-update-updates-a-contact.har", 3): _OCTOBER,
}


@pytest.fixture
def http(emulator: EmulatorServer) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {API_KEY}", "User-Agent": "resend-connector-replay"}
    with httpx.Client(base_url=emulator.url, headers=headers) as client:
        yield client


def replay(http: httpx.Client, exchange: Exchange, ids: IdMap) -> list[str]:
    path, body = ids.request(exchange)
    response = http.request(exchange.method, path, json=body)
    ours = response.json() if response.content else None
    recorded = answer_now(exchange)
    found = [] if response.status_code == exchange.status else [f"status {exchange.status} != {response.status_code}"]
    found += differences(recorded, ours, ids)
    ids.learn(recorded, ours)
    return found


def test_there_is_traffic_to_replay() -> None:
    # 45 recordings of contacts, segments and the legacy audience paths, 181 exchanges.
    assert len(recordings()) == 45
    assert sum(1 for r in recordings() for _ in exchanges(r)) == 181
    assert len(EXCEPTIONS) <= 6


@pytest.mark.parametrize("recording", recordings())
def test_the_emulator_answers_like_resend(recording: str, http: httpx.Client, inspector: EmulatorInspector) -> None:
    inspector.reset()
    ids = IdMap()
    unexpected, stale = [], []
    for exchange in exchanges(recording):
        found = replay(http, exchange, ids)
        if exchange.key in EXCEPTIONS:
            if not found:
                stale.append(f"#{exchange.index} {exchange.method} {exchange.path} matches now: drop its exception")
        elif found:
            unexpected.append(f"#{exchange.index} {exchange.method} {exchange.path}: {'; '.join(found)}")
    assert not unexpected, "\n".join(unexpected)
    assert not stale, "\n".join(stale)
