"""What becomes of a record: the outcome of each event, the fate of a failed record, one backoff.

``fate_of`` is the only place that maps an exception to a fate, for ``run`` and ``replay`` alike::

    RetryableError   -> RETRY        transient (429, 5xx, timeouts, Kafka, Redis): again, with backoff
    PauseError       -> PAUSE        quota or key problems: stop consuming, probe later
    PermanentError   -> DEAD_LETTER  no retry can fix it (stage from the error)
    any other error  -> RETRY, then DEAD_LETTER (stage "internal") after MAX_INTERNAL_ATTEMPTS
    BaseException    -> RETRY        not an error of the record (interpreter shutting down, ...)

An unexpected exception is a bug in the connector's own code (issue #12 point 4: a TypeError from
the dead-letter write was retried forever): it is retried a few times, because a bug that depends
on timing may pass, and then dead-lettered with its traceback so the partition moves on.
"""

from __future__ import annotations

import enum
import random

from connector.errors import PauseError, PermanentError, RetryableError

__all__ = ["MAX_INTERNAL_ATTEMPTS", "Fate", "Outcome", "backoff_seconds", "fate_of", "is_internal"]

MAX_INTERNAL_ATTEMPTS = 3  # attempts of a record that meets an unexpected exception each time
_MAX_BACKOFF = 60.0  # seconds


class Outcome(enum.Enum):
    """What became of one event."""

    APPLIED = "applied"
    SKIPPED = "skipped"
    DEAD_LETTERED = "dead_lettered"  # only in AttemptResult.letter: the event its record was dead-lettered for


class Fate(enum.Enum):
    """What becomes of one record after an attempt."""

    DONE = "done"  # every event applied or skipped
    DEAD_LETTERED = "dead_lettered"  # written to the dead-letter topic (acknowledged)
    RETRY = "retry"  # transient: the record is tried again after a backoff
    PAUSE = "pause"  # consumption stops until the condition clears


def is_internal(error: BaseException) -> bool:
    """An unexpected exception: not one of the connector's own error classes (a bug)."""
    return isinstance(error, Exception) and not isinstance(error, RetryableError | PauseError | PermanentError)


def fate_of(error: BaseException, internal_failures: int) -> Fate:
    """The fate of a record whose attempt raised ``error``; ``internal_failures`` counts the
    attempts of this record that met an unexpected exception, this one included."""
    if isinstance(error, RetryableError):
        return Fate.RETRY
    if isinstance(error, PauseError):
        return Fate.PAUSE
    if isinstance(error, PermanentError):
        return Fate.DEAD_LETTERED
    if isinstance(error, Exception):
        return Fate.DEAD_LETTERED if internal_failures >= MAX_INTERNAL_ATTEMPTS else Fate.RETRY
    return Fate.RETRY


def backoff_seconds(attempt: int, retry_after: float | None) -> float:
    """Exponential backoff with jitter, never shorter than the server's retry-after."""
    exponential = min(_MAX_BACKOFF, 0.2 * 2 ** min(attempt, 10)) * random.uniform(0.5, 1.0)
    return float(max(exponential, retry_after or 0.0))
