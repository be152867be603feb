"""The lifecycle of one record: decode, transform, plan and apply each event, settle.

:meth:`Lifecycle.run` is the whole of it, top to bottom, for ``run`` and ``replay`` alike. It knows
nothing of Kafka offsets, threads or retry timing: it returns a :class:`AttemptResult` saying what became
of the record (fate.py decides the fate of a failure; a record to dead-letter is written before
``run`` returns, so its offset may be committed). Where dead letters go is the caller's
:class:`LetterBox` (the dead-letter topic for ``run``; dead-letter or parked topic for ``replay``).
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from connector.dead_letters.sink import ids_of
from connector.errors import DecodeError, PauseError, RetryableError, SkipEvent
from connector.events import Event
from connector.kafka.records import InFlight
from connector.logs import get_logger
from connector.pipeline.fate import Fate, Outcome, fate_of, is_internal
from connector.pipeline.merging import Merger, run_group
from connector.pipeline.ordering import identities_of, joins_of
from connector.pipeline.places import judged_at
from connector.pipeline.records import DROPPED, AttemptResult, EventResult, letter_result
from connector.sync import Position, ReadAhead, SyncResult

__all__ = ["LetterBox", "Lifecycle"]

log = get_logger(__name__)

_OUTCOMES = {outcome.value: outcome for outcome in Outcome}  # the sync's status -> the enum (hot path)


class _Decoder(Protocol):
    def decode(self, value: bytes) -> dict[str, Any]: ...


class _Transforms(Protocol):
    def apply(self, event: dict[str, Any]) -> list[dict[str, Any]]: ...

    @property
    def empty(self) -> bool: ...


class _Sync(Protocol):
    def handle(self, event: Event, ahead: ReadAhead | None = None, at: Position | None = None) -> SyncResult: ...

    def read_ahead(self, events: Sequence[Event]) -> ReadAhead: ...

    def plan(self, event: Event) -> Sequence[Any]: ...

    def decider(self) -> Callable[[Event], SyncResult | None]: ...


class LetterBox(Protocol):
    def dead_letter(self, record: InFlight, error: BaseException) -> None:
        """Write the record where failed records go, acknowledged; RetryableError when it cannot."""


class _Counter(Protocol):
    def labels(self, **labels: str) -> Any: ...


class Lifecycle:
    def __init__(
        self,
        decoder: _Decoder,
        transforms: _Transforms,
        sync: _Sync,
        letters: LetterBox,
        internal_errors: _Counter | None = None,
        express_topic: str | None = None,
        merger: Merger | None = None,
    ) -> None:
        self._decoder = decoder
        self._transforms = transforms
        self._sync = sync
        self._letters = letters
        self._internal_errors = internal_errors
        # The events topic when the express path runs: its records' events go through the express
        # register (#25) with their place in it. None for replay (its records are dead letters).
        self._express_topic = express_topic
        self._merger = merger  # one person's waiting records as one plan (merging.py, #25)

    def run(
        self, record: InFlight, ahead: ReadAhead | None = None, place: tuple[int, int, int | None] | None = None
    ) -> AttemptResult:
        """One attempt at ``record``; never raises. ``place``: where a replayed record was in the events
        topic (partition, offset, timestamp), so the express register holds it back like ``run`` would."""
        raw: Any = None
        events: list[Event] = []
        results: list[EventResult] = []
        try:
            parsed = self._parsed_once(record)
            if parsed is None:
                raw = self._decode(record)  # kept apart: a failing transformation's letter still names the contact
                events = self._transform(raw)
            else:
                events = [parsed]
            at = self.position(record, place)
            for event in events:
                results.append(self._plan_and_apply(event, ahead, at))
        except BaseException as error:  # noqa: BLE001 - every failure has a fate (fate.py)
            attempt = self.settle_failure(record, error)
            if attempt.fate is Fate.DEAD_LETTERED:
                failed = events[len(results)] if len(results) < len(events) else None
                attempt.letter = letter_result(error, failed, raw)
            return attempt
        return AttemptResult(Fate.DONE, tuple(results) or (DROPPED,))

    def run_group(self, records: Sequence[InFlight], emit: Callable[[AttemptResult | None], None]) -> None:
        """A record and the records of its person queued behind it, merged where they may be
        (merging.py); ``emit`` gets each one's end in order, None for one not tried (it waits)."""
        if self._merger is None:
            emit(self.run(records[0]))
            for _ in records[1:]:
                emit(None)
            return
        run_group(self, self._merger, records, emit)

    @property
    def merges_records(self) -> bool:
        """Whether records may merge: not with transformations (user code, run once per attempt)."""
        return self._merger is not None and self._transforms.empty

    def position(self, record: InFlight, place: tuple[int, int, int | None] | None = None) -> Position | None:
        """Where the express register judges the record: a dead letter at its original ``place``, a
        record of the events topic at its own place or the older one a Sync again copy names
        (places.py); None for anything else."""
        if place is not None:
            return judged_at(*place, record.headers)
        if record.topic != self._express_topic:
            return None
        return judged_at(record.partition, record.offset, record.timestamp_ms, record.headers)

    # -- the stages ------------------------------------------------------------------------------

    def _decode(self, record: InFlight) -> Any:
        if record.fault is not None:  # unreadable, or a header key that is not UTF-8 (connector/kafka/workarounds.py)
            raise record.fault
        decoded, record.decoded = record.decoded, None  # decoded when consumed: used once (see InFlight)
        if decoded is not None:
            return decoded
        if record.value is None:
            raise DecodeError("record has no value (tombstone)")
        return self._decoder.decode(record.value)

    def _parsed_once(self, record: InFlight) -> Event | None:
        """Without transformations, the record's one event as parsed already (by the decider or the
        read ahead), taken once: a record's event is parsed once per attempt. None: decode it."""
        if record.fault is not None:
            raise record.fault
        parsed: Event | None = record.event
        record.event = None  # used once, as ``decoded``
        if parsed is not None:
            record.decoded = None
        return parsed

    def _parsed(self, record: InFlight) -> Event:
        """The record's event before its attempt (no transformations: the attempt uses it too)."""
        if record.event is None:
            record.event = Event.from_dict(record.decoded)
        event: Event = record.event
        return event

    def _transform(self, raw: Any) -> list[Event]:
        return [Event.from_dict(event) for event in self._transforms.apply(raw)]

    def _plan_and_apply(self, event: Event, ahead: ReadAhead | None, at: Position | None) -> EventResult:
        try:
            outcome = self._sync.handle(event, ahead) if at is None else self._sync.handle(event, ahead, at)
        except SkipEvent as skip:
            return EventResult(event.type, Outcome.SKIPPED, skip.reason, 0, event.message_id, event.user_id)
        return EventResult(event.type, _OUTCOMES[outcome.status], outcome.reason, outcome.calls, event.message_id,
                           event.user_id, outcome.email, outcome.commands)  # fmt: skip

    def settle_failure(self, record: InFlight, error: BaseException) -> AttemptResult:
        if is_internal(error):
            record.internal_failures += 1
            if self._internal_errors is not None:
                self._internal_errors.labels(error=type(error).__name__).inc()
            log.error(
                "record.internal_error",
                partition=record.partition,
                offset=record.offset,
                attempt=record.internal_failures,
                error=type(error).__name__,
                detail=str(error)[:500],
                traceback="".join(traceback.format_exception(error))[-4000:],
            )
        fate = fate_of(error, record.internal_failures)
        if fate is not Fate.DEAD_LETTERED:
            return AttemptResult(fate, error=error)
        try:
            self._letters.dead_letter(record, error)
        except RetryableError as exc:  # the dead-letter topic is unavailable: the record waits
            return AttemptResult(Fate.RETRY, error=exc)
        except PauseError as exc:  # the topic takes nothing (deleted, no permission): consumption stops
            return AttemptResult(Fate.PAUSE, error=exc)
        except BaseException as exc:  # noqa: BLE001 - a bug in the dead-letter path: never lose the record
            log.error("record.dead_letter_failed", partition=record.partition, offset=record.offset,
                      error=type(exc).__name__, detail=str(exc)[:500])  # fmt: skip
            return AttemptResult(Fate.RETRY, error=exc)
        return AttemptResult(Fate.DEAD_LETTERED, error=error)

    # -- around the stages -----------------------------------------------------------------------

    def peek(self, record: InFlight) -> None:
        """Decode as consumed, to order the record by the identities it names (ordering.py); its
        attempt uses this decoding. A value that does not decode is left for its attempt to report."""
        if record.value is not None:
            try:
                record.decoded = self._decoder.decode(record.value)
            except Exception:  # noqa: BLE001 - reported, with its stage, when the record's turn comes
                record.decoded = None
        record.identities = identities_of(record.key, record.decoded)
        record.joins = joins_of(record.decoded)

    def decider(self) -> Callable[[InFlight], AttemptResult | None] | None:
        """For one polled batch: a function answering what :meth:`run` would settle a record as, when
        that needs no I/O (its one event is a skip planned from what this process knows, see
        EventSync.decider), else None, and then the record needs :meth:`run`, which uses its decoding
        as usual. No function at all when transformations are configured: they are user code, which
        may be slow or read the store. The function never raises."""
        if not self._transforms.empty:
            return None
        decide = self._sync.decider()

        def decided(record: InFlight) -> AttemptResult | None:
            raw = record.decoded
            if raw is None:
                return None
            try:
                event = self._parsed(record)
                outcome = decide(event)
            except Exception:  # noqa: BLE001 - whatever it is, run() meets it again and gives it its fate
                return None
            if outcome is None:
                return None
            record.decoded = record.event = None  # settled: the decoding is not needed any more
            result = EventResult(event.type, Outcome.SKIPPED, outcome.reason, 0, event.message_id, event.user_id)
            return AttemptResult(Fate.DONE, (result,))

        return decided

    def read_ahead(self, records: Sequence[InFlight]) -> ReadAhead | None:
        """For a worker about to run these records one after the other: the contact states their
        identifies need, from Redis in one round trip (EventSync.read_ahead). Transformations run
        at each record's turn (they may have effects), so one that changes the email only makes its
        read ahead go unused. Any failure here costs nothing: each record reads for itself."""
        events: list[Event] = []
        for record in records:
            raw = record.decoded
            if isinstance(raw, dict) and raw.get("type") == "identify":
                try:  # transformed at the record's turn: then that event is parsed there
                    events.append(self._parsed(record) if self._transforms.empty else Event.from_dict(raw))
                except Exception:  # noqa: BLE001, S112 - reported when the record's turn comes
                    continue
        if not events:
            return None
        try:
            return self._sync.read_ahead(events)
        except Exception as exc:  # noqa: BLE001 - only an optimisation
            log.debug("read_ahead.failed", error=type(exc).__name__)
            return None

    def identify(self, value: bytes | None) -> dict[str, Any]:
        """Best effort, for a failed record's report: the ids its event carries (letters.ids_of)."""
        return ids_of(self._decoder, value)

    def plan(self, value: bytes | None) -> list[Any]:
        """The commands a record would cause (dry run: reads Redis, writes nothing)."""
        if value is None:
            raise DecodeError("record has no value (tombstone)")
        events = self._transform(self._decoder.decode(value))
        return [command for event in events for command in self._sync.plan(event)]
