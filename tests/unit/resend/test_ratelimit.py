"""The limiter's arithmetic: the shipped Lua scripts run in fakeredis (Lua via lupa) on a clock we move.

Only the Redis ``TIME`` command reads the fake clock, so the scripts' own view of "now" is exact and
nothing here sleeps.
"""

from __future__ import annotations

import threading
import types
from collections.abc import Callable, Iterator

import fakeredis
import pytest
import redis
from fakeredis.commands_mixins import server_mixin

from connector.resend import RateLimiter
from connector.resend.ratelimit import announced_rate, first_in_line

START = 1_700_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = START

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    # fakeredis answers TIME from its module's ``time.time``; give that module our clock instead.
    monkeypatch.setattr(server_mixin, "time", types.SimpleNamespace(time=lambda: clock.now))
    return clock


@pytest.fixture
def store() -> Iterator[fakeredis.FakeRedis]:
    client = fakeredis.FakeRedis(decode_responses=True)
    yield client
    client.close()


@pytest.fixture
def limiter(store: fakeredis.FakeRedis, clock: Clock) -> Callable[..., RateLimiter]:
    def make(cap: float | None = 2.0, burst: int = 1, team: str = "team", share: float = 0.8) -> RateLimiter:
        return RateLimiter(store, team=team, share=share, cap=cap, burst=burst, prefix="test:")

    return make


def test_slots_are_one_interval_apart(limiter: Callable[..., RateLimiter], clock: Clock) -> None:
    gcra = limiter(cap=2.0)
    assert gcra.wait_ms() == 0
    assert gcra.wait_ms() == 500  # the next slot is 1/2 s after the first
    clock.advance(0.2)
    assert gcra.wait_ms() == 300
    clock.advance(0.3)
    assert gcra.wait_ms() == 0
    assert gcra.wait_ms() == 500


def test_a_refused_ask_takes_no_slot(limiter: Callable[..., RateLimiter], clock: Clock) -> None:
    gcra = limiter(cap=4.0)
    assert gcra.wait_ms() == 0
    for _ in range(5):
        assert gcra.wait_ms() == 250
    clock.advance(0.25)
    assert gcra.wait_ms() == 0


def test_idle_time_is_not_banked(limiter: Callable[..., RateLimiter], clock: Clock) -> None:
    gcra = limiter(cap=2.0)
    assert gcra.wait_ms() == 0
    clock.advance(60)
    assert gcra.wait_ms() == 0
    assert gcra.wait_ms() == 500  # a quiet minute does not buy a burst


def test_burst_allows_back_to_back_slots(limiter: Callable[..., RateLimiter], clock: Clock) -> None:
    gcra = limiter(cap=10.0, burst=3)
    assert [gcra.wait_ms() for _ in range(3)] == [0, 0, 0]
    assert gcra.wait_ms() == 100


def test_n_slots_in_any_second(limiter: Callable[..., RateLimiter], clock: Clock) -> None:
    gcra = limiter(cap=5.0)
    granted: list[int] = []
    for ms in range(0, 10_000, 4):  # ask every 4 ms for ten seconds
        clock.now = START + ms / 1000
        if gcra.wait_ms() == 0:
            granted.append(ms)
    assert len(granted) == 50
    for t in granted:
        assert sum(1 for u in granted if t <= u < t + 1000) <= 5


def announce(limit: int, remaining: int | None = None, window: int = 1) -> dict[str, str]:
    headers = {"ratelimit-limit": str(limit), "ratelimit-policy": f"{limit};w={window}"}
    if remaining is not None:
        headers["ratelimit-remaining"] = str(remaining)
    return headers


def test_the_announced_limit_times_the_share_is_the_rate_and_the_cap_caps_it(
    limiter: Callable[..., RateLimiter], clock: Clock
) -> None:
    gcra = limiter(cap=None)
    assert gcra.wait_ms() == 0
    assert gcra.wait_ms() == 1000  # nothing announced yet: the safe start, 1 per second
    gcra.observe(announce(5), 200)
    clock.advance(1.0)
    assert gcra.wait_ms() == 0
    assert gcra.wait_ms() == 250  # 0.8 x 5 per second
    capped = limiter(cap=2.0)
    clock.advance(0.25)
    assert capped.wait_ms() == 0
    assert capped.wait_ms() == 500  # this process's cap, on the same shared slots
    assert gcra.in_force() == {"announced_per_second": 5.0, "share": 0.8, "cap_per_second": None,
                               "other_per_second": 0.0, "requests_per_second": 4.0}  # fmt: skip


def test_an_announced_limit_that_changes_is_followed_both_ways(
    limiter: Callable[..., RateLimiter], clock: Clock
) -> None:
    gcra = limiter(cap=None)
    gcra.observe(announce(10), 200)
    assert gcra.in_force()["requests_per_second"] == 8.0
    gcra.observe(announce(2), 200)
    assert gcra.in_force()["requests_per_second"] == pytest.approx(1.6)
    gcra.observe(announce(120, window=60), 200)  # 120 a minute: 2 per second
    assert gcra.in_force()["requests_per_second"] == pytest.approx(1.6)
    gcra.observe(announce(20), 200)
    assert gcra.in_force()["requests_per_second"] == 16.0


