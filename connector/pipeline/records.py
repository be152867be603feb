"""A record on its way through the pipeline, and what became of its events."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from connector.errors import DecodeError
from connector.pipeline.fate import Fate, Outcome

__all__ = ["DROPPED", "EventResult", "InFlight", "Settled"]


@dataclass(slots=True, eq=False)
class InFlight:
    """One consumed record, from the poll that fetched it until it is settled.

    ``decoded`` is the value as decoded when the record was consumed (for ordering it by identity,
    see ordering.py), used by its first attempt so that a record is decoded once; None when it did
    not decode then (its own attempt reports why). ``epoch`` names the assignment it came with."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes | None]]
    timestamp_ms: int | None
    # What the consumer knows as it polls, in the order it passes them (positionally: one record each).
    partition_key: Hashable = None  # the TopicPartition (ordering and bookkeeping)
    polled_at: float = 0.0
    epoch: int = 0
    fault: DecodeError | None = None  # known unusable before it runs (connector/kafka/workarounds.py): dead-lettered
    decoded: Any = None
    identities: tuple[str, ...] = ()
    joins: tuple[str, ...] = ()  # an alias's ids, one person from this record on (ordering.py)
    attempts: int = 0  # attempts that ended in a retry or a pause
    internal_failures: int = 0  # attempts that met an unexpected exception (a bug)
    blocked: int = field(default=0, repr=False)  # IdentityScheduler's bookkeeping


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
class Settled:
    """The end of one attempt: the record's fate, its events' results, or the error that decided."""

    fate: Fate
    results: tuple[EventResult, ...] = ()
    error: BaseException | None = None
