"""RecordProcessor's read ahead: each record decoded once, identifies' events handed to the sync."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from connector.errors import DecodeError
from connector.events import Event
from connector.pipeline.processor import RecordProcessor


class CountingDecoder:
    def __init__(self) -> None:
        self.decoded: list[bytes] = []

    def decode(self, value: bytes) -> dict[str, Any]:
        self.decoded.append(value)
        try:
            return dict(json.loads(value))
        except ValueError as exc:
            raise DecodeError("not JSON") from exc


class NoTransforms:
    def apply(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        return [event]


class RecordingSync:
    def __init__(self) -> None:
        self.ahead: list[list[str]] = []
        self.handled: list[str] = []

    @contextlib.contextmanager
    def reading_ahead(self, events: Sequence[Event]) -> Iterator[None]:
        self.ahead.append([e.type for e in events])
        yield

    def handle(self, event: Event) -> Any:
        self.handled.append(event.type)
        return type("Outcome", (), {"status": "applied", "reason": ""})()

    def plan(self, event: Event) -> Sequence[Any]:
        return ()


def test_records_read_ahead_are_decoded_once_and_a_bad_one_fails_at_its_turn() -> None:
    decoder, sync = CountingDecoder(), RecordingSync()
    processor = RecordProcessor(decoder, NoTransforms(), sync)
    values = [b'{"type": "identify", "traits": {"email": "a@x.io"}}', b"{not json", b'{"type": "track", "event": "E"}']
    with processor.reading_ahead(values):
        assert [r.status for r in processor.process(values[0])] == ["applied"]
        with pytest.raises(DecodeError):
            processor.process(values[1])
        processor.process(values[2])
    assert sync.ahead == [["identify"]]  # only identifies read contact state
    assert sync.handled == ["identify", "track"]
    assert decoder.decoded == [*values, values[1]]  # good records once; the bad one again, at its turn


def test_outside_a_read_ahead_every_record_is_decoded_at_its_turn() -> None:
    decoder, sync = CountingDecoder(), RecordingSync()
    processor = RecordProcessor(decoder, NoTransforms(), sync)
    value = b'{"type": "identify", "traits": {"email": "a@x.io"}}'
    with processor.reading_ahead([value]):
        pass
    processor.process(value)  # the batch is over: its decoded copy is gone
    assert decoder.decoded == [value, value]