def test_every_process_of_a_team_shares_the_limit(limiter: Callable[..., RateLimiter], clock: Clock) -> None:
    first, second, other_team = limiter(team="a"), limiter(team="a"), limiter(team="b")
    assert first.wait_ms() == 0
    assert second.wait_ms() == 500
    assert other_team.wait_ms() == 0
    second.observe(announce(1), 200)
    clock.advance(0.5)
    assert first.wait_ms() == 0
    assert second.wait_ms() == 1250  # what one process heard, the other follows: 0.8 x 1 per second


def test_other_traffic_in_the_windows_lowers_the_rate_and_its_end_restores_it(
    limiter: Callable[..., RateLimiter], clock: Clock
) -> None:
    first, second = limiter(cap=None), limiter(cap=None)
    # Four of ours a second, spread over two processes, and one of someone else's before our third.
    for _ in range(5):
        for i, used in enumerate((1, 2, 4, 5)):
            (first if i % 2 else second).observe(announce(5, remaining=5 - used), 200)
            clock.advance(0.25)
    status = first.in_force()
    assert status["other_per_second"] == pytest.approx(1.0)
    assert status["requests_per_second"] == pytest.approx(3.5)  # 5 - 1 - headroom 0.5
    assert second.in_force() == status  # shared
    for _ in range(12):  # the other caller stopped: within the memory the rate comes back
        for used in (1, 2, 3, 4):
            first.observe(announce(5, remaining=5 - used), 200)
            clock.advance(0.25)
    assert first.in_force()["other_per_second"] == 0.0
    assert first.in_force()["requests_per_second"] == pytest.approx(4.0)


def test_an_answer_overtaken_by_a_later_slots_answer_is_not_taken_for_other_traffic(
    limiter: Callable[..., RateLimiter], clock: Clock
) -> None:
    gcra = limiter(cap=None)
    for _ in range(6):  # four of ours a window; the second's answer comes after the third's
        granted = []
        for _ in range(4):
            granted.append(int(clock.now * 1000))
            clock.advance(0.25)
        for i in (0, 2, 1, 3):
            gcra.observe(announce(5, remaining=5 - (i + 1)), 200, granted[i])
    assert gcra.in_force()["other_per_second"] == 0.0


def test_a_429_the_connector_did_not_cause_counts_as_other_traffic(
    limiter: Callable[..., RateLimiter], clock: Clock
) -> None:
    gcra = limiter(cap=None)
    for _ in range(3):
        gcra.observe(announce(5, remaining=4), 200)  # ours, first in its window
        clock.advance(0.3)
        gcra.observe(announce(5, remaining=0), 429)  # the window is full: four others took it
        clock.advance(0.7)
    gcra.observe(announce(5, remaining=4), 200)
    assert gcra.in_force()["other_per_second"] == pytest.approx(4.0)
    assert gcra.in_force()["requests_per_second"] == pytest.approx(0.5)  # the floor: a tenth of the limit


def test_answers_without_headers_change_nothing(
    limiter: Callable[..., RateLimiter], store: fakeredis.FakeRedis
) -> None:
    gcra = limiter(cap=3.0)
    gcra.observe({}, 200)
    assert store.keys("*announced*") == []
    assert gcra.in_force()["requests_per_second"] == 3.0


def test_status_falls_back_on_what_the_process_heard_when_redis_is_gone(
    limiter: Callable[..., RateLimiter], store: fakeredis.FakeRedis, monkeypatch: pytest.MonkeyPatch
) -> None:
    gcra = limiter(cap=None)
    gcra.observe(announce(5, remaining=4), 200)

    def gone(*args: object) -> None:
        raise redis.ConnectionError("gone")

    monkeypatch.setattr(store, "mget", gone)
    assert gcra.in_force()["announced_per_second"] == 5.0
    assert gcra.in_force()["requests_per_second"] == 4.0


def test_cool_down_stops_everyone_and_never_shortens(limiter: Callable[..., RateLimiter], clock: Clock) -> None:
    first, second = limiter(), limiter()
    first.cool_down(3.0)
    assert second.wait_ms() == 3000
    second.cool_down(1.0)  # a shorter wait heard later does not end the longer one
    clock.advance(2.0)
    assert first.wait_ms() == 1000
    clock.advance(1.0)
    assert first.wait_ms() == 0


