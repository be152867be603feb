"""status against fakeredis, filled through the state store's own API."""

from __future__ import annotations

import io

import fakeredis
import pytest

from connector.ops import run_status
from connector.state import StateStore
from tests.unit.ops.fakes import settings


@pytest.fixture
def store() -> StateStore:
    return StateStore(fakeredis.FakeRedis(decode_responses=True), prefix="t:", user_ttl_seconds=60,
                      refused_ttl_seconds=60)  # fmt: skip


def status(store: StateStore, email: str) -> tuple[int, str]:
    out = io.StringIO()
    return run_status(settings(), email, out, redis_client=store.client), out.getvalue()


def test_a_synced_contact_shows_its_record_segment_names_and_user_ids(store: StateStore) -> None:
    store.remember_segments({"VIP": "seg-1", "Trial": "seg-2"})
    store.remember_contact("ada@example.com", frozenset({"seg-1", "seg-9"}), None, synced=True)
    store.remember_users([("u-7", "ada@example.com")])
    store.remember_users([("u-8", "ada@example.com")])
    code, text = status(store, "  ADA@example.com ")
    assert code == 0
    lines = dict(line.split(":", 1) for line in text.splitlines())
    assert {k: v.strip() for k, v in lines.items() if k != "last sync"} == {
        "email": "ada@example.com",
        "known contact": "yes",
        "last outcome": "synced",
        "last error": "none",
        "managed segments": "VIP, seg-9",  # an id whose name is not cached shows as the id
        "userIds": "u-7, u-8",
    }
    assert lines["last sync"].strip().startswith("20")


def test_a_failed_sync_shows_its_error(store: StateStore) -> None:
    store.record_sync("bo@example.com", "failed", "ResendRejected: 422 validation_error")
    code, text = status(store, "bo@example.com")
    assert code == 0
    assert "known contact:     no" in text
    assert "last outcome:      failed" in text
    assert "last error:        ResendRejected: 422 validation_error" in text


def test_nothing_known_exits_1(store: StateStore) -> None:
    code, text = status(store, "nobody@example.com")
    assert code == 1
    assert "known contact:     no" in text
    assert "last sync:         never" in text


def test_an_invalid_email_says_so_and_exits_1(store: StateStore) -> None:
    code, text = status(store, "not an email")
    assert code == 1
    assert text == "status: email is not a valid address: An email address must have an @-sign.\n"
