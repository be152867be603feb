"""One exception -> fate mapping for run and replay (issue #13 point 3, issue #12 point 4)."""

from __future__ import annotations

import pytest

from connector.errors import (
    AuthenticationFailed,
    DecodeError,
    QuotaExceeded,
    RateLimited,
    ResendRejected,
    ResendUnavailable,
    StateStoreUnavailable,
)
from connector.pipeline.fate import MAX_INTERNAL_ATTEMPTS, Fate, backoff_seconds, fate_of, is_internal


@pytest.mark.parametrize(
    ("error", "fate"),
    [
        (RateLimited("429", retry_after=1.0), Fate.RETRY),
        (ResendUnavailable("503"), Fate.RETRY),
        (StateStoreUnavailable("down"), Fate.RETRY),
        (QuotaExceeded("daily"), Fate.PAUSE),
        (AuthenticationFailed("401"), Fate.PAUSE),
        (DecodeError("bad"), Fate.DEAD_LETTERED),
        (ResendRejected("422"), Fate.DEAD_LETTERED),
        (KeyboardInterrupt(), Fate.RETRY),
    ],
)
def test_the_connectors_errors_have_their_fate_whatever_the_attempt(error: BaseException, fate: Fate) -> None:
    assert not is_internal(error)
    assert fate_of(error, 0) is fate
    assert fate_of(error, 100) is fate  # transient errors retry for ever; the rest never retry


def test_an_unexpected_error_is_retried_a_bounded_number_of_times_then_dead_lettered() -> None:
    error = TypeError("All headers items must be (str, bytes) tuples")
    assert is_internal(error)
    fates = [fate_of(error, attempt) for attempt in range(1, MAX_INTERNAL_ATTEMPTS + 1)]
    assert fates == [Fate.RETRY] * (MAX_INTERNAL_ATTEMPTS - 1) + [Fate.DEAD_LETTERED]


def test_backoff_grows_is_capped_and_honours_retry_after() -> None:
    assert all(0.1 <= backoff_seconds(1, None) <= 0.4 for _ in range(50))
    assert all(backoff_seconds(40, None) <= 60.0 for _ in range(50))
    assert backoff_seconds(1, 7.5) == 7.5