def test_a_caller_first_in_line_takes_the_next_slot_before_the_others(
    limiter: Callable[..., RateLimiter], store: fakeredis.FakeRedis, clock: Clock
) -> None:
    # One team at a slot per 5 s: fakeredis expires keys on the real clock, which must not reach the mark's end.
    worker, other_worker, express = limiter(cap=0.2), limiter(cap=0.2), limiter(cap=0.2)
    assert worker.wait_ms() == 0
    with first_in_line():
        assert express.wait_ms() == 5000  # the next slot, marked as taken by it
    assert 5000 < store.pttl("test:ratelimit:{team}:first") <= 10_000  # lapses one interval after that slot
    assert other_worker.wait_ms() == 10_000  # comes back after the express caller's slot
    clock.advance(5.0)
    assert worker.wait_ms() == 5000  # the slot is due, but it is the express caller's
    with first_in_line():
        assert express.wait_ms() == 0
    assert not store.exists("test:ratelimit:{team}:first")
    assert worker.wait_ms() == 5000  # then the rate goes on as before: one slot per interval
    clock.advance(5.0)
    assert worker.wait_ms() == 0


def test_callers_first_in_line_take_every_slot_while_they_keep_coming(
    limiter: Callable[..., RateLimiter], clock: Clock
) -> None:
    worker, express = limiter(cap=0.2), limiter(cap=0.2)  # a slot per 5 s
    with first_in_line():
        assert express.wait_ms() == 0
        assert express.wait_ms() == 5000  # its next call marks the next slot...
    assert worker.wait_ms() == 10_000
    clock.advance(5.0)
    assert worker.wait_ms() == 5000  # ...which the worker cannot have
    with first_in_line():
        assert express.wait_ms() == 0
    assert worker.wait_ms() == 5000  # once they stop, the worker has the next one
    clock.advance(5.0)
    assert worker.wait_ms() == 0


def test_first_in_line_waits_out_a_cool_down_and_still_goes_first(
    limiter: Callable[..., RateLimiter], clock: Clock
) -> None:
    worker, express = limiter(cap=0.2), limiter(cap=0.2)
    worker.cool_down(8.0)
    with first_in_line():
        assert express.wait_ms() == 8000  # a 429's cool-down holds everyone, this caller too
    assert worker.wait_ms() == 13_000
    clock.advance(8.0)
    assert worker.wait_ms() == 5000
    with first_in_line():
        assert express.wait_ms() == 0


def test_first_in_line_holds_inside_its_block_on_its_own_thread_only(
    limiter: Callable[..., RateLimiter], store: fakeredis.FakeRedis
) -> None:
    gcra = limiter()
    assert gcra.wait_ms() == 0
    seen: list[int] = []
    with first_in_line():
        worker = threading.Thread(target=lambda: seen.append(gcra.wait_ms()))
        worker.start()
        worker.join()
        assert not store.exists("test:ratelimit:{team}:first")  # the other thread waited as anyone does
    assert seen == [500]
    assert gcra.wait_ms() == 500  # the block is over: an ordinary caller again
    assert not store.exists("test:ratelimit:{team}:first")


def test_acquire_sleeps_what_the_script_says(store: fakeredis.FakeRedis, clock: Clock) -> None:
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.advance(seconds)

    gcra = RateLimiter(store, team="t", cap=4.0, prefix="test:", sleep=sleep)
    assert gcra.acquire() == 0.0
    assert gcra.acquire() == pytest.approx(0.25)
    assert slept == [pytest.approx(0.25)]


def test_keys_name_the_fingerprint_not_the_key(limiter: Callable[..., RateLimiter], store: fakeredis.FakeRedis) -> None:
    limiter(team="0123abcd").wait_ms()
    assert store.keys() == ["test:ratelimit:{0123abcd}:tat"]


@pytest.mark.parametrize(
    ("headers", "rate"),
    [
        ({"ratelimit-limit": "2"}, 2.0),
        ({"ratelimit-limit": "10", "ratelimit-policy": "10;w=1"}, 10.0),
        ({"ratelimit-limit": "120", "ratelimit-policy": "120;w=60"}, 2.0),
        ({"ratelimit-limit": "5", "ratelimit-policy": "garbage"}, 5.0),
        ({"ratelimit-limit": "0"}, None),
        ({"ratelimit-limit": "many"}, None),
        ({}, None),
    ],
)
def test_announced_rate_reads_limit_per_window(headers: dict[str, str], rate: float | None) -> None:
    assert announced_rate(headers) == rate


def test_redis_failing_while_an_answer_is_heard_does_not_fail_the_call(
    limiter: Callable[..., RateLimiter], store: fakeredis.FakeRedis, monkeypatch: pytest.MonkeyPatch
) -> None:
    gcra = limiter(cap=None)

    def gone(*args: object, **kwargs: object) -> None:
        raise redis.ConnectionError("gone")

    monkeypatch.setattr(gcra, "_observe", gone)
    gcra.observe(announce(5, remaining=4), 200)  # no exception: Resend's answer stands
    monkeypatch.undo()
    gcra.observe(announce(5, remaining=3), 200)
    assert gcra.in_force()["requests_per_second"] == 4.0
