from datetime import UTC, datetime

from connector.errors import TransformError
from connector.pipeline.dead_letter import (
    ATTEMPTS,
    FIRST_FAILURE,
    FailureContext,
    context_of,
    dead_letter_for,
    original_headers,
)


def _fail() -> TransformError:
    try:
        raise TransformError("plan_to_audiences raised KeyError", function="f", traceback_text="Traceback: boom")
    except TransformError as exc:
        return exc


def test_dead_letter_keeps_the_record_and_adds_connect_headers() -> None:
    letter = dead_letter_for(
        key=b"user-1",
        value=b"\x00\xffraw",
        headers=[("trace", b"abc")],
        timestamp_ms=1_700_000_000_000,
        error=_fail(),
        context=FailureContext("events", 3, 42),
        connector_name="resend-connector",
        now=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    )
    assert (letter.key, letter.value, letter.timestamp_ms) == (b"user-1", b"\x00\xffraw", 1_700_000_000_000)
    headers = dict(letter.headers)
    assert letter.headers[0] == ("trace", b"abc")
    assert headers["__connect.errors.topic"] == b"events"
    assert headers["__connect.errors.partition"] == b"3"
    assert headers["__connect.errors.offset"] == b"42"
    assert headers["__connect.errors.stage"] == b"transform"
    assert headers["__connect.errors.exception.class.name"] == b"connector.errors.TransformError"
    assert headers["__connect.errors.exception.message"] == b"plan_to_audiences raised KeyError"
    assert headers["__connect.errors.exception.stacktrace"] == b"Traceback: boom"
    assert headers[ATTEMPTS] == b"1"
    assert headers[FIRST_FAILURE] == b"2026-01-02T03:04:05.000+00:00"


def test_a_replayed_failure_raises_attempts_and_keeps_origin() -> None:
    first = dead_letter_for(
        key=None,
        value=b"{}",
        headers=None,
        timestamp_ms=None,
        error=ValueError("bug"),
        context=FailureContext("events", 0, 7),
        connector_name="c",
    )
    origin = context_of(first.headers, FailureContext("dlq", 0, 99))
    assert (origin.topic, origin.partition, origin.offset, origin.attempts) == ("events", 0, 7, 1)
    second = dead_letter_for(
        key=None,
        value=b"{}",
        headers=first.headers,
        timestamp_ms=None,
        error=ValueError("bug"),
        context=origin,
        connector_name="c",
    )
    headers = dict(second.headers)
    assert headers[ATTEMPTS] == b"2"
    assert headers[FIRST_FAILURE] == dict(first.headers)[FIRST_FAILURE]
    assert headers["__connect.errors.stage"] == b"internal"
    assert original_headers(second.headers) == []
    assert sum(1 for k, _ in second.headers if k == ATTEMPTS) == 1
