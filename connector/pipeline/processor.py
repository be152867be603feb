"""One record's way through the stages: decode, transform, validate, sync.

The processor knows nothing about Kafka offsets or retries: it returns what became of each event
the record produced, or raises the error class that decides the record's fate (connector.errors).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from connector.errors import DecodeError, SkipEvent
from connector.events import Event

__all__ = ["EventResult", "RecordProcessor"]


class _Decoder(Protocol):
    def decode(self, value: bytes) -> dict[str, Any]: ...


class _Transforms(Protocol):
    def apply(self, event: dict[str, Any]) -> list[dict[str, Any]]: ...


class _Sync(Protocol):
    def handle(self, event: Event) -> Any: ...

    def plan(self, event: Event) -> Sequence[Any]: ...


@dataclass(frozen=True, slots=True)
class EventResult:
    type: str
    status: str  # "applied" | "skipped"
    reason: str = ""


class RecordProcessor:
    def __init__(self, decoder: _Decoder, transforms: _Transforms, sync: _Sync) -> None:
        self._decoder = decoder
        self._transforms = transforms
        self._sync = sync

    def events(self, value: bytes | None) -> list[Event]:
        if value is None:
            raise DecodeError("record has no value (tombstone)")
        return [Event.from_dict(raw) for raw in self._transforms.apply(self._decoder.decode(value))]

    def process(self, value: bytes | None) -> list[EventResult]:
        results: list[EventResult] = []
        for event in self.events(value):
            try:
                outcome = self._sync.handle(event)
            except SkipEvent as skip:
                results.append(EventResult(event.type, "skipped", skip.reason))
                continue
            results.append(EventResult(event.type, outcome.status, outcome.reason))
        if not results:
            results.append(EventResult("none", "skipped", "dropped_by_transform"))
        return results

    def plan(self, value: bytes | None) -> list[Any]:
        """The commands the record would cause (dry run: reads Redis, writes nothing)."""
        return [command for event in self.events(value) for command in self._sync.plan(event)]
