"""One record's way through the stages: decode, transform, validate, sync.

The processor knows nothing about Kafka offsets or retries: it returns what became of each event
the record produced, or raises the error class that decides the record's fate (connector.errors).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from connector.errors import DecodeError, SkipEvent
from connector.events import Event
from connector.logs import mask_email

__all__ = ["EventResult", "RecordProcessor"]


class _Decoder(Protocol):
    def decode(self, value: bytes) -> dict[str, Any]: ...


class _Transforms(Protocol):
    def apply(self, event: dict[str, Any]) -> list[dict[str, Any]]: ...


class _Sync(Protocol):
    def handle(self, event: Event) -> Any: ...

    def reading_ahead(self, events: Sequence[Event]) -> contextlib.AbstractContextManager[None]: ...

    def plan(self, event: Event) -> Sequence[Any]: ...


@dataclass(frozen=True, slots=True)
class EventResult:
    """What became of one event, with what its outcome log line needs (see runner._log_outcome)."""

    type: str
    status: str  # "applied" | "skipped"
    reason: str = ""
    message_id: str | None = None
    user_id: str | None = None
    email: str | None = None  # the contact's email as resolved (unmasked: the log line masks it)
    calls: int = 0  # Resend calls the event cost

    @classmethod
    def of(
        cls, event: Event, status: str, reason: str = "", *, email: str | None = None, calls: int = 0
    ) -> EventResult:
        return cls(event.type, status, reason, event.message_id, event.user_id, email, calls)


class RecordProcessor:
    def __init__(self, decoder: _Decoder, transforms: _Transforms, sync: _Sync) -> None:
        self._decoder = decoder
        self._transforms = transforms
        self._sync = sync
        self._ahead = threading.local()  # values this thread decoded ahead: id -> (value, decoded)

    @contextlib.contextmanager
    def reading_ahead(self, values: Sequence[bytes | None]) -> Iterator[None]:
        """While this thread processes these records one after the other: each is decoded once, here,
        so the sync can read the contacts they name from Redis in one round trip (see
        EventSync.reading_ahead). Transformations still run at each record's turn (they may have
        effects), so one that changes the email only makes its read ahead go unused. A record that
        does not decode here is left to fail at its own turn, with its own error."""
        decoded: dict[int, tuple[bytes, dict[str, Any]]] = {}
        events: list[Event] = []
        for value in values:
            if value is None:
                continue
            try:
                raw = self._decoder.decode(value)
                decoded[id(value)] = (value, raw)
                if raw.get("type") == "identify":
                    events.append(Event.from_dict(raw))
            except Exception:  # noqa: BLE001, S112 - reported when the record's turn comes
                continue
        self._ahead.decoded = decoded
        try:
            with self._sync.reading_ahead(events):
                yield
        finally:
            self._ahead.decoded = {}

    def _decode(self, value: bytes) -> dict[str, Any]:
        ahead: dict[int, tuple[bytes, dict[str, Any]]] = getattr(self._ahead, "decoded", {})
        hit = ahead.pop(id(value), None)
        if hit is not None and hit[0] is value:
            return hit[1]
        return self._decoder.decode(value)

    def events(self, value: bytes | None) -> list[Event]:
        if value is None:
            raise DecodeError("record has no value (tombstone)")
        return [Event.from_dict(raw) for raw in self._transforms.apply(self._decode(value))]

    def process(self, value: bytes | None) -> list[EventResult]:
        results: list[EventResult] = []
        for event in self.events(value):
            try:
                outcome = self._sync.handle(event)
            except SkipEvent as skip:
                results.append(EventResult.of(event, "skipped", skip.reason))
                continue
            email, calls = getattr(outcome, "email", None), getattr(outcome, "calls", 0)
            results.append(EventResult.of(event, outcome.status, outcome.reason, email=email, calls=calls))
        if not results:
            results.append(EventResult("none", "skipped", "dropped_by_transform"))
        return results

    def identify(self, value: bytes | None) -> dict[str, Any]:
        """Best effort, for a failed record's log line: the ids its event carries (email masked);
        nothing when it does not decode. Off the hot path: only failures pay for the second decode."""
        try:
            raw = self._decoder.decode(value) if value is not None else None
        except Exception:  # noqa: BLE001 - an undecodable record has no ids to show
            return {}
        if not isinstance(raw, dict):
            return {}
        found_traits = raw.get("traits")
        traits: dict[str, Any] = found_traits if isinstance(found_traits, dict) else {}
        email = traits.get("email") if raw.get("type") != "group" else None
        found = {
            "message_id": raw.get("messageId"),
            "type": raw.get("type"),
            "user_id": raw.get("userId"),
            "email": mask_email(email.strip().lower()) if isinstance(email, str) else None,
        }
        return {k: v if isinstance(v, str | int) else None for k, v in found.items()}

    def plan(self, value: bytes | None) -> list[Any]:
        """The commands the record would cause (dry run: reads Redis, writes nothing)."""
        return [command for event in self.events(value) for command in self._sync.plan(event)]
