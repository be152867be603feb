"""The fakes the unit tests drive the run loop with match the seams (connector/kafka/seams.py) method by
method, signature by signature, as the real classes do: a fake cannot drift from the wrapper it stands
for while mypy (which checks the real classes against the seams where connector.app hands them over) looks away."""

from __future__ import annotations

import inspect
import typing
from typing import Any

import pytest

from connector.kafka.consumer import Consumer, DeadLetterSource
from connector.kafka.originals import OriginalSource
from connector.kafka.records import InFlight
from connector.kafka.seams import DeadLetterReader, EventsConsumer, OriginalReader
from tests.unit.fakes.kafka import FakeConsumer

Shape = tuple[list[tuple[str, Any, bool, Any]], Any]


def _members(seam: type) -> list[str]:
    """The methods a seam names (its own body, not ``Protocol``'s machinery)."""
    return sorted(name for name, value in vars(seam).items() if inspect.isfunction(value) and not name.startswith("_"))


def _shape(owner: type, name: str) -> Shape:
    """A method's parameters (name, kind, has a default, resolved type) after ``self``, and its return type."""
    function = getattr(owner, name)
    hints = typing.get_type_hints(function)
    parameters = list(inspect.signature(function).parameters.values())[1:]
    described = [(p.name, p.kind, p.default is not inspect.Parameter.empty, hints.get(p.name)) for p in parameters]
    return described, hints.get("return")


def mismatches(seam: type, candidate: type) -> list[str]:
    """What ``candidate`` lacks of ``seam``, or declares otherwise: empty when it satisfies it."""
    found = []
    for name in _members(seam):
        if not callable(getattr(candidate, name, None)):
            found.append(f"{candidate.__name__}.{name}: missing")
        elif (expected := _shape(seam, name)) != (actual := _shape(candidate, name)):
            found.append(f"{candidate.__name__}.{name}: {actual} instead of {expected}")
    return found


@pytest.mark.parametrize(
    ("seam", "candidate"),
    [
        (EventsConsumer, Consumer),
        (EventsConsumer, FakeConsumer),
        (DeadLetterReader, DeadLetterSource),
        (OriginalReader, OriginalSource),
    ],
)
def test_the_real_classes_and_the_fakes_satisfy_the_seams(seam: type, candidate: type) -> None:
    assert _members(seam)  # the check compares something
    assert mismatches(seam, candidate) == []


def test_the_event_consumer_seam_names_what_the_run_loop_calls() -> None:
    assert _members(EventsConsumer) == sorted(
        ["subscribe", "joining", "epoch", "owned", "poll", "hold", "release", "stop_fetching", "may_fetch",
         "stopped", "resume", "commit", "lag", "close"]
    )  # fmt: skip


def test_a_fake_that_drifts_from_the_seam_is_caught() -> None:
    class Drifted(FakeConsumer):
        def poll(self, idle_ms: int, max_records: int) -> list[InFlight]:  # type: ignore[override]
            return []

        def lag(self, positions: dict[Any, int | None]) -> dict[Any, int]:
            return {}

    del_hold = type("NoHold", (), {name: getattr(FakeConsumer, name) for name in _members(EventsConsumer)
                                   if name != "hold"})  # fmt: skip
    assert [line.split(":")[0] for line in mismatches(EventsConsumer, Drifted)] == ["Drifted.lag", "Drifted.poll"]
    assert mismatches(EventsConsumer, del_hold) == ["NoHold.hold: missing"]
