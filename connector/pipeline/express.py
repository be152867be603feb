"""The express path (issue #25): consent and erasure overtake any backlog.

A thread of ``run`` with its own consumer group on the events topic, ``<kafka.group_id>-express``, so
it reads each partition near its end while the main path works through the backlog. Several replicas
share the partitions of that group as they share the main group's. For each record it:

1. skips it unless it may be express (:func:`may_be_express`): a JSON value without ``\\u`` escapes
   is kept only when its bytes name ``unsubscribed``, ``resendTopics`` or a delete trigger (any
   case), so only those are decoded; every other value is decoded (escapes can spell any word,
   Avro need not carry field names), and with transformation functions configured every record is
   (a function can make an opt-out out of any event); the fetch itself costs about what a bare
   consumer spends per record (docs/benchmarks.md);
2. skips it when the main group has already committed past it (the main path did it); a partition
   whose main path will reach its end within five seconds at its pace is not read at all (_pace);
3. decodes and transforms it like the main path, and keeps the events that unsubscribe a person,
   opt them out of a topic or erase them (connector.mapping.express);
4. records each in its person's register and carries out that part alone, now
   (connector.sync.express: ExpressGuard.act), through the same client and shared rate limit;
5. commits the group's offsets once every record the poll returned is done.

It never dead-letters and never decides a record's fate: the main path still reads every record and
does everything it did before, this included. A failure here costs time, not data: a transient one is
retried with backoff (up to half the poll interval), anything else is logged and left to the main
path, which applies the record in its turn with its own retries and dead letters.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from connector.errors import PauseError, RetryableError
from connector.events import Event
from connector.logs import get_logger
from connector.pipeline.places import judged_at
from connector.settings import Settings
from connector.sync import ExpressAction, Position, SyncResult, express_action

__all__ = ["EXPRESS_REASON", "ExpressReader", "may_be_express", "needles", "recording"]

log = get_logger(__name__)

_POLL_MS = 200
_MAX_BACKOFF_SECONDS = 5.0
_MAIN_OFFSETS_SECONDS = 1.0  # how stale the main group's committed offsets may be when asked
# A main path that reaches the end of a partition within this long at its pace needs no read ahead
# there: it applies an opt-out as soon as the express path's goal (issue #25, bench row (h): 5 s).
# Reading ahead costs about what the main path spends per record on Kafka alone (docs/benchmarks.md).
_KEEPING_UP_SECONDS = 5.0


class _Record(Protocol):
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def value(self) -> bytes | None: ...
    @property
    def timestamp_ms(self) -> int | None: ...
    @property
    def headers(self) -> tuple[tuple[str, bytes | None], ...]: ...


class _Reader(Protocol):
    """connector.kafka.reader.GroupReader"""

    def poll(self, timeout_ms: int) -> list[Any]: ...

    def commit(self) -> bool: ...

    def ends(self) -> dict[int, int]: ...

    def pace(self, idle: set[int], busy: dict[int, int]) -> None: ...

    def close(self) -> None: ...


class _History(Protocol):
    """connector.pipeline.history.HistoryWriter"""

    def add(self, email: str, type_: str, outcome: str, reason: str, message_id: str | None,
            topic: str, partition: int, offset: int, calls: int, commands: tuple[Any, ...]) -> None: ...  # fmt: skip


# The reason an express write carries in the contact's outcome history (the console's Contacts page
# shows "applied (express)"), after it the sync's own reason, if any.
EXPRESS_REASON = "express"


def recording(
    handle: Callable[[Event], SyncResult], history: _History | None, topic: str, at: Position
) -> Callable[[Event], str]:
    """``handle`` (EventSync.handle) for ExpressGuard.act, each express write also entered in its
    contact's outcome history at the record's place, marked :data:`EXPRESS_REASON`. An erasure leaves
    no entry (the history empties itself on a DeleteContact, as on the main path)."""

    def handled(event: Event) -> str:
        result = handle(event)
        if history is not None and result.email:
            reason = f"{EXPRESS_REASON}: {result.reason}" if result.reason else EXPRESS_REASON
            history.add(result.email, event.type, result.status, reason, event.message_id, topic,
                        at.partition, at.offset, result.calls, result.commands)  # fmt: skip
        return result.status

    return handled


class _Decoder(Protocol):
    def decode(self, value: bytes) -> dict[str, Any]: ...


class _Transforms(Protocol):
    def apply(self, event: dict[str, Any]) -> list[dict[str, Any]]: ...


def needles(settings: Settings) -> tuple[bytes, ...]:
    """Lower-cased bytes one of which an express record's value must hold (step 1)."""
    words = {"unsubscribed", "resendtopics", *settings.destination.delete_event_names,
             *settings.destination.delete_on_message_types}  # fmt: skip
    # bytes.lower() folds ASCII only, as the check does: a trigger's other letters must match as written
    # (the planner compares trigger names exactly, and the trait names in ASCII, any case).
    return tuple(sorted({w.encode().lower() for w in words if w}))


_JSON_LEAD = b"\xef\xbb\xbf \t\r\n"  # what may come before a JSON value's "{" (the decoder's rule)
_KELVIN = "\u212a".encode()  # the one letter str.lower() turns into ASCII ("k"): a type may be spelled with it


