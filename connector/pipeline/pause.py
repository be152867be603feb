"""Pauses for quota, key and dead-letter topic problems, in one module: the pause of the whole consumer, when to probe
Resend again, and the operator's resume signal.

A daily quota answers with a ``retry-after`` of up to a day. Waiting that long blindly would keep the
connector idle after the quota was raised or the key fixed, so a pause probes on a schedule instead:
after 30 s, then doubling, never longer apart than ``resend.pause_probe_max_seconds`` (a probe is
one record tried again; it costs one call and changes nothing when refused).

``resend-connector resume`` writes the time of the request to ``<prefix>control:resume`` in Redis;
every paused replica reads it at most once a second and probes at once when the request is newer
than its pause. Nothing is forced through: a probe that is refused again simply pauses again.

:class:`Pause` (called by the run loop only): Resend refuses for a reason no retry of one record fixes
(429 daily/monthly quota, 401/403 key problems), or the dead-letter topic takes no record at all
(deleted, no permission, too small for even the context-only copy; #24 point 4): every partition
stops fetching, records wait, and one record probes at the time :func:`probe_delay` says (backing
off to ``pause_probe_max_seconds``); ``resend-connector resume`` (:class:`ResumeSignal`) makes the
waiting records run at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import redis

from connector.errors import ConnectorError, DeadLetterTopicUnwritable
from connector.kafka.seams import EventsConsumer
from connector.logs import get_logger
from connector.pipeline.fate import Fate
from connector.redisio import translated

__all__ = ["FIRST_PROBE_SECONDS", "Pause", "ResumeSignal", "probe_delay", "request_resume"]

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


class Pause:
    def __init__(
        self, consumer: EventsConsumer, metrics: Any, resume_signal: ResumeSignal | None, probe_max: float
    ) -> None:
        self._consumer = consumer
        self._metrics = metrics
        self._resume_signal = resume_signal
        self._probe_max = probe_max
        self._probes = 0
        self._paused_at = 0.0  # wall-clock start of the current pause (compared with a resume request)
        self._cause: BaseException | None = None
        self.until = 0.0  # monotonic time of the next probe; 0 when not paused

    def enter(self, error: BaseException | None, retry_after: float | None, now: float) -> None:
        first = not self.until
        if not first and now < self.until:
            return  # a record that was already running when the pause began: the schedule stands
        if first:
            self._probes, self._paused_at = 0, time.time()
        self._cause = error
        delay = probe_delay(self._probes, retry_after, self._probe_max)
        self._probes += 1
        self.until = now + delay
        self._consumer.stop_fetching("pause")
        self._metrics.status.paused(type(error).__name__, str(error), probe_in_seconds=delay)
        self._metrics.status.error(error, "paused")
        self._metrics.paused.set(1)
        self._metrics.ready = False
        if first:
            self._metrics.pauses.labels(reason=type(error).__name__).inc()
        if first:  # one error line per pause; a refused probe is an info line (#24 point 4)
            log.error("consumer.paused", reason=type(error).__name__, detail=str(error),
                      probe_in_seconds=round(delay, 1))  # fmt: skip
        else:
            log.info("consumer.still_paused", reason=type(error).__name__, probe_in_seconds=round(delay, 1))

    def ends_with(self, fate: Fate) -> bool:
        """Whether a record that settled as ``fate`` once the probe time came shows the cause gone:
        any record for Resend's refusals; for the dead-letter topic only a dead letter written."""
        if isinstance(self._cause, DeadLetterTopicUnwritable):
            return fate is Fate.DEAD_LETTERED
        return True

    def leave(self) -> None:
        self.until, self._cause = 0.0, None
        self._consumer.may_fetch("pause")
        self._metrics.status.resumed()
        self._metrics.paused.set(0)
        self._metrics.ready = True
        log.warning("consumer.resumed")

    def probe_with_next(self, now: float) -> None:
        """No record waits for the probe (they went with a rebalance): once it is due, fetching
        resumes and the next record fetched is the probe. Without one, nothing would ever probe."""
        if now >= self.until:
            self._consumer.may_fetch("pause")

    def resume_requested(self) -> bool:
        return self._resume_signal is not None and self._resume_signal.requested_since(self._paused_at)

    def probe_now(self, now: float) -> float:
        """An operator asked to resume: returns the probe time records waited for; they run now, and
        a refusal pauses again."""
        waited = self.until
        self.until = max(now, 1e-9)  # still "paused" until a probe goes through
        self._probes, self._paused_at = 0, time.time()
        log.warning("consumer.resume_requested")
        return waited
