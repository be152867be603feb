"""The quota follower (#25) against the emulator's team rate limit, with a competing caller.

Two connector clients (replicas) share one limiter in the real Redis and call the emulator without
pause; another caller of the same team sends one request per second for a while, and the team's
limit changes while they run. What the test holds: the rate in force follows what Resend announces,
backs off while the other caller sends and comes back once it stops. How well (the share used, the
other caller's 429s) is measured by the benchmark, row (f), not asserted here.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import redis

from connector.ops.check import check_quota
from connector.resend import ResendClient
from connector.settings import ResendSettings
from resend_emulator import EmulatorInspector, EmulatorServer
from tests.conftest import wait_for

KEY = "re_quota_follower"


class Team:
    """The emulator with a team limit, the connector's replicas calling it, and another caller."""

    def __init__(self, redis_client: redis.Redis, prefix: str, limit: int) -> None:
        self.server = EmulatorServer(api_keys=(KEY,), rate_limit=limit).start()
        self.inspector = EmulatorInspector(self.server.url)
        settings = ResendSettings(api_key=KEY, base_url=self.server.url)  # type: ignore[arg-type]
        self.replicas = [ResendClient.from_settings(settings, redis_client, key_prefix=prefix) for _ in range(2)]
        self._stop, self._other_stop = threading.Event(), threading.Event()
        self.other_answers: list[int] = []
        self._threads = [threading.Thread(target=self._work, args=(c,), daemon=True) for c in self.replicas]
        for thread in self._threads:
            thread.start()

    def quota(self) -> dict[str, Any]:
        return self.replicas[1].rate_limit() or {}

    def _work(self, client: ResendClient) -> None:
        while not self._stop.is_set():
            client.check()

    def start_other(self) -> None:
        """The team's own sending: one request a second, on the same team, not through the limiter."""
        self._other_stop.clear()

        def send() -> None:
            with httpx.Client(base_url=self.server.url, headers={"Authorization": f"Bearer {KEY}"}) as http:
                while not self._other_stop.wait(1.0):
                    self.other_answers.append(http.get("/segments").status_code)

        self._other = threading.Thread(target=send, daemon=True)
        self._other.start()

    def stop_other(self) -> None:
        self._other_stop.set()
        self._other.join(timeout=10)

    def close(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)
        for client in self.replicas:
            client.close()
        self.inspector.close()
        self.server.stop()


@pytest.fixture
def team(redis_client: redis.Redis, unique: Callable[[str], str]) -> Iterator[Team]:
    team = Team(redis_client, unique("quota") + ":", limit=5)
    yield team
    team.close()


def recovered(quota: dict[str, Any]) -> bool:
    """4 per second in force and no more than noise seen of others (one read: both from one moment)."""
    return bool(quota["requests_per_second"] == 4.0 and quota["other_per_second"] < 0.5)


@pytest.mark.timeout(240)
def test_the_rate_follows_the_announced_limit_and_makes_room_for_another_caller(team: Team) -> None:
    quota = team.quota
    # Announced with the first answer: 0.8 of 5 per second, nobody else seen.
    wait_for(lambda: quota()["announced_per_second"] == 5.0, what="the announced limit")
    # Nobody else sends: what the estimate sees is noise (an answer late across a window's end), too
    # little to lower the rate.
    wait_for(lambda: recovered(quota()), what="4/s in force")
    assert quota()["share"] == 0.8
    assert quota()["cap_per_second"] is None

    team.start_other()
    wait_for(lambda: quota()["requests_per_second"] < 4.0, timeout=60, what="the connector backing off")
    backed_off = quota()
    assert backed_off["other_per_second"] > 0.5
    # The headroom kept (the other traffic is shown rounded to a thousandth).
    assert backed_off["requests_per_second"] + backed_off["other_per_second"] <= 4.5 + 0.001
    team.stop_other()
    assert team.other_answers  # it did send

    wait_for(lambda: recovered(quota()), timeout=60, what="the other caller forgotten")

    team.inspector.set_rate_limit(10)  # the team's limit raised while running
    wait_for(lambda: quota()["announced_per_second"] == 10.0, what="the raised limit")
    wait_for(lambda: quota()["requests_per_second"] == 8.0, what="8/s in force")
    team.inspector.set_rate_limit(2)  # and lowered
    wait_for(lambda: quota()["requests_per_second"] == pytest.approx(1.6), what="1.6/s in force")
    assert check_quota(team.replicas[0]).detail.startswith("Resend announces 2/s, share 0.8")


@pytest.mark.timeout(120)
def test_the_calls_resend_sees_follow_the_rate_in_force(team: Team) -> None:
    wait_for(lambda: team.quota()["requests_per_second"] == 4.0, what="4/s in force")
    time.sleep(1.0)
    start = time.time()
    time.sleep(6.0)
    calls = [c for c in team.inspector.calls() if start <= c["t"] < start + 5.0]
    # The emulator's own count, not the connector's: no more than the rate in force (plus one at the
    # edge), whatever the load on the machine; fewer only if the machine could not keep up.
    assert 0 < len(calls) <= 4 * 5 + 1
