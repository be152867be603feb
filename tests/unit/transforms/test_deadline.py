"""DeadlineRunner: results and exceptions come back; overrunning calls are abandoned, and counted."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from connector.errors import RetryableError
from connector.transforms.deadline import DeadlineRunner, Overran
from tests.conftest import wait_for

RELAXED = 30.0


@pytest.fixture
def gate() -> Iterator[threading.Event]:
    event = threading.Event()
    yield event
    event.set()


@pytest.fixture
def runner() -> Iterator[DeadlineRunner]:
    made = DeadlineRunner(max_abandoned=2, name="test")
    yield made
    made.close()


def test_results_and_exceptions_come_back_to_the_caller(runner: DeadlineRunner) -> None:
    assert runner.call(lambda a, b: a + b, 2, 3, timeout=RELAXED) == 5
    with pytest.raises(ZeroDivisionError):
        runner.call(lambda: 1 / 0, timeout=RELAXED)


def test_calls_run_on_daemon_threads_that_are_reused(runner: DeadlineRunner) -> None:
    threads = {runner.call(threading.current_thread, timeout=RELAXED) for _ in range(20)}
    assert len(threads) == 1
    [thread] = threads
    assert thread.daemon
    assert thread is not threading.current_thread()


def test_new_calls_never_wait_behind_an_abandoned_one(runner: DeadlineRunner, gate: threading.Event) -> None:
    with pytest.raises(Overran) as caught:
        runner.call(gate.wait, timeout=0.05)
    assert "wait" in caught.value.stack
    assert runner.abandoned == 1
    results: list[int] = []
    callers = [
        threading.Thread(target=lambda: results.append(runner.call(int, "7", timeout=RELAXED))) for _ in range(16)
    ]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join()
    assert results == [7] * 16
    gate.set()
    wait_for(lambda: runner.abandoned == 0, timeout=10, what="the abandoned call to return")


def test_beyond_the_bound_of_abandoned_calls_new_work_is_refused(runner: DeadlineRunner, gate: threading.Event) -> None:
    for _ in range(2):
        with pytest.raises(Overran):
            runner.call(gate.wait, timeout=0.05)
    assert not runner.healthy
    with pytest.raises(RetryableError, match="2 calls overran"):
        runner.call(int, "1", timeout=RELAXED)
    gate.set()
    wait_for(lambda: runner.healthy, timeout=10, what="the abandoned calls to return")
    assert runner.call(int, "1", timeout=RELAXED) == 1


def test_a_closed_runner_refuses_calls(runner: DeadlineRunner) -> None:
    runner.call(int, "1", timeout=RELAXED)
    runner.close()
    with pytest.raises(RuntimeError, match="closed"):
        runner.call(int, "1", timeout=RELAXED)
