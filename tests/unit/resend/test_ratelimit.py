"""The limiter's arithmetic: the shipped Lua scripts run in fakeredis (Lua via lupa) on a clock we move.

Only the Redis ``TIME`` command reads the fake clock, so the scripts' own view of "now" is exact and
nothing here sleeps.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Iterator

import fakeredis
import pytest
from fakeredis.commands_mixins import server_mixin

from connector.resend import RateLimiter
from connector.resend.ratelimit import announced_rate

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
    def make(ceiling: float = 2.0, burst: int = 1, team: str = "team") -> RateLimiter:
        return RateLimiter(store, team=team, ceiling=ceiling, burst=burst, prefix="test:")

    return make


def test_slots_are_one_interval_apart(limiter: Callable[..., RateLimiter], clock: Clock) -> None:
    gcra = limiter(ceiling=2.0)
    assert gcra.wait_ms() == 0
    assert gcra.wait_ms() == 500  # the next slot is 1/2 s after the first
    clock.advance(0.2)
    assert gcra.wait_ms() == 300
    clock.advance(0.3)
    assert gcra.wait_ms() == 0
    assert gcra.wait_ms() == 500


def test_a_refused_ask_takes_no_slot(limiter: Callable[..., RateLimiter], clock: Clock) -> None:
    gcra = limiter(ceiling=4.0)
    assert gcra.wait_ms() == 0
    for _ in range(5):
        assert gcra.wait_ms() == 250
    clock.advance(0.25)
    assert gcra.wait_ms() == 0


def test_idle_time_is_not_banked(limiter: Callable[..., RateLimiter], clock: Clock) -> None:
    gcra = limiter(ceiling=2.0)
    assert gcra.wait_ms() == 0
    clock.advance(60)
    assert gcra.wait_ms() == 0
    assert gcra.wait_ms() == 500  # a quiet minute does not buy a burst


def test_burst_allows_back_to_back_slots(limiter: Callable[..., RateLimiter], clock: Clock) -> None:
    gcra = limiter(ceiling=10.0, burst=3)
    assert [gcra.wait_ms() for _ in range(3)] == [0, 0, 0]
    assert gcra.wait_ms() == 100


def test_n_slots_in_any_second(limiter: Callable[..., RateLimiter], clock: Clock) -> None:
    gcra = limiter(ceiling=5.0)
    granted: list[int] = []
    for ms in range(0, 10_000, 4):  # ask every 4 ms for ten seconds
        clock.now = START + ms / 1000
        if gcra.wait_ms() == 0:
            granted.append(ms)
    assert len(granted) == 50
    for t in granted:
        assert sum(1 for u in granted if t <= u < t + 1000) <= 5


def test_announced_limit_lowers_the_rate_but_never_raises_it(limiter: Callable[..., RateLimiter], clock: Clock) -> None:
    gcra = limiter(ceiling=10.0)
    assert gcra.wait_ms() == 0
    assert gcra.wait_ms() == 100
    gcra.observe_limit(2.0)
    clock.advance(0.1)
    assert gcra.wait_ms() == 0
    assert gcra.wait_ms() == 500
    gcra.observe_limit(100.0)  # above the ceiling: the ceiling applies
    clock.advance(0.5)
    assert gcra.wait_ms() == 0
    assert gcra.wait_ms() == 100


def test_every_process_of_a_team_shares_the_limit(limiter: Callable[..., RateLimiter], clock: Clock) -> None:
    first, second, other_team = limiter(team="a"), limiter(team="a"), limiter(team="b")
    assert first.wait_ms() == 0
    assert second.wait_ms() == 500
    assert other_team.wait_ms() == 0
    second.observe_limit(1.0)
    clock.advance(0.5)
    assert first.wait_ms() == 0
    assert second.wait_ms() == 1000  # what one process heard, the other follows


def test_cool_down_stops_everyone_and_never_shortens(limiter: Callable[..., RateLimiter], clock: Clock) -> None:
    first, second = limiter(), limiter()
    first.cool_down(3.0)
    assert second.wait_ms() == 3000
    second.cool_down(1.0)  # a shorter wait heard later does not end the longer one
    clock.advance(2.0)
    assert first.wait_ms() == 1000
    clock.advance(1.0)
    assert first.wait_ms() == 0


def test_acquire_sleeps_what_the_script_says(store: fakeredis.FakeRedis, clock: Clock) -> None:
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.advance(seconds)

    gcra = RateLimiter(store, team="t", ceiling=4.0, prefix="test:", sleep=sleep)
    assert gcra.acquire() == 0.0
    assert gcra.acquire() == pytest.approx(0.25)
    assert slept == [pytest.approx(0.25)]


def leasing(
    store: fakeredis.FakeRedis, clock: Clock, ceiling: float, team: str = "t"
) -> tuple[RateLimiter, list[float]]:
    """A limiter whose sleeps move the clock; returns it with the list of what it slept."""
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.advance(seconds)

    limiter = RateLimiter(store, team=team, ceiling=ceiling, prefix="test:", sleep=sleep, clock=lambda: clock.now)
    return limiter, slept


def tat(store: fakeredis.FakeRedis) -> float:
    return float(store.get("test:ratelimit:t:tat") or 0)


def test_at_a_high_rate_one_ask_takes_the_next_50_ms_of_slots(store: fakeredis.FakeRedis, clock: Clock) -> None:
    limiter, slept = leasing(store, clock, ceiling=1000.0)
    other, _ = leasing(store, clock, ceiling=1000.0)
    assert limiter.acquire() == 0.0
    leased_until = tat(store)
    assert leased_until == pytest.approx(START * 1000 + 50, abs=1)  # 50 slots, one ms apart, taken at once
    assert other.wait_ms() == 50  # another process waits for the end of the lease
    for _ in range(49):
        limiter.acquire()
    assert tat(store) == leased_until  # 49 more requests, no Redis call
    assert slept == [pytest.approx(0.001, abs=1e-5)] * 49  # spent one interval apart: the rate's pace
    limiter.acquire()
    assert tat(store) > leased_until  # the lease is spent: Redis again


def test_at_resends_usual_rates_every_request_asks_redis(store: fakeredis.FakeRedis, clock: Clock) -> None:
    limiter, slept = leasing(store, clock, ceiling=10.0)
    limiter.acquire()
    limiter.acquire()
    assert slept == [pytest.approx(0.1)]  # the second slot came from Redis, 100 ms later
    assert tat(store) == pytest.approx(START * 1000 + 200, abs=1)


def test_slots_not_spent_in_time_are_given_up(store: fakeredis.FakeRedis, clock: Clock) -> None:
    limiter, slept = leasing(store, clock, ceiling=1000.0)
    limiter.acquire()
    clock.advance(1.0)  # idle: the 49 slots left are stale
    limiter.acquire()
    assert tat(store) == pytest.approx((START + 1.0) * 1000 + 50, abs=1)  # a fresh lease, not a burst of old slots
    assert slept == []


def test_a_cool_down_or_a_lower_limit_drops_the_lease(store: fakeredis.FakeRedis, clock: Clock) -> None:
    limiter, slept = leasing(store, clock, ceiling=1000.0)
    limiter.acquire()
    limiter.cool_down(2.0)
    limiter.acquire()
    assert slept == [pytest.approx(2.0)]  # waited out the cool-down instead of spending leased slots
    limiter.observe_limit(2.0)  # the slots leased after the cool-down stay taken in Redis, unused here
    limiter.acquire()
    limiter.acquire()
    assert slept[1:] == [pytest.approx(0.05, abs=1e-3), pytest.approx(0.5, abs=1e-3)]  # then 2 per second


def test_leased_slots_never_add_up_to_more_than_the_rate(store: fakeredis.FakeRedis, clock: Clock) -> None:
    limiter, _ = leasing(store, clock, ceiling=200.0)
    sent: list[float] = []
    for i in range(1000):
        if i % 7 == 0:
            clock.advance(0.004)  # work between requests, some of it slower than the pace
        limiter.acquire()
        sent.append(clock.now)
    for t in sent:
        assert sum(1 for u in sent if t <= u < t + 1.0) <= 200 + 1


def test_keys_name_the_fingerprint_not_the_key(limiter: Callable[..., RateLimiter], store: fakeredis.FakeRedis) -> None:
    limiter(team="0123abcd").wait_ms()
    assert store.keys() == ["test:ratelimit:0123abcd:tat"]


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
