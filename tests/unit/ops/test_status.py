"""status against fakeredis, filled through the state store's own API."""

from __future__ import annotations

import argparse
import io
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import fakeredis
import pytest

from connector.ops import StatusQuery, run_status
from connector.state import StateStore
from tests.unit.fakes.producer import settings


@pytest.fixture
def store() -> StateStore:
    return StateStore(fakeredis.FakeRedis(decode_responses=True), prefix="t:", user_ttl_seconds=60,
                      refused_ttl_seconds=60)  # fmt: skip


def status(store: StateStore, email: str) -> tuple[int, str]:
    return query(store, StatusQuery(emails=(email,)))


def query(store: StateStore, what: StatusQuery, *, as_json: bool = False) -> tuple[int, str]:
    out = io.StringIO()
    return run_status(settings(), what, out, as_json=as_json, redis_client=store.client), out.getvalue()


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


def test_several_contacts_at_once_in_json(store: StateStore) -> None:
    store.record_sync("ada@example.com", "synced")
    store.record_sync("bo@example.com", "failed", "ResendRejected: 422 validation_error")
    code, text = query(store, StatusQuery(emails=("ada@example.com", "BO@example.com", "x")), as_json=True)
    body = json.loads(text)
    assert code == 1  # one of the named emails is invalid
    assert [(c["email"], c["last_outcome"]) for c in body["contacts"]] == [
        ("ada@example.com", "synced"),
        ("bo@example.com", "failed"),
    ]
    assert body["contacts"][1]["last_error"] == "ResendRejected: 422 validation_error"
    assert body["invalid"] == ["x: email is not a valid address: An email address must have an @-sign."]


def test_failed_lists_contacts_whose_last_event_failed_until_they_sync(store: StateStore) -> None:
    store.record_sync("ada@example.com", "failed", "ResendRejected: 422")
    store.record_sync("bo@example.com", "failed", "ResendRejected: 422")
    store.record_sync("cy@example.com", "synced")
    store.remember_contact("bo@example.com", None, None, synced=True)  # bo's next event went through
    code, text = query(store, StatusQuery(failed=True), as_json=True)
    assert code == 0
    assert [c["email"] for c in json.loads(text)["contacts"]] == ["ada@example.com"]


def test_since_lists_contacts_with_a_sync_record_from_that_time(store: StateStore) -> None:
    store.record_sync("old@example.com", "synced")
    store.client.zadd("t:index:synced", {"old@example.com": time.time() - 7200})  # as if two hours ago
    store.record_sync("new@example.com", "pending", "RateLimited: 429")
    since = datetime.now(UTC) - timedelta(hours=1)
    code, text = query(store, StatusQuery(since=since))
    assert code == 0
    assert "email:             new@example.com" in text
    assert "old@example.com" not in text


def test_erasure_leaves_no_trace_in_the_indexes(store: StateStore) -> None:
    store.record_sync("gone@example.com", "failed", "ResendRejected: 422")
    store.forget_contact("gone@example.com")
    assert store.client.zrange("t:index:synced", 0, -1) == []
    assert store.client.zrange("t:index:failed", 0, -1) == []


def test_a_file_of_emails(store: StateStore, tmp_path: Path) -> None:
    store.record_sync("ada@example.com", "synced")
    path = tmp_path / "emails.txt"
    path.write_text("# who complained\nada@example.com\n\nnobody@example.com\n")
    args = argparse.Namespace(emails=[], file=path, failed=False, since=None, limit=10)
    code, text = query(store, StatusQuery.from_args(args))
    assert code == 1  # nobody@ is unknown
    assert text.count("email:") == 2
