"""``replay`` consults the express register (issue #25): a replayed dead letter older than an opt-out or
an erasure of its person undoes neither; one newer applies normally. The real EventSync on fakeredis
and the fake Resend, the real lifecycle, the replay's own code from one record on."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import redis

from connector.dead_letters.format import FailureContext, dead_letter_for
from connector.dead_letters.replay import _Replay
from connector.errors import PermanentError
from connector.events import Event
from connector.mapping.express import Position, express_action
from connector.pipeline.lifecycle import LetterBox, Lifecycle
from connector.pipeline.places import sync_again_header
from connector.settings import Settings, load_settings
from connector.sync import EventSync
from tests.unit.fakes.kafka import RecordingDeadLetters
from tests.unit.fakes.pipeline import NoTransforms
from tests.unit.fakes.resend import FakeResend, make_sync

ADA = "ada@example.com"


class JsonDecoder:
    def decode(self, value: bytes) -> dict[str, Any]:
        return dict(json.loads(value))


class NoOriginals:
    def read(self, origin: Any) -> None:
        return None


@dataclass
class Parts:
    sync: EventSync
    redis: redis.Redis
    added: list[tuple[Any, ...]] = field(default_factory=list)
    dead_letters: RecordingDeadLetters = field(default_factory=RecordingDeadLetters)

    def lifecycle(self, letters: LetterBox) -> Lifecycle:
        return Lifecycle(JsonDecoder(), NoTransforms(), self.sync, letters)

    def original_source(self) -> NoOriginals:
        return NoOriginals()

    @property
    def history(self) -> Parts:
        return self

    def add(self, *row: Any) -> None:
        self.added.append(row)


@dataclass
class Letter:
    """A record of the dead-letter topic as the consumer hands it out."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp: int | None
    headers: list[tuple[str, bytes]]


def letter(
    raw: dict[str, Any], partition: int, offset: int, timestamp_ms: int, headers: list[tuple[str, bytes]] | None = None
) -> Letter:
    """The dead letter of the events topic's record at (partition, offset), with the record's headers."""
    where = FailureContext("events", partition, offset)
    written = dead_letter_for(key=None, value=json.dumps(raw).encode(), headers=headers or [],
                              timestamp_ms=timestamp_ms, error=PermanentError("422"), context=where,
                              connector_name="test")  # fmt: skip
    return Letter("events-dlq", 0, 77, written.key, written.value, written.timestamp_ms, written.headers)


def replay(settings: Settings, parts: Parts, record: Letter) -> None:
    assert _Replay(settings, parts, None, dry_run=False).one(record, record.headers)  # type: ignore[arg-type]


def express(sync: EventSync, raw: dict[str, Any], at: Position) -> None:
    event = Event.from_dict(raw)
    action = express_action(event, sync._settings)
    assert action is not None
    assert sync.express.act(event, action, at, lambda part: sync.handle(part).status) == "applied"


SETTINGS = load_settings(resend={"api_key": "re_test"}, kafka={"topic": "events"})


def test_a_replayed_resubscribe_older_than_the_opt_out_keeps_the_person_unsubscribed(
    resend: FakeResend, redis_client: redis.Redis
) -> None:
    sync = make_sync(resend, redis_client, allow_resubscribe=True)
    parts = Parts(sync, redis_client)
    sync.handle(Event.from_dict({"type": "identify", "traits": {"email": ADA}}), at=Position(0, 0, 1_000))
    express(sync, {"type": "identify", "traits": {"email": ADA, "unsubscribed": True}}, Position(0, 9, 9_000))
    assert resend.contacts[ADA].unsubscribed is True

    older = {"type": "identify", "traits": {"email": ADA, "unsubscribed": False, "plan": "pro"}}
    replay(SETTINGS, parts, letter(older, 0, 5, 5_000))
    assert (resend.contacts[ADA].unsubscribed, resend.contacts[ADA].properties["plan"]) == (True, "pro")
    replay(SETTINGS, parts, letter(older, 3, 5, 8_000))  # another partition, an older timestamp
    assert resend.contacts[ADA].unsubscribed is True

    replay(SETTINGS, parts, letter(older, 0, 12, 12_000))  # newer than the opt-out: applies normally
    assert resend.contacts[ADA].unsubscribed is False


def test_a_replayed_event_older_than_an_erasure_does_not_recreate_the_contact(
    resend: FakeResend, redis_client: redis.Redis
) -> None:
    sync = make_sync(resend, redis_client, delete_event_names=["Contact Deleted"])
    parts = Parts(sync, redis_client)
    sync.handle(Event.from_dict({"type": "identify", "userId": "u", "traits": {"email": ADA}}), at=Position(0, 0, 1))
    express(sync, {"type": "track", "userId": "u", "event": "Contact Deleted"}, Position(0, 9, 9_000))
    assert ADA not in resend.contacts

    replay(SETTINGS, parts, letter({"type": "identify", "userId": "u", "traits": {"email": ADA}}, 0, 4, 4_000))
    assert ADA not in resend.contacts
    assert [row[2:4] for row in parts.added] == [("skipped", "erased_later")]


def test_without_the_express_path_replay_reads_no_register(resend: FakeResend, redis_client: redis.Redis) -> None:
    sync = make_sync(resend, redis_client, allow_resubscribe=True)
    parts = Parts(sync, redis_client)
    sync.handle(Event.from_dict({"type": "identify", "traits": {"email": ADA}}), at=Position(0, 0, 1_000))
    express(sync, {"type": "identify", "traits": {"email": ADA, "unsubscribed": True}}, Position(0, 9, 9_000))
    off = load_settings(resend={"api_key": "re_test"}, kafka={"topic": "events", "express": False})
    replay(off, parts, letter({"type": "identify", "traits": {"email": ADA, "unsubscribed": False}}, 0, 5, 5_000))
    assert resend.contacts[ADA].unsubscribed is False


def test_a_dead_lettered_sync_again_copy_is_replayed_at_the_originals_place(
    resend: FakeResend, redis_client: redis.Redis
) -> None:
    # The console's Sync again (issue #26) produced a copy at offset 20 naming the original at 5; the
    # copy failed and was dead-lettered: its replay is judged at 5, older than the opt-out at 9.
    sync = make_sync(resend, redis_client, allow_resubscribe=True)
    parts = Parts(sync, redis_client)
    sync.handle(Event.from_dict({"type": "identify", "traits": {"email": ADA}}), at=Position(0, 0, 1_000))
    express(sync, {"type": "identify", "traits": {"email": ADA, "unsubscribed": True}}, Position(0, 9, 9_000))
    resubscribe = {"type": "identify", "traits": {"email": ADA, "unsubscribed": False}}
    replay(SETTINGS, parts, letter(resubscribe, 0, 20, 20_000, [sync_again_header(Position(0, 5, 5_000))]))
    assert resend.contacts[ADA].unsubscribed is True
    replay(SETTINGS, parts, letter(resubscribe, 0, 21, 21_000))  # a copy that names nothing: newer, applies
    assert resend.contacts[ADA].unsubscribed is False
