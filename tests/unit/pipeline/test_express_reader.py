"""The express reader (issue #25) with fakes: what it reads, what it leaves to the main path, retries."""

from __future__ import annotations

import io
import json
from typing import Any

import fastavro

from connector.decoding.avro import parse
from connector.decoding.decoder import Decoder as AvroDecoder
from connector.errors import InvalidEventError, RateLimited
from connector.events import Event
from connector.kafka.reader import AheadRecord
from connector.mapping.express import ExpressAction, Position
from connector.pipeline.express import ExpressReader, may_be_express, needles
from connector.pipeline.places import SYNC_AGAIN_OF
from connector.settings import load_settings

SETTINGS = load_settings(
    resend={"api_key": "re_test"}, destination={"delete_event_names": ["Contact Deleted"]}, kafka={"topic": "events"}
)


class FakeReader:
    """Hands out the given batches, one per poll, then stops the express path (GroupReader's interface)."""

    def __init__(self, batches: list[list[Any]], reader: list[ExpressReader]) -> None:
        self._batches = batches
        self._reader = reader
        self.commits = 0
        self.closed = False
        self.end_offsets: dict[int, int] = {}
        self.paced: list[tuple[set[int], dict[int, int]]] = []

    def poll(self, timeout_ms: int) -> list[Any]:
        if not self._batches:
            self._reader[0].stop(timeout=0)
            return []
        return self._batches.pop(0)

    def commit(self) -> bool:
        self.commits += 1
        return True

    def ends(self) -> dict[int, int]:
        return self.end_offsets

    def pace(self, idle: set[int], busy: dict[int, int]) -> None:
        self.paced.append((idle, busy))

    def close(self) -> None:
        self.closed = True


def record(offset: int, event: dict[str, Any], partition: int = 0) -> AheadRecord:
    return AheadRecord(partition, offset, json.dumps(event).encode(), 1_000 + offset)


class Decoder:
    def __init__(self) -> None:
        self.decoded = 0

    def decode(self, value: bytes) -> dict[str, Any]:
        self.decoded += 1
        return dict(json.loads(value))


