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
