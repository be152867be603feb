"""The console's "Sync again" as the pipeline sees it (issue #26): a dead-lettered event joins its
contact's outcome history, so Sync again finds it; and a copy produced to the events topic again is
judged at the place it names (pipeline/places.py), so it undoes no newer opt-out or erasure. The real
lifecycle and EventSync on fakeredis and the fake Resend."""

from __future__ import annotations

import json
from typing import Any

import pytest
import redis

from connector.errors import PermanentError, ResendRejected
from connector.events import Event
from connector.kafka.records import InFlight
from connector.mapping.express import Position, express_action
from connector.pipeline.fate import Fate, Outcome
from connector.pipeline.lifecycle import Lifecycle
from connector.pipeline.metrics import Metrics
from connector.pipeline.places import SYNC_AGAIN_OF, judged_at, sync_again_header
from connector.pipeline.records import letter_result
from connector.pipeline.tally import Tally
from connector.sync import EventSync
from tests.unit.fakes.pipeline import NoTransforms
from tests.unit.fakes.resend import FakeResend, make_sync

ADA = "ada@example.com"


class JsonDecoder:
    def decode(self, value: bytes) -> dict[str, Any]:
        return dict(json.loads(value))


class Letters:
    def __init__(self) -> None:
        self.written: list[tuple[InFlight, BaseException]] = []

    def dead_letter(self, record: InFlight, error: BaseException) -> None:
        self.written.append((record, error))


class History:
    def __init__(self) -> None:
        self.added: list[tuple[Any, ...]] = []

    def add(self, *row: Any) -> None:
        self.added.append(row)


def record(raw: dict[str, Any], offset: int, timestamp_ms: int, headers: list[Any] | None = None) -> InFlight:
    return InFlight("events", 0, offset, b"u", json.dumps(raw).encode(), headers or [], timestamp_ms)


def run(sync: EventSync, item: InFlight, letters: Letters | None = None) -> Any:
    return Lifecycle(JsonDecoder(), NoTransforms(), sync, letters or Letters(), express_topic="events").run(item)


def express(sync: EventSync, raw: dict[str, Any], at: Position) -> None:
    event = Event.from_dict(raw)
    action = express_action(event, sync._settings)
    assert action is not None
    assert sync.express.act(event, action, at, lambda part: sync.handle(part).status) == "applied"


# -- the place a copy names ------------------------------------------------------------------------


def test_a_copy_is_judged_at_the_older_place_it_names() -> None:
    name, value = sync_again_header(Position(0, 5, 5_000))
    assert (name, value) == (SYNC_AGAIN_OF, b"0:5:5000")
    assert judged_at(0, 20, 20_000, [("x", b"1"), (name, value)]) == Position(0, 5, 5_000)
    assert judged_at(0, 20, 20_000, []) == Position(0, 20, 20_000)
    assert judged_at(0, 20, None, [(name, value)]) == Position(0, 5, 5_000)
    assert judged_at(0, 20, 20_000, [(name, b"0:5:-1")]) == Position(0, 5, 20_000)


@pytest.mark.parametrize(
    "forged",
    [b"0:99:99000", b"0:20:1", b"3:5:5000", b"0:-1:5000", b"five", b"0:5", None, "0:5:5000".encode("utf-16")],
)
def test_a_header_that_would_make_its_event_newer_or_says_nothing_is_ignored(forged: bytes | None) -> None:
    # Any producer can set the header: it is honoured only where it makes the event older.
    assert judged_at(0, 20, 20_000, [(SYNC_AGAIN_OF, forged)]) == Position(0, 20, 20_000)


def test_a_named_timestamp_later_than_the_records_own_is_not_taken() -> None:
    assert judged_at(0, 20, 20_000, [(SYNC_AGAIN_OF, b"0:5:90000")]) == Position(0, 5, 20_000)


# -- the main path judges a copy there -------------------------------------------------------------


