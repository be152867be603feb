"""The lost-join remedy against kafka-python's coordinator state, faked."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from connector.kafka.workarounds import join_in_flight, repair_lost_join


@dataclass
class Task:
    is_done: bool


@dataclass
class Coordinator:
    _join_task: Task | None
    rejoin_needed: bool = False
    rejoins: list[str] = field(default_factory=list)

    def need_rejoin(self) -> bool:
        return self.rejoin_needed

    def request_rejoin(self) -> None:
        self.rejoins.append("requested")
        self.rejoin_needed = True


@dataclass
class Consumer:
    _coordinator: Any


def test_a_finished_join_nobody_will_collect_asks_for_a_rejoin() -> None:
    coordinator = Coordinator(Task(is_done=True), rejoin_needed=False)
    assert repair_lost_join(Consumer(coordinator)) is True
    assert coordinator.rejoins == ["requested"]
    assert repair_lost_join(Consumer(coordinator)) is False  # the next poll() rejoins: asked once only


def test_a_join_still_running_or_about_to_be_collected_is_left_alone() -> None:
    for coordinator in (
        Coordinator(Task(is_done=False)),
        Coordinator(Task(is_done=True), rejoin_needed=True),
        Coordinator(None),
    ):
        assert repair_lost_join(Consumer(coordinator)) is False
        assert coordinator.rejoins == []


def test_join_in_flight_follows_the_join_task() -> None:
    assert join_in_flight(Consumer(Coordinator(Task(is_done=False)))) is True
    assert join_in_flight(Consumer(Coordinator(Task(is_done=True)))) is True
    assert join_in_flight(Consumer(Coordinator(None))) is False


def test_a_kafka_python_without_this_state_gets_no_remedy_and_no_error() -> None:
    assert repair_lost_join(object()) is False
    assert join_in_flight(object()) is False
    assert repair_lost_join(Consumer(object())) is False
