"""One Resend rate limit for every process of a team, kept in Redis, following what Resend announces.

GCRA (the generic cell rate algorithm) runs atomically in a Lua script that reads the Redis server's
clock, so replicas on different machines agree without synchronised clocks. Keys are named by a
hash of the API key, never the key. The rate it enforces is written to Redis by whichever process
last heard from Resend: the announced ``ratelimit-limit`` times ``resend.quota_share``, lowered when
the team's other callers use more than the rest (connector/resend/quota.py decides, from the windows
quota_observe.lua keeps). Each process applies its own ``resend.max_requests_per_second`` on top,
and a 429 starts a cool-down every process respects.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from importlib.resources import files
from typing import Any

import redis

from connector.errors import StateStoreUnavailable
from connector.logs import get_logger
from connector.redisio import REDIS_ERRORS, translated
from connector.resend.quota import Window, other_traffic, rate_in_force

__all__ = ["RateLimiter", "announced_rate", "first_in_line", "window_seconds"]

log = get_logger(__name__)
_READ_ERRORS: tuple[type[Exception], ...] = (*REDIS_ERRORS, ValueError)

_GCRA = files("connector.resend").joinpath("gcra.lua").read_text()
_COOLDOWN = files("connector.resend").joinpath("cooldown.lua").read_text()
_OBSERVE = files("connector.resend").joinpath("quota_observe.lua").read_text()
_WINDOW = re.compile(r";\s*w=(\d+(?:\.\d+)?)")
# The announced limit and the rate are written again at least this often, so they outlive their TTL
# while Resend keeps announcing, and lapse back to the safe start (or the cap) once nobody hears it.
_REFRESH_SECONDS = 60.0
_ANNOUNCED_TTL_SECONDS = 600


def window_seconds(headers: Mapping[str, str]) -> float:
    """The window ``ratelimit-policy`` names (``2;w=1``: one second, in every recorded answer); a
    missing or unreadable policy means one second."""
    window = _WINDOW.search(headers.get("ratelimit-policy", ""))
    seconds = float(window.group(1)) if window else 1.0
    return seconds if seconds > 0 else 1.0


def announced_rate(headers: Mapping[str, str]) -> float | None:
    """Requests per second that Resend announced: ``ratelimit-limit`` per ``ratelimit-policy`` window."""
    raw = headers.get("ratelimit-limit", "")
    if not raw.isdigit() or int(raw) <= 0:
        return None
    return int(raw) / window_seconds(headers)


def _windows(reply: Sequence[Any]) -> list[Window]:
    closed: list[Window] = []
    for item in reply:
        first, _, others = (item.decode() if isinstance(item, bytes) else str(item)).partition(":")
        closed.append((float(first) / 1000, int(others)))
    return closed


_FIRST_IN_LINE: ContextVar[bool] = ContextVar("first_in_line", default=False)


@contextmanager
def first_in_line() -> Iterator[None]:
    """Calls made inside (on this thread) take the next slot before anyone else's: the express path's
    opt-outs and erasures (issue #25: at most 5 s behind any backlog). Sharing the slots by chance
    among the main path's workers left them seconds behind at a few requests per second (bench row
    (h)). Strict priority: while such calls keep coming (a burst of opt-outs), every other caller
    waits for them. The rate stays the team's: nothing is sent beyond it."""
    token = _FIRST_IN_LINE.set(True)
    try:
        yield
    finally:
        _FIRST_IN_LINE.reset(token)


