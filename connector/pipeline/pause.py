"""Pauses for quota and key problems: when to probe Resend again, and the operator's resume signal.

A daily quota answers with a ``retry-after`` of up to a day. Waiting that long blindly would keep the
connector idle after the quota was raised or the key fixed, so a pause probes on a schedule instead:
after 30 s, then doubling, never longer apart than ``resend.pause_probe_max_seconds`` (a probe is
one record tried again; it costs one call and changes nothing when refused).

``resend-connector resume`` writes the time of the request to ``<prefix>control:resume`` in Redis;
every paused replica reads it at most once a second and probes at once when the request is newer
than its pause. Nothing is forced through: a probe that is refused again simply pauses again.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import redis

from connector.errors import ConnectorError
from connector.logs import get_logger
from connector.redisio import translated

__all__ = ["FIRST_PROBE_SECONDS", "ResumeSignal", "probe_delay", "request_resume"]

log = get_logger(__name__)

FIRST_PROBE_SECONDS = 30.0
_READ_EVERY = 1.0  # seconds between reads of the signal while paused


def probe_delay(probes: int, retry_after: float | None, cap: float) -> float:
    """Seconds until the next probe, after ``probes`` refused ones: 30, 60, 120, ... up to ``cap``.

    A shorter ``retry-after`` than the schedule is honoured; a longer one is capped: the schedule
    exists so that a quota that is raised early is noticed early.
    """
    scheduled = min(cap, FIRST_PROBE_SECONDS * float(2 ** min(probes, 16)))
    if retry_after:
        return max(1.0, min(scheduled, float(retry_after)))
    return scheduled


def _key(prefix: str) -> str:
    return f"{prefix}control:resume"


def request_resume(client: redis.Redis, prefix: str, *, now: float | None = None) -> float:
    """The operator's side: every replica paused before this moment probes Resend at once."""
    moment = time.time() if now is None else now
    with translated():
        client.set(_key(prefix), repr(moment), ex=7 * 86_400)
    return moment


class ResumeSignal:
    """The runner's side: has an operator asked to resume since ``paused_at`` (wall-clock seconds)?"""

    def __init__(self, client: redis.Redis, prefix: str, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._client = client
        self._key = _key(prefix)
        self._clock = clock
        self._next_read = 0.0

    def requested_since(self, paused_at: float) -> bool:
        now = self._clock()
        if now < self._next_read:
            return False
        self._next_read = now + _READ_EVERY
        try:
            with translated():
                raw = self._client.get(self._key)
        except ConnectorError as exc:  # Redis away: the scheduled probe still comes
            log.debug("resume_signal.unreadable", error=type(exc).__name__)
            return False
        try:
            return raw is not None and float(raw) > paused_at
        except ValueError:
            return False
