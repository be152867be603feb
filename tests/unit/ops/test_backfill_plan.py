"""A person's rows fold into one planned contact, as their identify events would leave it (#24)."""

from __future__ import annotations

from typing import Any

import fakeredis
import pytest

from connector.ops.backfill_plan import ContactPlanner
from connector.ops.rows import ContactRow
from connector.settings import DestinationSettings, load_settings
from connector.state import StateStore
from connector.sync import EventSync
from tests.unit.fakes.resend import FakeResend


def _sync(resend: FakeResend, **destination: Any) -> tuple[EventSync, DestinationSettings]:
    store = StateStore(fakeredis.FakeRedis(decode_responses=True), prefix="t:", user_ttl_seconds=60,
                       refused_ttl_seconds=60, fields_ttl_seconds=60)  # fmt: skip
    settings = load_settings(resend={"base_url": "http://127.0.0.1:9"}, destination=destination)
    return EventSync(settings, resend, store), settings.destination  # type: ignore[arg-type]


def _planner(resend: FakeResend, **destination: Any) -> ContactPlanner:
    sync, settings = _sync(resend, **destination)
    return ContactPlanner(settings, sync, resend)  # type: ignore[arg-type]


def _row(line: int, user_id: str | None = None, **traits: Any) -> ContactRow:
    return ContactRow(line, "a@x.io", user_id, {"email": "a@x.io", **traits})


def test_a_row_that_cannot_be_planned_is_reported_and_the_other_rows_still_fold() -> None:
    resend = FakeResend()
    rows = [_row(1, "u1", firstName="A", plan="pro", resendAudiences="Customers"),
            _row(2, resendTopics=5),  # its identify would be dead-lettered
            _row(3, "u2", lastName="B", resendAudiences="")]  # fmt: skip
    planned, failures = _planner(resend).plan(rows)
    assert [(row.line, "resendTopics" in reason) for row, reason in failures] == [(2, True)]
    (person,) = planned
    assert [row.line for row in person.rows] == [1, 3]
    create = person.create
    assert (create.first_name, create.last_name, create.segment_ids) == ("A", "B", ())  # "" clears what it manages
    assert dict(create.properties) == {"plan": "pro", "cdp_user_id": "u2", "cdp_managed_audiences": "[]"}
    assert person.user_ids == ("u1", "u2")


def test_a_row_without_a_segment_set_keeps_the_earlier_one_and_destination_audiences_apply_to_each() -> None:
    resend = FakeResend()
    planned, _ = _planner(resend).plan([_row(1, resendAudiences="Beta"), _row(2, plan="free")])
    (person,) = planned
    beta = next(i for i, name in resend.segments.items() if name == "Beta")
    assert person.create.segment_ids == (beta,)
    other = FakeResend()
    planned, _ = _planner(other, audiences=["News"]).plan([_row(1, resendAudiences="Beta"), _row(2)])
    create = planned[0].create
    # The second row wants News only (the settings' default): Beta, which the first row added, goes.
    assert [other.segments[s] for s in create.segment_ids] == ["News"]
    assert dict(create.properties)["cdp_managed_audiences"] == f"[{create.segment_ids[0]}]"


def test_the_prerequisites_are_carried_out_by_the_event_paths_interpreter(monkeypatch: pytest.MonkeyPatch) -> None:
    """One place turns a command into Resend calls (#23, point 4): the backfill defines what its rows
    need through the interpreter of the event path, not a dispatch of its own."""
    resend = FakeResend()
    sync, settings = _sync(resend)
    carried: list[Any] = []
    step = sync.interpreter.step

    def recording(command: Any, state: Any, context: Any) -> Any:
        carried.append(command)
        return step(command, state, context)

    monkeypatch.setattr(sync.interpreter, "step", recording)
    rows = [_row(1, plan="pro", resendAudiences="Customers", resendTopics="News")]
    planned, failures = ContactPlanner(settings, sync, resend).plan(rows)  # type: ignore[arg-type]
    assert failures == []
    assert len(planned) == 1
    assert {type(c).__name__: getattr(c, "name", getattr(c, "key", None)) for c in carried} == {
        "DefineProperty": "plan", "EnsureSegment": "Customers", "EnsureTopic": "News"}  # fmt: skip
    assert planned[0].topics == ((next(iter(resend.topics)), "opt_in"),)