def test_a_copy_of_an_older_resubscribe_keeps_a_newer_express_opt_out(
    resend: FakeResend, redis_client: redis.Redis
) -> None:
    sync = make_sync(resend, redis_client, allow_resubscribe=True)
    resubscribe = {"type": "identify", "traits": {"email": ADA, "unsubscribed": False, "plan": "pro"}}
    assert run(sync, record(resubscribe, 5, 5_000)).fate is Fate.DONE
    express(sync, {"type": "identify", "traits": {"email": ADA, "unsubscribed": True}}, Position(0, 9, 9_000))
    assert resend.contacts[ADA].unsubscribed is True

    copy = record(resubscribe, 20, 20_000, [sync_again_header(Position(0, 5, 5_000))])
    assert run(sync, copy).fate is Fate.DONE
    assert (resend.contacts[ADA].unsubscribed, resend.contacts[ADA].properties["plan"]) == (True, "pro")

    forged = record(resubscribe, 7, 7_000, [(SYNC_AGAIN_OF, b"0:30:30000")])  # claims to be newer: ignored
    run(sync, forged)
    assert resend.contacts[ADA].unsubscribed is True
    run(sync, record(resubscribe, 21, 21_000))  # a copy that names nothing is a new event (what it was before)
    assert resend.contacts[ADA].unsubscribed is False


def test_a_copy_of_an_event_older_than_an_erasure_does_not_recreate_the_contact(
    resend: FakeResend, redis_client: redis.Redis
) -> None:
    sync = make_sync(resend, redis_client, delete_event_names=["Contact Deleted"])
    sign_up = {"type": "identify", "userId": "u", "traits": {"email": ADA}}
    run(sync, record(sign_up, 4, 4_000))
    express(sync, {"type": "track", "userId": "u", "event": "Contact Deleted"}, Position(0, 9, 9_000))
    assert ADA not in resend.contacts

    attempt = run(sync, record(sign_up, 20, 20_000, [sync_again_header(Position(0, 4, 4_000))]))
    assert [(r.outcome, r.reason) for r in attempt.results] == [(Outcome.SKIPPED, "erased_later")]
    assert ADA not in resend.contacts


# -- a dead-lettered event joins its contact's history -----------------------------------------------


def test_a_dead_lettered_event_is_entered_in_its_contacts_history_with_the_error(
    resend: FakeResend, redis_client: redis.Redis
) -> None:
    sync = make_sync(resend, redis_client)
    resend.fail_next("create_contact", ResendRejected("seats must be a number", status=422, name="validation_error"))
    letters, history = Letters(), History()
    item = record({"type": "identify", "messageId": "m-4", "userId": "u-ada", "traits": {"email": ADA}}, 8, 8_000)
    attempt = run(sync, item, letters)
    assert attempt.fate is Fate.DEAD_LETTERED
    assert len(letters.written) == 1
    Tally(Metrics(), history=history).finished(item, attempt, now=1.0)  # type: ignore[arg-type]
    assert history.added == [(ADA, "identify", "dead_lettered", "ResendRejected: seats must be a number", "m-4",
                              "events", 0, 8, 0, ())]  # fmt: skip


def test_the_contact_of_a_dead_lettered_event_is_the_one_the_sync_resolved(
    resend: FakeResend, redis_client: redis.Redis
) -> None:
    sync = make_sync(resend, redis_client, resolve_email_from_user_id=True)
    run(sync, record({"type": "identify", "userId": "u-ada", "traits": {"email": ADA}}, 1, 1_000))
    resend.fail_next("update_contact", ResendRejected("plan is not defined", status=422, name="validation_error"))
    track = {"type": "identify", "messageId": "m-5", "userId": "u-ada", "traits": {"plan": "pro"}}  # no email
    attempt = run(sync, record(track, 2, 2_000))
    assert attempt.fate is Fate.DEAD_LETTERED
    assert attempt.letter is not None
    assert (attempt.letter.email, attempt.letter.message_id) == (ADA, "m-5")


def test_a_record_that_fails_before_it_is_an_event_names_the_email_it_carries() -> None:
    raw = {"type": "identify", "messageId": "m-6", "userId": "u", "context": {"traits": {"email": " Ada@Example.com"}}}
    letter = letter_result(PermanentError("gate closed"), None, raw)
    assert (letter.type, letter.outcome, letter.email, letter.reason) == (
        "identify", Outcome.DEAD_LETTERED, ADA, "PermanentError: gate closed")  # fmt: skip
    assert letter_result(PermanentError("x"), None, {"traits": {"email": "not-an-email"}}).email is None
    assert letter_result(PermanentError("x"), None, None).email is None  # did not decode
    group = {"type": "group", "traits": {"email": "company@example.com"}}  # a group's traits are the company's
    assert letter_result(PermanentError("x"), None, group).email is None
