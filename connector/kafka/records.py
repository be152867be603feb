"""The record the seam hands out: one consumed record, from the poll that fetched it until it is
settled (``InFlight``). A plain type with no behaviour, here so that the Kafka package needs nothing of
the pipeline that carries the record on (the pipeline and the dead letters import it from here)."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

from connector.errors import DecodeError

__all__ = ["InFlight"]


@dataclass(slots=True, eq=False)
class InFlight:
    """One consumed record, from the poll that fetched it until it is settled.

    ``decoded`` is the value as decoded when the record was consumed (for ordering it by identity,
    see ordering.py), used by its first attempt so that a record is decoded once; None when it did
    not decode then (its own attempt reports why). ``event`` is that decoding validated into an Event
    by the first step that needed it, likewise used by the attempt. ``epoch`` names the assignment it
    came with."""

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
    event: Any = None  # the decoding as an Event, parsed once (when no transformations run; see Lifecycle)
    identities: tuple[str, ...] = ()
    joins: tuple[str, ...] = ()  # an alias's ids, one person from this record on (ordering.py)
    attempts: int = 0  # attempts that ended in a retry or a pause
    internal_failures: int = 0  # attempts that met an unexpected exception (a bug)
    blocked: int = field(default=0, repr=False)  # IdentityScheduler's bookkeeping
