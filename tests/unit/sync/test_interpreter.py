"""The one interpreter (connector/sync/interpreter.py): a record's event parsed once and planned once
per state, a stale cache answered as a value, and the dry mode recording instead of calling."""

from __future__ import annotations

import json
from typing import Any

import pytest
import redis

from connector.dead_letters.sink import DeadLetterTopic
from connector.events import Event
from connector.kafka.records import InFlight
from connector.mapping import CreateContact, KnownState, LookupContact, Plan, UpdateContact
from connector.pipeline.lifecycle import Lifecycle
from connector.settings import DestinationSettings
from connector.sync import EventSync
from connector.sync import executor as executor_module
from connector.sync.context import EventContext
from connector.sync.interpreter import Stale
from tests.unit.fakes.kafka import RecordingDeadLetters
from tests.unit.fakes.pipeline import NoTransforms
from tests.unit.fakes.resend import FakeResend, identify


class JsonDecoder:
    def decode(self, value: bytes) -> dict[str, Any]:
        return dict(json.loads(value))


def record(offset: int, raw: dict[str, Any]) -> InFlight:
    return InFlight("events", 0, offset, None, json.dumps(raw).encode(), [], None)


def test_a_new_contacts_identify_is_parsed_once_and_its_decided_plan_made_once(
    sync: EventSync, resend: FakeResend, monkeypatch: pytest.MonkeyPatch
) -> None:
    parsed: list[Any] = []
    plans: list[Plan] = []
    from_dict, plan_event = Event.from_dict, executor_module.plan_event

    def counted_parse(raw: Any) -> Event:
        parsed.append(raw)
        return from_dict(raw)

    def counted_plan(event: Event, settings: DestinationSettings, state: KnownState) -> Plan:
        plans.append(plan := plan_event(event, settings, state))
        return plan

    monkeypatch.setattr(Event, "from_dict", counted_parse)
    monkeypatch.setattr(executor_module, "plan_event", counted_plan)
    lifecycle = Lifecycle(JsonDecoder(), NoTransforms(), sync, DeadLetterTopic(RecordingDeadLetters(), "dlq", "t"))
    ada = record(0, {"type": "identify", "userId": "u1", "traits": {"email": "ada@example.com", "plan": "pro"}})
    bob = record(1, {"type": "identify", "traits": {"email": "bob@example.com"}})
    # As the run loop takes them: decoded when consumed, offered to the decider, then a worker
    # reads its batch's contacts ahead and runs each record.
    for flight in (ada, bob):
        lifecycle.peek(flight)
    decide = lifecycle.decider()
    assert decide is not None
    assert decide(ada) is None  # both need Redis and Resend
    assert decide(bob) is None
    lifecycle.read_ahead([ada, bob])
    plans.clear()
    settled = lifecycle.run(ada)

    assert [r.outcome.value for r in settled.results] == ["applied"]
    assert "create_contact" in resend.calls
    assert len(parsed) == 2  # one parse per record, through the decider, the read ahead and the attempt
    # The attempt: the plan asking for the contact, then the decided plan, made once (the contact
    # lock taken before the POST finds Redis as the plan left it: nothing to plan again).
    assert LookupContact("ada@example.com") in plans[0].prerequisites
    decided = [p for p in plans if not p.prerequisites]
    assert len(decided) == 1
    assert isinstance(decided[0].commands[1], CreateContact)
    assert len(plans) == 2


def test_a_write_that_meets_a_stale_cache_answers_stale_and_the_event_is_planned_again(
    sync: EventSync, resend: FakeResend, redis_client: redis.Redis
) -> None:
    sync.handle(identify("ada@example.com", plan="pro"))
    del resend.contacts["ada@example.com"]  # deleted in Resend behind our back
    context = EventContext(resend)  # type: ignore[arg-type]
    update = UpdateContact("ada@example.com", properties=(("plan", "team"),), upsert=True)
    stale = sync.run((update,), context)
    assert isinstance(stale, Stale)  # a value, not an exception: the executor's loop plans again
    assert sync.store.contact("ada@example.com") is None  # what Redis believed is forgotten first
    assert sync.handle(identify("ada@example.com", plan="team")).status == "applied"
    assert resend.contacts["ada@example.com"].properties["plan"] == "team"


def test_the_dry_mode_records_what_would_be_called_and_calls_nothing(
    sync: EventSync, resend: FakeResend, redis_client: redis.Redis
) -> None:
    sync.handle(identify("ada@example.com", plan="pro"))
    resend.calls.clear()
    context = EventContext(resend, dry=True)  # type: ignore[arg-type]
    new = CreateContact("bob@example.com", properties=(("plan", "pro"),))
    unchanged = UpdateContact("ada@example.com", properties=(("plan", "pro"),))  # Resend holds it already
    changed = UpdateContact("ada@example.com", properties=(("plan", "team"),))
    assert sync.run((new, unchanged, changed), context) is None
    assert context.would == [new, changed]
    assert resend.calls == []
    assert sync.store.contact("bob@example.com") is None
