"""Running a record with its person's records queued behind it (connector/pipeline/merging.py, #25):
settled together after merged writes, left waiting behind a retry, one at a time after a permanent
failure so only the guilty record is dead-lettered."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from connector.dead_letters.sink import DeadLetterTopic
from connector.errors import PermanentError, ResendRejected, RetryableError
from connector.events import Event
from connector.kafka.records import InFlight
from connector.pipeline.fate import Fate
from connector.pipeline.lifecycle import Lifecycle
from connector.sync import Position, SyncResult
from connector.sync.merged import MergeDeclined
from tests.unit.fakes.kafka import RecordingDeadLetters
from tests.unit.fakes.pipeline import NoTransforms, ScriptedSync, ValueDecoder


class Merger:
    """The sync's merged run, scripted: raises what it is given, else merges up to ``take`` events."""

    def __init__(self, error: BaseException | None = None, take: int = 99) -> None:
        self.error, self.take = error, take
        self.runs: list[list[str]] = []

    def handle(self, events: Sequence[Event], at: Sequence[Position | None]) -> list[SyncResult]:
        self.runs.append([e.message_id or "" for e in events])
        if self.error is not None:
            raise self.error
        return [SyncResult("applied", calls=1 if i == 0 else 0) for i in range(min(self.take, len(events)))]


def records(*values: str) -> list[InFlight]:
    made = []
    for offset, value in enumerate(values):
        record = InFlight("events", 0, offset, b"u1", value.encode(), [], None)
        record.decoded = ValueDecoder().decode(value.encode())
        made.append(record)
    return made


def lifecycle(sync: ScriptedSync, merger: Merger, dlq: RecordingDeadLetters) -> Lifecycle:
    letters = DeadLetterTopic(dlq, "dlq", "test")
    return Lifecycle(ValueDecoder(), NoTransforms(), sync, letters, merger=(merger.handle, lambda event: True))


def run_group(life: Lifecycle, group: list[InFlight]) -> list[Any]:
    ends: list[Any] = []
    life.run_group(group, ends.append)  # each end handed on as soon as known
    return ends


def fates(ends: Sequence[Any]) -> list[Fate | None]:
    return [None if end is None else end.fate for end in ends]


def test_a_merged_run_settles_its_records_together_and_the_rest_runs_on() -> None:
    sync, merger, dlq = ScriptedSync({}), Merger(take=2), RecordingDeadLetters()
    group = records("a", "b", "c")
    ends = run_group(lifecycle(sync, merger, dlq), group)
    # a and b merged; c is left for its own turn (it may be one that waits long, see merging.py)
    assert fates(ends) == [Fate.DONE, Fate.DONE, None]
    assert merger.runs == [["a", "b", "c"]]
    assert sync.applied == []
    assert [end.results[0].calls for end in ends[:2]] == [1, 0]  # each event counted, the calls once


def test_a_transient_failure_leaves_the_run_behind_its_first_record() -> None:
    sync, merger, dlq = ScriptedSync({}), Merger(RetryableError("503")), RecordingDeadLetters()
    ends = run_group(lifecycle(sync, merger, dlq), records("a", "b", "c"))
    assert fates(ends) == [Fate.RETRY, None, None]
    assert sync.applied == []


def test_a_permanent_failure_runs_them_one_at_a_time_and_letters_only_the_guilty() -> None:
    refused = ResendRejected("422 a property Resend refuses")
    sync, merger, dlq = (
        ScriptedSync({b"b": [refused]}),
        Merger(PermanentError("merged write refused")),
        RecordingDeadLetters(),
    )
    ends = run_group(lifecycle(sync, merger, dlq), records("a", "b", "c"))
    assert fates(ends) == [Fate.DONE, Fate.DEAD_LETTERED, Fate.DONE]
    assert sync.applied == [b"a", b"c"]
    assert len(dlq.sent) == 1


def test_one_at_a_time_stops_at_a_retry() -> None:
    sync = ScriptedSync({b"b": [RetryableError("503")]})
    merger, dlq = Merger(PermanentError("merged write refused")), RecordingDeadLetters()
    ends = run_group(lifecycle(sync, merger, dlq), records("a", "b", "c"))
    assert fates(ends) == [Fate.DONE, Fate.RETRY, None]
    assert sync.applied == [b"a"]


def test_a_first_event_that_opens_no_run_goes_alone_and_the_rest_merge() -> None:
    sync, merger, dlq = ScriptedSync({}), Merger(), RecordingDeadLetters()
    declined = [MergeDeclined("a track that names no contact")]

    def handle(events: Sequence[Event], at: Sequence[Position | None]) -> list[SyncResult]:
        if declined:
            merger.runs.append([e.message_id or "" for e in events])
            raise declined.pop()
        return merger.handle(events, at)

    letters = DeadLetterTopic(dlq, "dlq", "test")
    life = Lifecycle(ValueDecoder(), NoTransforms(), sync, letters, merger=(handle, lambda event: True))
    ends = run_group(life, records("a", "b", "c"))
    assert fates(ends) == [Fate.DONE, Fate.DONE, Fate.DONE]
    assert sync.applied == [b"a"]  # a alone; b and c merged
    assert merger.runs == [["a", "b", "c"], ["b", "c"]]


def test_each_end_is_handed_on_before_the_next_record_runs() -> None:
    # A later record may wait long (a contact lock): what ended before it is settled meanwhile.
    ends: list[Any] = []
    seen: list[int] = []

    class Watching(ScriptedSync):
        def handle(self, event: Event, ahead: Any = None) -> SyncResult:
            seen.append(len(ends))
            return super().handle(event, ahead)

    letters = DeadLetterTopic(RecordingDeadLetters(), "dlq", "test")
    merger = Merger(PermanentError("merged write refused"))  # one at a time next
    life = Lifecycle(ValueDecoder(), NoTransforms(), Watching({}), letters, merger=(merger.handle, lambda e: True))
    life.run_group(records("a", "b", "c"), ends.append)
    assert seen == [0, 1, 2]


def test_a_later_record_that_cannot_merge_waits_for_its_own_turn() -> None:
    # An opt-out behind the express lock may wait long: it must not hold back the worker's batch.
    sync, merger, dlq = ScriptedSync({}), Merger(), RecordingDeadLetters()
    letters = DeadLetterTopic(dlq, "dlq", "test")
    life = Lifecycle(
        ValueDecoder(), NoTransforms(), sync, letters, merger=(merger.handle, lambda e: e.message_id != "b")
    )
    ends = run_group(life, records("a", "b", "c"))
    assert fates(ends) == [Fate.DONE, None, None]
    assert sync.applied == [b"a"]
