"""What became of a record's events, and of an attempt at the record (the record itself is
connector/kafka/records.py's ``InFlight``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from connector.pipeline.fate import Fate, Outcome

__all__ = ["DROPPED", "AttemptResult", "EventResult"]


class EventResult(NamedTuple):
    """What became of one event, with what its outcome log line needs (tally.py). A named tuple:
    one is made for every event, and a tuple is made in a fraction of a frozen dataclass's time."""

    type: str
    outcome: Outcome
    reason: str = ""
    calls: int = 0  # Resend calls the event cost
    message_id: str | None = None
    user_id: str | None = None
    email: str | None = None  # the contact's email as resolved (unmasked: the log line masks it)
    commands: tuple[Any, ...] = ()  # what was planned for it (the console's outcome history)


DROPPED = EventResult("none", Outcome.SKIPPED, "dropped_by_transform")


@dataclass(slots=True)
class AttemptResult:
    """The end of one attempt: the record's fate, its events' results, or the error that decided."""

    fate: Fate
    results: tuple[EventResult, ...] = ()
    error: BaseException | None = None