class Transforms:
    def apply(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        return [event]


def run(
    batches: list[list[Any]], act: Any, main: dict[int, int] | None = None
) -> tuple[Decoder, FakeReader, list[str]]:
    holder: list[ExpressReader] = []
    consumer = FakeReader(batches, holder)
    decoder = Decoder()
    counted: list[str] = []
    reader = ExpressReader(SETTINGS, consumer, lambda: main or {}, decoder, Transforms(), act,
                           counted=counted.append, sleep=lambda s: None)  # fmt: skip
    holder.append(reader)
    reader.run()
    return decoder, consumer, counted


UNSUB = {"type": "track", "userId": "u", "event": "Saved", "traits": {"unsubscribed": True}}
PLAIN = {"type": "track", "userId": "u", "event": "Page Scrolled", "properties": {"depth": 3}}


def test_only_records_naming_consent_or_erasure_are_decoded_and_acted_on() -> None:
    acted: list[tuple[str, ExpressAction, Position]] = []

    def act(event: Event, action: ExpressAction, at: Position) -> str:
        acted.append((event.type, action, at))
        return "applied"

    deleted = {"type": "track", "userId": "u", "event": "Contact Deleted"}
    resubscribe = {"type": "identify", "userId": "u", "traits": {"unsubscribed": False}}
    decoder, consumer, counted = run([[record(0, PLAIN), record(1, UNSUB), record(2, resubscribe)],
                                      [record(3, deleted, partition=1)]], act)  # fmt: skip
    assert acted == [
        ("track", ExpressAction(unsubscribe=True), Position(0, 1, 1_001)),
        ("track", ExpressAction(erase=True), Position(1, 3, 1_003)),
    ]
    assert decoder.decoded == 3  # the plain track was never decoded
    assert (consumer.commits, consumer.closed, counted) == (2, True, ["applied", "applied"])


def test_what_the_main_group_committed_past_is_left_alone() -> None:
    acted: list[int] = []

    def act(event: Event, action: ExpressAction, at: Position) -> str:
        acted.append(at.offset)
        return "applied"

    run([[record(4, UNSUB), record(5, UNSUB), record(6, UNSUB, partition=1)]], act, main={0: 5})
    assert acted == [5, 6]


def test_a_transient_failure_is_retried_and_anything_else_left_to_the_main_path() -> None:
    attempts: list[int] = []

    def act(event: Event, action: ExpressAction, at: Position) -> str:
        attempts.append(at.offset)
        if at.offset == 0 and len(attempts) < 3:
            raise RateLimited("429", retry_after=1.0)
        if at.offset == 1:
            raise InvalidEventError("a bad email")
        return "applied"

    _, _, counted = run([[record(0, UNSUB), record(1, UNSUB), record(2, UNSUB)]], act)
    assert attempts == [0, 0, 0, 1, 2]
    assert counted == ["applied", "gave_up", "applied"]


def test_the_needles_are_the_consent_words_and_the_delete_triggers() -> None:
    assert needles(SETTINGS) == (b"contact deleted", b"resendtopics", b"unsubscribed")


def test_partitions_whose_main_path_keeps_up_are_not_read_ahead() -> None:
    now = [100.0]
    main = [{0: 100, 1: 50}]
    fake = FakeReader([], [])
    reader = ExpressReader(SETTINGS, fake, lambda: main[0], Decoder(), Transforms(), lambda e, a, at: "applied",
                           clock=lambda: now[0])  # fmt: skip
    fake.end_offsets = {0: 100, 1: 1_000, 2: 10}
    reader._pace()
    # 0: the main path is at the end; 1: far behind, pace unknown; 2: the main group never committed.
    assert fake.paced == [({0}, {1: 50, 2: -1})]
    now[0] += 0.5
    reader._pace()  # asked at most once a second
    now[0] += 0.5
    main[0] = {0: 100, 1: 650, 2: 3}
    reader._pace()  # 1 moved 600 in a second and has 350 to go: there well within the threshold
    assert fake.paced[-1] == ({0, 1}, {2: 3})
    now[0] += 1.0
    main[0] = {0: 100, 1: 650, 2: 3}
    fake.end_offsets = {0: 101, 1: 1_000, 2: 10}
    reader._pace()  # the main path stopped moving: read ahead again, from where it committed
    assert fake.paced[-1] == (set(), {0: 100, 1: 650, 2: 3})


def acted_offsets(batches: list[list[Any]], settings: Any = SETTINGS, decoder: Any = None) -> list[int]:
    """The offsets the express path acted on, reading ``batches`` with ``settings`` and ``decoder``."""
    acted: list[int] = []

    def act(event: Event, action: ExpressAction, at: Position) -> str:
        acted.append(at.offset)
        return "applied"

    holder: list[ExpressReader] = []
    reader = ExpressReader(settings, FakeReader(batches, holder), dict, decoder or Decoder(), Transforms(), act,
                           sleep=lambda s: None)  # fmt: skip
    holder.append(reader)
    reader.run()
    return acted


def raw(offset: int, value: bytes, partition: int = 0) -> AheadRecord:
    return AheadRecord(partition, offset, value, 1_000 + offset)


def test_an_opt_out_spelled_with_json_escapes_or_in_another_case_is_not_missed() -> None:
    escaped_key = b'{"type": "track", "userId": "u", "event": "Saved", "traits": {"unsub\\u0073cribed": true}}'
    escaped_name = b'{"type": "track", "userId": "u", "event": "Contact Delet\\u0065d"}'
    escaped_topics = b'{"type": "identify", "userId": "u", "traits": {"\\u0072esendTopics": "News:opt_out"}}'
    upper = b'{"type": "track", "userId": "u", "event": "Saved", "traits": {"UNSUBSCRIBED": true}}'
    kelvin = b'{"type": "Trac\xe2\x84\xaa", "userId": "u", "event": "Contact Deleted"}'
    plain = json.dumps(PLAIN).encode()
    batch = [raw(0, escaped_key), raw(1, escaped_name), raw(2, escaped_topics), raw(3, upper), raw(4, plain),
             raw(5, kelvin)]  # fmt: skip
    assert acted_offsets([batch]) == [0, 1, 2, 3, 5]
    assert not may_be_express(plain, needles(SETTINGS))
    assert may_be_express(b'{"a": "\\u0041"}', needles(SETTINGS))  # any \u escape: decoded


def test_a_delete_trigger_with_letters_beyond_ascii_is_matched_as_written() -> None:
    settings = load_settings(resend={"api_key": "re_test"}, destination={"delete_event_names": ["ÉFFACER"]})
    value = json.dumps({"type": "track", "userId": "u", "event": "ÉFFACER"}, ensure_ascii=False).encode()
    assert acted_offsets([[raw(0, value)]], settings) == [0]


def test_avro_is_always_decoded_its_field_names_are_not_in_the_bytes() -> None:
    traits = {"type": "record", "name": "T", "fields": [{"name": "unsubscribed", "type": "boolean"}]}
    schema = parse({"type": "record", "name": "Mine", "fields": [
        {"name": "type", "type": "string"}, {"name": "userId", "type": "string"}, {"name": "event", "type": "string"},
        {"name": "traits", "type": traits},
    ]})  # fmt: skip
    out = io.BytesIO()
    fastavro.schemaless_writer(out, schema, {"type": "track", "userId": "u", "event": "Saved",
                                             "traits": {"unsubscribed": True}})  # fmt: skip
    assert b"unsubscribed" not in out.getvalue()
    settings = load_settings(resend={"api_key": "re_test"}, kafka={"topic": "events", "input_format": "avro"})
    assert acted_offsets([[raw(0, out.getvalue())]], settings, AvroDecoder("avro", bare_schema=schema)) == [0]


def test_with_transformation_functions_every_record_is_decoded_and_transformed() -> None:
    settings = load_settings(resend={"api_key": "re_test"}, kafka={"topic": "events"},
                             transforms={"functions": ["operator:or_"]})  # fmt: skip
    decoder = Decoder()
    assert acted_offsets([[record(0, PLAIN), record(1, UNSUB)]], settings, decoder) == [1]
    assert decoder.decoded == 2  # the plain track too: a function could have made an opt-out of it


def test_a_copy_produced_again_is_acted_on_at_the_older_place_it_names() -> None:
    # The console's Sync again (issue #26): the express path judges the copy where the main path does.
    acted: list[Position] = []

    def act(event: Event, action: ExpressAction, at: Position) -> str:
        acted.append(at)
        return "applied"

    copy = record(20, UNSUB)._replace(headers=((SYNC_AGAIN_OF, b"0:5:1005"),))
    forged = record(21, UNSUB)._replace(headers=((SYNC_AGAIN_OF, b"0:99:1099"),))  # newer: ignored
    run([[copy, forged]], act)
    assert acted == [Position(0, 5, 1_005), Position(0, 21, 1_021)]
