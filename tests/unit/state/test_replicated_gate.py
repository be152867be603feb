"""The commit gate (issue #27): offsets are committed only once replicas hold the Redis writes before
them, and never again by a process that saw another master take over (it stops and starts again)."""

from __future__ import annotations

import pytest
import redis

import connector.redisio
from connector.errors import StateStoreFailedOver
from connector.redisio import ReplicatedGate
from connector.settings import RedisSettings

A = (("master", "replid-a"),)
B = (("master", "replid-b"),)


class Script:
    """What ``replicated`` answers, one pair per call; records the WAITs asked for."""

    def __init__(self, *answers: tuple[int, tuple[tuple[str, str], ...]]) -> None:
        self.answers = list(answers)
        self.asked: list[tuple[int, int]] = []

    def __call__(self, client: object, replicas: int, timeout_ms: int, marker: str) -> tuple[int, object]:
        self.asked.append((replicas, timeout_ms))
        return self.answers.pop(0)


@pytest.fixture
def clock() -> list[float]:
    return [1000.0]


def gate(
    monkeypatch: pytest.MonkeyPatch, script: Script, wanted: int = 1, clock: list[float] | None = None
) -> ReplicatedGate:
    monkeypatch.setattr(connector.redisio, "replicated", script)
    settings = RedisSettings(commit_after_replicas=wanted, replica_wait_ms=300)
    now = clock or [0.0]
    return ReplicatedGate(redis.Redis(), settings, clock=lambda: now[0])


def test_off_by_default_asks_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    script = Script()
    assert gate(monkeypatch, script, wanted=0)() is True
    assert script.asked == []


def test_commits_wait_for_a_replica_and_do_not_block_the_loop_meanwhile(
    monkeypatch: pytest.MonkeyPatch, clock: list[float]
) -> None:
    script = Script((0, A), (1, A), (0, A), (1, A))
    allowed = gate(monkeypatch, script, clock=clock)  # the first answer: which master serves us at start
    assert allowed() is True
    assert allowed() is False  # no replica acknowledged within 300 ms
    clock[0] += 1.0
    assert allowed() is False  # within the back-off: not asked again
    clock[0] += 2.0
    assert allowed() is True
    assert script.asked == [(0, 0), (1, 300), (1, 300), (1, 300)]


def test_another_master_stops_the_process_once_and_commits_nothing_more(
    monkeypatch: pytest.MonkeyPatch, clock: list[float]
) -> None:
    allowed = gate(monkeypatch, Script((1, A), (1, B)))
    with pytest.raises(StateStoreFailedOver):
        allowed()
    assert allowed() is False  # the shutdown's last commit
    assert allowed(ask=False) is False  # the commit on revoke, when the consumer closes


def test_the_revoke_check_asks_redis_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    script = Script((1, A))
    allowed = gate(monkeypatch, script)
    assert allowed(ask=False) is True
    assert len(script.asked) == 1  # only the start's
