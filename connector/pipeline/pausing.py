"""A quota, key or dead-letter-topic pause of the whole consumer: when to probe, the operator's resume, what shows.

Resend refuses for a reason no retry of one record fixes (429 daily/monthly quota, 401/403 key
problems), or the dead-letter topic takes no record at all (deleted, no permission, too small for
even the context-only copy; #24 point 4): every partition stops fetching, records wait, and one
record probes at the time ``pause.probe_delay`` says (backing off to ``pause_probe_max_seconds``);
``resend-connector resume`` (``pause.ResumeSignal``) makes the waiting records run at once. Called by
the run loop only.
"""

from __future__ import annotations

import time
from typing import Any

from connector.errors import DeadLetterTopicUnwritable
from connector.logs import get_logger
from connector.pipeline.fate import Fate
from connector.pipeline.pause import ResumeSignal, probe_delay

__all__ = ["Pause"]

log = get_logger(__name__)


class Pause:
    def __init__(self, consumer: Any, metrics: Any, resume_signal: ResumeSignal | None, probe_max: float) -> None:
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
