"""One Resend rate limit for every process of a team, kept in Redis.

GCRA (the generic cell rate algorithm) runs atomically in a Lua script that reads the Redis server's
clock, so replicas on different machines agree without synchronised clocks. Keys are named by a
hash of the API key, never the key. The configured rate is a ceiling: when Resend announces a lower
``ratelimit-limit`` the limiter follows it, and a 429 starts a cool-down every process respects.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from importlib.resources import files

import redis

from connector.redisio import translated

__all__ = ["RateLimiter"]

_GCRA = files("connector.resend").joinpath("gcra.lua").read_text()
_COOLDOWN = files("connector.resend").joinpath("cooldown.lua").read_text()


class RateLimiter:
    def __init__(
        self,
        client: redis.Redis,
        *,
        team: str,
        ceiling: float,
        prefix: str = "resend-connector:",
        burst: int = 1,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        base = f"{prefix}ratelimit:{team}:"
        self._keys = [base + "tat", base + "cooldown", base + "announced"]
        self._ceiling = ceiling
        self._burst = burst
        self._sleep = sleep
        self._gcra = client.register_script(_GCRA)
        self._cooldown = client.register_script(_COOLDOWN)
        self._client = client
        self._announced: int | None = None

    def wait_ms(self) -> int:
        """Take a slot (0) or say how many milliseconds to wait before asking again."""
        with translated():
            return int(self._gcra(keys=self._keys, args=[self._ceiling, self._burst]))

    def acquire(self) -> float:
        """Block until a slot is ours; returns the seconds waited."""
        waited = 0.0
        while (wait := self.wait_ms()) > 0:
            self._sleep(wait / 1000)
            waited += wait / 1000
        return waited

    def observe_limit(self, limit: int) -> None:
        """Follow Resend's announced ``ratelimit-limit`` (requests per one-second window)."""
        if limit <= 0 or limit == self._announced:
            return
        self._announced = limit
        with translated():
            self._client.set(self._keys[2], limit, ex=3600)

    def cool_down(self, seconds: float) -> None:
        """Nobody sends for ``seconds`` (a 429 told us to wait)."""
        with translated():
            self._cooldown(keys=[self._keys[1]], args=[max(1, int(seconds * 1000))])
