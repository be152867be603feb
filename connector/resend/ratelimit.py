"""One Resend rate limit for every process of a team, kept in Redis.

GCRA (the generic cell rate algorithm) runs atomically in a Lua script that reads the Redis server's
clock, so replicas on different machines agree without synchronised clocks. Keys are named by a
hash of the API key, never the key. The configured rate is a ceiling: when Resend announces a lower
``ratelimit-limit`` the limiter follows it, and a 429 starts a cool-down every process respects.

At Resend's usual rates (2-10 per second) every request asks Redis for its slot. At high rates (an
account with a raised limit) one ask takes the slots of the next ``lease_seconds`` at once and the
process spends them one interval apart, so the pace is the same and Redis sees far fewer calls. A
leased slot not spent within ``_LATE_SECONDS`` of its time is given up, never saved for a burst.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Mapping
from importlib.resources import files

import redis

from connector.redisio import translated

__all__ = ["RateLimiter", "announced_rate"]

_GCRA = files("connector.resend").joinpath("gcra.lua").read_text()
_COOLDOWN = files("connector.resend").joinpath("cooldown.lua").read_text()
_WINDOW = re.compile(r";\s*w=(\d+(?:\.\d+)?)")
# The announced limit is written again at least this often, so it outlives its TTL while Resend keeps
# announcing it, and a process that stopped hearing it (no traffic) lets it lapse back to the ceiling.
_REFRESH_SECONDS = 60.0
_ANNOUNCED_TTL_SECONDS = 600
# How late a leased slot may still be spent: slots left over from a busy moment never add up to a
# burst later (over any second at most this much of the rate more than the rate itself).
_LATE_SECONDS = 0.005


def announced_rate(headers: Mapping[str, str]) -> float | None:
    """Requests per second that Resend announced: ``ratelimit-limit`` per ``ratelimit-policy`` window.

    The window is one second in every recorded answer (``ratelimit-policy: 2;w=1``); a missing or
    unreadable policy means one second too.
    """
    raw = headers.get("ratelimit-limit", "")
    if not raw.isdigit() or int(raw) <= 0:
        return None
    window = _WINDOW.search(headers.get("ratelimit-policy", ""))
    seconds = float(window.group(1)) if window else 1.0
    return int(raw) / seconds if seconds > 0 else None


class RateLimiter:
    def __init__(
        self,
        client: redis.Redis,
        *,
        team: str,
        ceiling: float,
        prefix: str = "resend-connector:",
        burst: int = 1,
        lease_seconds: float = 0.05,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        base = f"{prefix}ratelimit:{team}:"
        self._keys = [base + "tat", base + "cooldown", base + "announced"]
        self._ceiling = ceiling
        self._burst = burst
        self._lease_ms = max(0, int(lease_seconds * 1000))
        self._sleep = sleep
        self._clock = clock
        # Slots taken from Redis and not yet spent: the next one is ours at _lease_next (clock time).
        self._lease_lock = threading.Lock()
        self._lease_left = 0
        self._lease_next = 0.0
        self._lease_interval = 0.0
        self._gcra = client.register_script(_GCRA)
        self._cooldown = client.register_script(_COOLDOWN)
        self._client = client
        self._announced: float | None = None
        self._announced_at = 0.0

    def wait_ms(self) -> int:
        """Take one slot (0) or say how many milliseconds to wait before asking again."""
        return self._take(lease_ms=0)[0]

    def _take(self, lease_ms: int) -> tuple[int, int, float]:
        """(ms to wait, 0, 0), or (0, slots taken, seconds between them)."""
        with translated():
            wait, slots, interval_us = self._gcra(keys=self._keys, args=[self._ceiling, self._burst, lease_ms])
        return int(wait), int(slots), int(interval_us) / 1_000_000

    def acquire(self) -> float:
        """Block until a slot is ours; returns the seconds waited."""
        waited = 0.0
        while True:
            with self._lease_lock:
                if self._lease_left and self._clock() - self._lease_next > max(_LATE_SECONDS, self._lease_interval):
                    self._lease_left = 0  # stale: given up
                if self._lease_left:
                    at = self._lease_next
                    self._lease_left -= 1
                    self._lease_next += self._lease_interval
                    break
                wait_ms, slots, interval = self._take(self._lease_ms)
                if not wait_ms:
                    at = self._clock()
                    self._lease_left, self._lease_next, self._lease_interval = slots - 1, at + interval, interval
                    break
            self._sleep(wait_ms / 1000)
            waited += wait_ms / 1000
        if (early := at - self._clock()) > 0:  # a leased slot: ours one interval after the one before
            self._sleep(early)
            waited += early
        return waited

    def _drop_lease(self) -> None:
        with self._lease_lock:
            self._lease_left = 0

    def observe_limit(self, limit_per_second: float) -> None:
        """Follow the rate Resend announced (see :func:`announced_rate`); the ceiling still caps it."""
        now = time.monotonic()
        if limit_per_second <= 0:
            return
        if limit_per_second == self._announced and now - self._announced_at < _REFRESH_SECONDS:
            return
        if self._announced is None or limit_per_second < self._announced:
            self._drop_lease()  # slots taken at the old pace would be spent too fast
        self._announced, self._announced_at = limit_per_second, now
        with translated():
            self._client.set(self._keys[2], repr(float(limit_per_second)), ex=_ANNOUNCED_TTL_SECONDS)

    def cool_down(self, seconds: float) -> None:
        """Nobody sends for ``seconds`` (a 429 told us to wait)."""
        self._drop_lease()
        with translated():
            self._cooldown(keys=[self._keys[1]], args=[max(1, int(seconds * 1000))])
