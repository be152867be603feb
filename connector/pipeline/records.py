"""What became of a record's events, and of an attempt at the record (the record itself is
connector/kafka/records.py's ``InFlight``)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, NamedTuple

from connector.errors import InvalidEventError
from connector.events import Event
from connector.mapping.email import direct_email, normalise_email
from connector.pipeline.fate import Fate, Outcome

__all__ = ["DROPPED", "AttemptResult", "EventResult", "letter_result"]

_REASON_CHARS = 300  # of a dead-lettered event's error, in its contact's outcome history


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
    # A dead-lettered record: the event it failed at (outcome DEAD_LETTERED, the error as its reason,
    # the contact's email when known), for that contact's outcome history; not counted with results.
    letter: EventResult | None = None


def letter_result(error: BaseException, event: Event | None, raw: Any) -> EventResult:
    """What a dead-lettered record's history entry says: the event it failed at (else what the decoded
    record names, when it failed before it became an event), the error as the reason, and the contact:
    the email the sync had resolved (``ConnectorError.contact``), else the one the event or record
    carries; None when none is known (then it joins no contact's history)."""
    reason = f"{type(error).__name__}: {error}"[:_REASON_CHARS]
    email = getattr(error, "contact", None)
    if event is not None:
        if email is None:
            with contextlib.suppress(InvalidEventError):
                email = direct_email(event)
        return EventResult(event.type, Outcome.DEAD_LETTERED, reason, 0, event.message_id, event.user_id, email)
    found = raw if isinstance(raw, dict) else {}
    traits, context = found.get("traits"), found.get("context")
    context_traits = context.get("traits") if isinstance(context, dict) else None
    for holder in (traits if found.get("type") != "group" else None, context_traits):
        if email is None and isinstance(holder, dict) and holder.get("email"):
            with contextlib.suppress(InvalidEventError):
                email = normalise_email(holder["email"])
    return EventResult(_text(found.get("type")) or "unknown", Outcome.DEAD_LETTERED, reason, 0,
                       _text(found.get("messageId")), _text(found.get("userId")), email)  # fmt: skip


def _text(value: Any) -> str | None:
    return value[:200] if isinstance(value, str) else None
