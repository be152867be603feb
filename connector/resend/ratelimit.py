"""One Resend rate limit for every process of a team, kept in Redis.

GCRA (the generic cell rate algorithm) runs atomically in a Lua script that reads the Redis server's
clock, so replicas on different machines agree without synchronised clocks. Keys are named by a
hash of the API key, never the key. The configured rate is a ceiling: when Resend announces a lower
``ratelimit-limit`` the limiter follows it, and a 429 starts a cool-down every process respects.
"""

from __future__ import annotations

import re
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
        prefix: str,
        burst: int = 1,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        base = f"{prefix}ratelimit:{{{team}}}:"  # one hash tag: the script's three keys share a slot (#27)
        self._keys = [base + "tat", base + "cooldown", base + "announced"]
        self._ceiling = ceiling
        self._burst = burst
        self._sleep = sleep
        self._gcra = client.register_script(_GCRA)
        self._cooldown = client.register_script(_COOLDOWN)
        self._client = client
        self._announced: float | None = None
        self._announced_at = 0.0

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

    def observe_limit(self, limit_per_second: float) -> None:
        """Follow the rate Resend announced (see :func:`announced_rate`); the ceiling still caps it."""
        now = time.monotonic()
        if limit_per_second <= 0:
            return
        if limit_per_second == self._announced and now - self._announced_at < _REFRESH_SECONDS:
            return
        self._announced, self._announced_at = limit_per_second, now
        with translated():
            self._client.set(self._keys[2], repr(float(limit_per_second)), ex=_ANNOUNCED_TTL_SECONDS)

    def in_force(self) -> dict[str, float | None]:
        """Requests per second: the configured ceiling, what Resend last announced to this process
        (while fresh), and the lower of the two, which the shared limit enforces."""
        announced = self._announced
        if announced is not None and time.monotonic() - self._announced_at > _ANNOUNCED_TTL_SECONDS:
            announced = None
        effective = min(self._ceiling, announced) if announced is not None else self._ceiling
        return {"ceiling_per_second": self._ceiling, "announced_per_second": announced,
                "requests_per_second": effective}  # fmt: skip

    def cool_down(self, seconds: float) -> None:
        """Nobody sends for ``seconds`` (a 429 told us to wait)."""
        with translated():
            self._cooldown(keys=[self._keys[1]], args=[max(1, int(seconds * 1000))])