def may_be_express(value: bytes, needles: tuple[bytes, ...]) -> bool:
    """False only when ``value`` certainly holds no express event before any transformation: a JSON
    object whose bytes name none of ``needles`` (lower-cased; ASCII case is folded here) and hold no
    ``\\u`` escape. JSON spells a key or a value byte for byte unless it escapes it, and only ``\\u``
    escapes spell letters; any other value (Avro, where a schema's field names are not in the bytes,
    or anything the decoder refuses) is decoded."""
    if value.lstrip(_JSON_LEAD)[:1] != b"{" or b"\\u" in value or _KELVIN in value:
        return True
    lowered = value.lower()
    return any(needle in lowered for needle in needles)


class ExpressReader:
    def __init__(
        self,
        settings: Settings,
        reader: _Reader,
        main_offsets: Callable[[], dict[int, int]],
        decoder: _Decoder,
        transforms: _Transforms,
        act: Callable[[Event, ExpressAction, Position], str],
        *,
        counted: Callable[[str], None] = lambda outcome: None,
        sleep: Callable[[float], object] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._reader = reader
        self._main_offsets = main_offsets  # partition -> the main group's committed offset
        self._decoder = decoder
        self._transforms = transforms
        self._act_on = act  # ExpressGuard.act, wired in connector.app
        self._counted = counted
        self._stop = threading.Event()
        self._sleep = sleep or self._stop.wait  # a backoff that stop() ends at once
        self._clock = clock
        # With transformation functions configured, any record may become an opt-out: none is skipped.
        self._needles: tuple[bytes, ...] | None = None if settings.transforms.functions else needles(settings)
        self._main: dict[int, int] = {}  # the main group's committed offsets, as last asked
        self._seen: dict[int, int] = {}  # the same, one pace before (the main path's pace)
        self._paced_at = float("-inf")
        self._retry_budget = settings.kafka.max_poll_interval_ms / 2000  # seconds per record
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="express", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def run(self) -> None:
        log.info("express.started", group=f"{self._settings.kafka.group_id}-express")
        try:
            while not self._stop.is_set():
                try:
                    self._turn()
                except Exception as exc:  # noqa: BLE001 - Kafka trouble: the main path is unaffected
                    log.warning("express.poll_failed", error=type(exc).__name__, detail=str(exc)[:300])
                    self._stop.wait(1.0)
        finally:
            self._reader.close()
            log.info("express.stopped")

    def _turn(self) -> None:
        self._pace()
        records = self._reader.poll(_POLL_MS)
        for record in records:
            if self._stop.is_set():
                return  # not committed: read again by whoever runs next
            self._record(record)
        if records:
            self._reader.commit()  # False after a rebalance: the next owner reads them again (idempotent)

    def _record(self, record: _Record) -> None:
        value = record.value
        if not value or (self._needles is not None and not may_be_express(value, self._needles)):
            return
        if record.offset < self._main_offset(record.partition):
            return  # the main path has done it
        try:
            events = [Event.from_dict(raw) for raw in self._transforms.apply(self._decoder.decode(value))]
        except Exception:  # noqa: BLE001 - the main path reports it, with its stage
            return
        at = judged_at(record.partition, record.offset, record.timestamp_ms, record.headers)  # a Sync again: older
        for event in events:
            action = express_action(event, self._settings.destination)
            if action is not None:
                self._act(event, action, at)

    def _act(self, event: Event, action: ExpressAction, at: Position) -> None:
        started = time.monotonic()
        for attempt in range(1, 1_000):
            try:
                outcome = self._act_on(event, action, at)
            except (RetryableError, PauseError) as exc:
                if self._stop.is_set() or time.monotonic() - started > self._retry_budget:
                    log.warning("express.left_to_main_path", partition=at.partition, offset=at.offset,
                                error=type(exc).__name__)  # fmt: skip
                    self._counted("gave_up")
                    return
                self._sleep(min(_MAX_BACKOFF_SECONDS, 0.2 * 2**attempt))
                continue
            except Exception as exc:  # noqa: BLE001 - permanent or a bug: the main path decides its fate
                log.warning("express.left_to_main_path", partition=at.partition, offset=at.offset,
                            error=type(exc).__name__, detail=str(exc)[:300])  # fmt: skip
                self._counted("gave_up")
                return
            log.info("express.done", partition=at.partition, offset=at.offset, outcome=outcome,
                     erase=action.erase, unsubscribe=action.unsubscribe, topics=len(action.topics),
                     seconds=round(time.monotonic() - started, 3))  # fmt: skip
            self._counted(outcome)
            return

    def _main_offset(self, partition: int) -> int:
        return self._main.get(partition, -1)

    def _pace(self) -> None:
        """Read ahead only where the main path is behind. A partition whose main group will reach the
        end within _KEEPING_UP_SECONDS at its current pace is not fetched (a second read of each record
        would cost CPU for nothing: the main path gets there as soon); when that changes it is read
        again from the main group's commit on (what lies before it, the main path has done)."""
        now = self._clock()
        if now - self._paced_at < _MAIN_OFFSETS_SECONDS:
            return
        elapsed, self._paced_at = now - self._paced_at, now
        try:
            self._seen, self._main = self._main, self._main_offsets()
            ends = self._reader.ends()
        except Exception as exc:  # noqa: BLE001 - unknown: read everything (the register still orders it)
            log.debug("express.pace_unknown", error=type(exc).__name__)
            return
        idle: set[int] = set()
        busy: dict[int, int] = {}
        for partition, end in ends.items():
            committed, before = self._main.get(partition), self._seen.get(partition)
            rate = 0.0 if committed is None or before is None else (committed - before) / elapsed
            if committed is not None and end - committed <= rate * _KEEPING_UP_SECONDS:
                idle.add(partition)
            else:
                busy[partition] = -1 if committed is None else committed
        self._reader.pace(idle, busy)
