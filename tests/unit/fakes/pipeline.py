"""The pipeline's side in unit tests: a decoder, no transforms, a scripted sync behind the real
lifecycle, and a runner over the fake wrapper (or, for the wrapper's own tests, over the real wrapper
above kafka-python's fake consumer), run until a condition holds."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from connector.dead_letters.sink import DeadLetterTopic
from connector.events import Event
from connector.kafka.consumer import Consumer
from connector.pipeline.lifecycle import Lifecycle
from connector.pipeline.metrics import Metrics
from connector.pipeline.runner import Runner
from connector.settings import KafkaSettings
from connector.sync import ReadAhead, SyncResult
from tests.unit.fakes.kafka import FakeConsumer, FakeKafkaConsumer, RecordingDeadLetters

__all__ = ["NoTransforms", "ScriptedSync", "ValueDecoder", "lifecycle", "make_runner", "run_until"]


class ValueDecoder:
    """Each value decodes to an event whose messageId is the value (so fakes can script by value)."""

    def decode(self, value: bytes) -> dict[str, Any]:
        return {"type": "identify", "messageId": value.decode(), "traits": {}}


class NoTransforms:
    empty = True

    def apply(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        return [event]


class ScriptedSync:
    """Fails each value as scripted (a list of exceptions to raise first), then applies it."""

    def __init__(self, script: dict[bytes, list[BaseException]]) -> None:
        self.script = {k: deque(v) for k, v in script.items()}
        self.applied: list[bytes] = []
        self.lock = threading.Lock()

    def handle(self, event: Event, ahead: ReadAhead | None = None) -> SyncResult:
        value = (event.message_id or "").encode()
        with self.lock:
            pending = self.script.get(value)
            if pending:
                raise pending.popleft()
            self.applied.append(value)
        return SyncResult("applied")

    def read_ahead(self, events: Any) -> ReadAhead:
        return ReadAhead({})

    def plan(self, event: Event) -> list[Any]:
        return []

    def decider(self) -> Callable[[Event], SyncResult | None]:
        return lambda event: None  # every event is scripted: each goes to a worker

    def identify(self, value: bytes | None) -> dict[str, Any]:
        return {}


def run_until(runner: Runner, consumer: FakeConsumer | FakeKafkaConsumer, done: Callable[[], bool]) -> None:
    def idle() -> None:
        if done():
            runner.stop()

    consumer.on_idle = idle
    thread = threading.Thread(target=runner.run)
    thread.start()
    thread.join(timeout=20)
    assert not thread.is_alive(), "runner did not stop"


def lifecycle(sync: Any, dlq: RecordingDeadLetters, settings: KafkaSettings) -> Lifecycle:
    return Lifecycle(ValueDecoder(), NoTransforms(), sync, DeadLetterTopic(dlq, settings.dead_letter_topic, "test"))


def make_runner(
    consumer: FakeConsumer | FakeKafkaConsumer,
    sync: Any,
    dlq: RecordingDeadLetters,
    settings: KafkaSettings | None = None,
) -> Runner:
    """The runner over the fake wrapper; over the real wrapper when given kafka-python's fake consumer."""
    settings = settings or KafkaSettings(max_in_flight_contacts=4)
    wrapper = Consumer(consumer, settings.topic) if isinstance(consumer, FakeKafkaConsumer) else consumer
    return Runner(settings, wrapper, lifecycle(sync, dlq, settings), Metrics())  # type: ignore[arg-type]
