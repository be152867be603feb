"""Backfill against a fake producer and fakeredis: checkpoints, resuming, interruptions, failures."""

from __future__ import annotations

import io
from pathlib import Path

import fakeredis
import pytest

from connector.errors import RetryableError
from connector.ops import backfill
from connector.ops.backfill import EXIT_INTERRUPTED, identify_file, run_backfill
from tests.unit.fakes.producer import FakeProducer, settings


@pytest.fixture
def store() -> fakeredis.FakeRedis:
    return fakeredis.FakeRedis(decode_responses=True)


@pytest.fixture
def contacts(tmp_path: Path) -> Path:
    path = tmp_path / "contacts.csv"
    rows = [f"c{i}@example.com,C {i}" for i in range(10)]
    rows.insert(4, "broken,No Email")  # line 6
    path.write_text("email,name\n" + "\n".join(rows) + "\n")
    return path


def run(path: Path, producer: FakeProducer, store: fakeredis.FakeRedis, out: io.StringIO | None = None) -> int:
    return run_backfill(settings(), path, fmt=None, progress=False, out=out or io.StringIO(), producer=producer,
                        redis_client=store)  # fmt: skip


def checkpoint_line(store: fakeredis.FakeRedis, path: Path) -> int:
    return int(store.hget(f"t:backfill:{identify_file(path).digest}", "line") or 0)


def test_every_valid_row_is_produced_once_keyed_by_email(contacts: Path, store: fakeredis.FakeRedis) -> None:
    producer, out = FakeProducer(), io.StringIO()
    assert run(contacts, producer, store, out) == 0
    digest = identify_file(contacts).digest
    assert [key for _, key, _ in producer.topic] == [f"c{i}@example.com".encode() for i in range(10)]
    first = {
        "type": "identify",
        "messageId": f"backfill-{digest}-2",
        "traits": {"email": "c0@example.com", "name": "C 0"},
    }
    assert producer.topic[0] == ("cdp-events", b"c0@example.com", first)
    assert "line 6: skipped: email is not a valid address" in out.getvalue()
    assert out.getvalue().endswith("backfill contacts.csv: 10 produced, 0 already done, 1 bad rows\n")
    assert checkpoint_line(store, contacts) == 12
    assert producer.closed


def test_a_rerun_of_a_finished_file_produces_nothing(contacts: Path, store: fakeredis.FakeRedis) -> None:
    run(contacts, FakeProducer(), store)
    again, out = FakeProducer(), io.StringIO()
    assert run(contacts, again, store, out) == 0
    assert again.topic == []
    assert "0 produced, 11 already done, 0 bad rows" in out.getvalue()


def test_a_copy_of_the_file_elsewhere_resumes_the_same_backfill(
    contacts: Path, store: fakeredis.FakeRedis, tmp_path: Path
) -> None:
    run(contacts, FakeProducer(), store)
    copy = tmp_path / "moved.csv"
    copy.write_bytes(contacts.read_bytes())
    again = FakeProducer()
    run(copy, again, store)
    assert again.topic == []


@pytest.mark.parametrize("by_sigterm", [False, True], ids=["ctrl-c", "sigterm"])
def test_an_interrupted_run_resumes_without_duplicates(
    contacts: Path, store: fakeredis.FakeRedis, monkeypatch: pytest.MonkeyPatch, by_sigterm: bool
) -> None:
    monkeypatch.setattr(backfill, "_BATCH", 3)
    first, out = FakeProducer(stop_after=7, by_sigterm=by_sigterm), io.StringIO()
    assert run(contacts, first, store, out) == EXIT_INTERRUPTED
    assert len(first.topic) == 7
    # The 7th sent row is line 9 (line 6 is the bad one): acknowledged, so checkpointed though
    # its batch of 3 was not complete.
    assert checkpoint_line(store, contacts) == 9
    assert "7 produced, 0 already done, 1 bad rows; interrupted, run again to resume" in out.getvalue()
    second, out = FakeProducer(), io.StringIO()
    assert run(contacts, second, store, out) == 0
    assert "3 produced, 8 already done, 0 bad rows" in out.getvalue()
    ids = first.message_ids() + second.message_ids()
    assert len(ids) == len(set(ids)) == 10


def test_a_record_kafka_did_not_acknowledge_is_sent_again_on_the_rerun(
    contacts: Path, store: fakeredis.FakeRedis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(backfill, "_BATCH", 4)
    failing, out = FakeProducer(fail_emails={"c5@example.com"}), io.StringIO()  # line 8, second batch
    with pytest.raises(RetryableError, match="line 8"):
        run(contacts, failing, store, out)
    assert checkpoint_line(store, contacts) == 7
    assert "stopped, run again to resume" in out.getvalue()
    again = FakeProducer()
    assert run(contacts, again, store) == 0
    # c6 and c7 were acknowledged after c5 failed: checkpointed too, so not sent again.
    assert [event["traits"]["email"] for _, _, event in again.topic] == [f"c{i}@example.com" for i in (5, 8, 9)]
    ids = failing.message_ids() + again.message_ids()
    assert len(ids) == len(set(ids)) == 10


def test_a_second_run_on_the_same_file_waits_for_the_first(contacts: Path, store: fakeredis.FakeRedis) -> None:
    store.set(f"t:backfill:{identify_file(contacts).digest}:lease", "someone-else", px=60_000)
    producer, out = FakeProducer(), io.StringIO()
    assert run(contacts, producer, store, out) == 1
    assert "another backfill of this file is running" in out.getvalue()
    assert producer.topic == []


def test_the_lease_is_released_when_the_run_ends(contacts: Path, store: fakeredis.FakeRedis) -> None:
    run(contacts, FakeProducer(), store)
    assert store.keys("t:backfill:*:lease") == []