class RateLimiter:
    def __init__(
        self,
        client: redis.Redis,
        *,
        team: str,
        prefix: str,
        share: float = 0.8,
        cap: float | None = None,
        burst: int = 1,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        base = f"{prefix}ratelimit:{{{team}}}:"  # one hash tag: every key of the scripts shares a slot (#27)
        self._keys = [base + "tat", base + "cooldown", base + "rate", base + "first"]
        self._announced_key, self._other_key = base + "announced", base + "other"
        self._window_keys = [base + "window", base + "windows"]
        self._share, self._cap, self._burst = share, cap, burst
        self._sleep = sleep
        self._gcra = client.register_script(_GCRA)
        self._cooldown = client.register_script(_COOLDOWN)
        self._observe = client.register_script(_OBSERVE)
        self._client = client
        # What this process last heard and decided: /status falls back on it when Redis does not answer.
        self._announced: float | None = None
        self._announced_at = 0.0
        self._other = 0.0

    def wait_ms(self) -> int:
        """Take a slot (0) or say how many milliseconds to wait before asking again."""
        return self._ask()[0]

    def _ask(self) -> tuple[int, int]:
        unannounced = rate_in_force(None, self._share, self._cap, 0.0)
        with translated():
            first = int(_FIRST_IN_LINE.get())
            wait, now = self._gcra(keys=self._keys, args=[unannounced, self._burst, self._cap or 0, first])
        return int(wait), int(now)

    def acquire(self) -> float:
        """Block until a slot is ours; returns the seconds waited."""
        return self._block()[0]

    def take(self) -> int:
        """Block until a slot is ours; returns the Redis server time (ms) it was granted at, which
        :meth:`observe` uses to put the answers of several threads and replicas in order."""
        return self._block()[1]

    def _block(self) -> tuple[float, int]:
        waited = 0.0
        while True:
            wait, now = self._ask()
            if wait <= 0:
                return waited, now
            self._sleep(wait / 1000)
            waited += wait / 1000

    def observe(self, headers: Mapping[str, str], status: int, granted_ms: int = 0) -> None:
        """Follow what an answer of Resend says: the announced limit, and how much of the window the
        team has used (the others' share of it feeds the rate in force). ``granted_ms``: when the
        request got its slot (:meth:`take`; 0 unknown). Answers without the headers (an unthrottled
        API) change nothing. Redis failing here does not fail the call Resend answered (a write that
        succeeded would be sent again): the next answer is heard instead."""
        try:
            self._follow(headers, status, granted_ms)
        except StateStoreUnavailable as exc:
            log.debug("ratelimit.observe_skipped", error=str(exc))

    def _follow(self, headers: Mapping[str, str], status: int, granted_ms: int) -> None:
        announced = announced_rate(headers)
        if announced is None:
            return
        now = time.monotonic()
        refresh = announced != self._announced or now - self._announced_at >= _REFRESH_SECONDS
        remaining, limit = headers.get("ratelimit-remaining", ""), headers.get("ratelimit-limit", "")
        window = window_seconds(headers)
        if not remaining.isdigit():
            if refresh:
                self._decide(announced, self._other, now)
            return
        used = max(0, int(limit) - int(remaining))
        with translated():
            reply = self._observe(
                keys=self._window_keys,
                args=[used, 0 if status == 429 else 1, int(window * 1000), int(refresh), granted_ms],
            )
        if len(reply) > 1 or refresh:
            other = other_traffic(_windows(reply[1:]), int(reply[0]) / 1000, window)
            self._decide(announced, other, now)

    def _decide(self, announced: float, other: float, now: float) -> None:
        # The cap is left out of the shared rate: each process applies its own (a `check` with a low
        # cap does not slow the replicas down).
        rate = rate_in_force(announced, self._share, None, other)
        self._announced, self._announced_at, self._other = announced, now, other
        with translated():
            pipe = self._client.pipeline(transaction=False)
            pipe.set(self._announced_key, repr(announced), ex=_ANNOUNCED_TTL_SECONDS)
            pipe.set(self._keys[2], repr(rate), ex=_ANNOUNCED_TTL_SECONDS)
            pipe.set(self._other_key, repr(round(other, 3)), ex=_ANNOUNCED_TTL_SECONDS)
            pipe.execute()

    def in_force(self) -> dict[str, float | None]:
        """For ``/status``, ``check`` and the metrics, as every process of the team shares them
        (requests per second): what Resend announced, the share, the cap, the other traffic seen and
        the rate the shared limit enforces. What this process last heard when Redis does not answer."""
        try:
            raw = self._client.mget([self._announced_key, self._keys[2], self._other_key])
            announced, rate, other = (float(v) if v is not None else None for v in raw)
        except _READ_ERRORS:
            announced, other = self._announced, self._other
            rate = rate_in_force(announced, self._share, None, other) if announced is not None else None
        if rate is None:
            effective = rate_in_force(None, self._share, self._cap, 0.0)
        else:
            effective = min(rate, self._cap) if self._cap is not None else rate
        return {"announced_per_second": announced, "share": self._share, "cap_per_second": self._cap,
                "other_per_second": other or 0.0, "requests_per_second": effective}  # fmt: skip

    def cool_down(self, seconds: float) -> None:
        """Nobody sends for ``seconds`` (a 429 told us to wait)."""
        with translated():
            self._cooldown(keys=[self._keys[1]], args=[max(1, int(seconds * 1000))])
