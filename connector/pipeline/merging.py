"""Running a record with the records of its person queued behind it (issue #25, merging what waits).

The scheduler hands a worker a record together with the records that wait for nothing but it
(ordering.py, ``IdentityScheduler.followers``), which happens only when records queue up, that is
when Resend's quota is the bottleneck: nothing waits on purpose. :func:`run_group` carries their
events out through the sync's merged runs (connector/sync/merged.py) and settles each record:

- the records of a merged run are settled done together, after its writes succeeded;
- a transient failure or a pause of a run settles its first record with that fate and leaves the
  others untried (they run again behind it);
- a permanent failure, or anything a merged write does not handle, makes the run's records go one
  at a time through :meth:`Lifecycle.run`, so only the guilty one is dead-lettered.

A record whose event cannot merge (an alias, an erasure, an opt-out, one that does not decode, or
any record when transformations are configured) runs on its own: the first of the group at once, a
later one in its own turn (left untried here, so that what may wait long, an opt-out behind the
express lock, never holds back the other records of the worker's batch).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from connector.errors import PauseError, RetryableError
from connector.events import Event
from connector.kafka.records import InFlight
from connector.pipeline.fate import Fate, Outcome
from connector.pipeline.records import AttemptResult, EventResult
from connector.sync import Position, SyncResult
from connector.sync.merged import MergeDeclined

if TYPE_CHECKING:
    from connector.pipeline.lifecycle import Lifecycle

__all__ = ["Merger", "run_group"]

# The sync's merged run (connector/sync/merged.py handle_run, bound to the EventSync) and its test
# of whether an event may merge at all.
Merger = tuple[
    Callable[[Sequence[Event], Sequence[Position | None]], list[SyncResult]],
    Callable[[Event], bool],
]

_OUTCOMES = {outcome.value: outcome for outcome in Outcome}


def _event(record: InFlight, merges: Callable[[Event], bool]) -> Event | None:
    if record.fault is not None:
        return None
    event: Event | None = record.event  # parsed already by the decider (see InFlight): parsed once
    if event is None:
        raw: Any = record.decoded
        if type(raw) is not dict:
            return None
        try:
            event = Event.from_dict(raw)
        except Exception:  # noqa: BLE001 - its own attempt reports it
            return None
        record.event = event  # kept for the record's own attempt, should it run alone
    return event if merges(event) else None


class _Out:
    """Each record's end handed on as soon as it is known (a later one may wait long, on a lock)."""

    def __init__(self, emit: Callable[[AttemptResult | None], None]) -> None:
        self._emit = emit
        self.count = 0

    def append(self, end: AttemptResult | None) -> None:
        self.count += 1
        self._emit(end)


def run_group(
    lifecycle: Lifecycle, merger: Merger, records: Sequence[InFlight], emit: Callable[[AttemptResult | None], None]
) -> None:
    """Hands ``emit`` what became of each of ``records`` (one person's), in order; None: not tried
    (it waits behind the record before it)."""
    handle, merges = merger
    events = [_event(record, merges) for record in records] if lifecycle.merges_records else [None] * len(records)
    out = _Out(emit)
    index = 0
    while index < len(records):
        end = index
        while end < len(records) and events[end] is not None:
            end += 1
        if end - index < 2:  # nothing to merge with: the first alone; a later one waits for its turn
            if index > 0 or not _single(lifecycle, records[index], out):
                break
            index += 1
            continue
        run = records[index:end]
        at = [lifecycle.position(record) for record in run]
        try:
            results = handle([e for e in events[index:end] if e is not None], at)
        except (RetryableError, PauseError) as error:
            out.append(lifecycle.settle_failure(records[index], error))  # the run waits behind its first
            break
        except MergeDeclined:  # the first does not open a run (nothing written): alone, the rest may merge
            if index > 0 or not _single(lifecycle, records[index], out):
                break
            index += 1
            continue
        except Exception:  # noqa: BLE001 - permanent, or a surprise: one at a time finds the guilty record
            stopped = False
            for record in run:
                if not _single(lifecycle, record, out):
                    stopped = True
                    break
            if stopped:
                break
            index = end
            continue
        for offset, result in enumerate(results):
            run[offset].decoded = run[offset].event = None  # settled: the decoding is not needed any more
            out.append(AttemptResult(Fate.DONE, (_result(events[index + offset], result),)))
        index += len(results)
    for _ in range(len(records) - out.count):
        out.append(None)


def _single(lifecycle: Lifecycle, record: InFlight, out: _Out) -> bool:
    """Run ``record`` alone; whether the records after it may go on (it did not retry or pause)."""
    attempt = lifecycle.run(record)
    out.append(attempt)
    return attempt.fate not in (Fate.RETRY, Fate.PAUSE)


def _result(event: Event | None, outcome: SyncResult) -> EventResult:
    assert event is not None
    return EventResult(event.type, _OUTCOMES[outcome.status], outcome.reason, outcome.calls, event.message_id,
                       event.user_id, outcome.email, outcome.commands)  # fmt: skip
