"""What finished records came to: latency observed, event counts added up, one outcome line each.

The counts of a loop step (a poll's records settled as consumed, a collect's finished records) are
added up here and reach the ``events`` counter in one increment per type and outcome, and the
records that took no time (settled as consumed) reach the latency histogram in one observation: at
the Kafka client's speed an increment per event is a noticeable share of an event's cost. So is an
outcome line that the log level drops, which is why it is not even made then.
"""

from __future__ import annotations

import logging

from connector.kafka.records import InFlight
from connector.logs import get_logger, mask_email
from connector.pipeline.history import HistoryWriter
from connector.pipeline.metrics import Metrics
from connector.pipeline.records import AttemptResult, EventResult

__all__ = ["Tally"]

log = get_logger(__name__)


class Tally:
    """Used by the run loop's thread only."""

    def __init__(self, metrics: Metrics, *, log_outcomes: str = "calls", history: HistoryWriter | None = None) -> None:
        self._metrics = metrics
        self._history = history  # each contact's last outcomes, for the console (history.py)
        self._counts: dict[tuple[str, str], int] = {}
        # Bound once (the module logger re-binds on every call): the per-event line is the hot path,
        # and at debug level it must cost next to nothing. See Settings.log_event_outcomes.
        event_log = log.bind()
        self._info = event_log.info
        self._debug = event_log.debug
        enabled_for = getattr(event_log, "is_enabled_for", None)
        self._debug_enabled = enabled_for is None or bool(enabled_for(logging.DEBUG))
        self._level = log_outcomes
        self._instant = 0  # records of this step that took no time, observed at flush

    def finished(self, record: InFlight, attempt: AttemptResult, now: float) -> None:
        seconds = now - record.polled_at
        if seconds > 0:
            self._metrics.latency.observe(seconds)
        else:
            self._instant += 1
        for result in attempt.results:
            self.count(result.type, result.outcome.value)
            self._log_outcome(record, result)
            if self._history is not None and result.email:
                self._history.add(result.email, result.type, result.outcome.value, result.reason,
                                  result.message_id, record.topic, record.partition, record.offset, result.calls,
                                  result.commands)  # fmt: skip
        letter = attempt.letter  # dead-lettered: the failure joins its contact's outcomes (#26)
        if letter is not None and letter.email and self._history is not None:
            self._history.add(letter.email, letter.type, letter.outcome.value, letter.reason, letter.message_id,
                              record.topic, record.partition, record.offset, letter.calls, ())  # fmt: skip

    def _log_outcome(self, record: InFlight, result: EventResult) -> None:
        """The line that answers "what happened to this contact?": one per event (#17)."""
        at_info = self._level == "all" or (self._level == "calls" and result.calls > 0)
        if not (at_info or self._debug_enabled):
            return
        line = self._info if at_info else self._debug
        line("event." + result.outcome.value, partition=record.partition, offset=record.offset,
             message_id=result.message_id, type=result.type, email=mask_email(result.email),
             user_id=result.user_id, calls=result.calls, reason=result.reason or None)  # fmt: skip

    def count(self, type_: str, outcome: str) -> None:
        key = (type_, outcome)
        self._counts[key] = self._counts.get(key, 0) + 1

    def flush(self) -> None:
        if self._instant:
            self._metrics.latency.observe(0.0, self._instant)
            self._instant = 0
        for (type_, outcome), count in self._counts.items():
            self._metrics.count_event(type_, outcome, count)
        self._counts.clear()
