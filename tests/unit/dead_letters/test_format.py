import json
from datetime import UTC, datetime

from connector.dead_letters.fit import KEY_LIMIT, VALUE_LIMIT, context_only, fitted
from connector.dead_letters.format import (
    ATTEMPTS,
    FIRST_FAILURE,
    KEY_BYTES,
    NULL_RECORD,
    NULL_VALUES,
    ORIGINAL_TIMESTAMP,
    TRUNCATED,
    UNREAD_RECORD,
    DeadLetter,
    FailureContext,
    context_of,
    dead_letter_for,
    original_headers,
)
from connector.errors import DecodeError, TransformError
from connector.kafka.workarounds import UnreadableRecordError


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


def _letter(**overrides: object) -> DeadLetter:
    values: dict[str, object] = {
        "key": b"k",
        "value": b"v",
        "headers": None,
        "timestamp_ms": 1_700_000_000_000,
        "error": DecodeError("not JSON"),
        "context": FailureContext("events", 1, 9),
        "connector_name": "c",
    }
    values.update(overrides)
    return dead_letter_for(**values)  # type: ignore[arg-type]


def test_null_header_values_and_keys_that_are_not_utf8_are_written_and_described() -> None:
    bad_key = b"bad\xff".decode("utf-8", "surrogateescape")
    letter = _letter(headers=[("a", b"1"), ("nul", None), (bad_key, b"\x00\xfe"), ("b", b"")])
    assert all(isinstance(k, str) and isinstance(v, bytes) for k, v in letter.headers)
    for key, _ in letter.headers:
        key.encode("utf-8")  # every key is writable
    assert letter.headers[:4] == [("a", b"1"), ("nul", b""), ("bad\\xff", b"\x00\xfe"), ("b", b"")]
    headers = dict(letter.headers)
    assert headers[NULL_VALUES] == b"1"
    assert headers[KEY_BYTES + "2"] == b"bad\xff"  # the original bytes, byte for byte


def test_descriptions_travel_with_a_replayed_record() -> None:
    first = _letter(headers=[("nul", None)])
    second = _letter(headers=first.headers, context=context_of(first.headers, FailureContext("dlq", 0, 0)))
    headers = dict(second.headers)
    assert headers[NULL_VALUES] == b"0"
    assert headers[ATTEMPTS] == b"2"
    assert [k for k, _ in second.headers].count(NULL_VALUES) == 1


def test_error_text_that_is_not_encodable_still_makes_a_letter() -> None:
    letter = _letter(error=DecodeError("email '\ud800@x.io' is odd"))
    assert dict(letter.headers)["__connect.errors.exception.message"] == b"email '\\ud800@x.io' is odd"


def test_context_of_tolerates_garbled_headers() -> None:
    origin = context_of([("__connect.errors.topic", b"t"), ("__connect.errors.offset", b"x"), (ATTEMPTS, None)],
                        FailureContext("f", 0, 0))  # fmt: skip
    assert (origin.topic, origin.offset, origin.attempts) == ("t", -1, 0)


def test_a_fitted_copy_cuts_what_is_large_and_records_the_original_sizes() -> None:
    letter = _letter(key=b"k" * 5000, value=b"x" * 2_000_000, headers=[("big", b"h" * 3000), ("small", b"s")])
    copy = fitted(letter, too_large=True)
    assert copy.value == b"x" * VALUE_LIMIT
    assert copy.key == b"k" * KEY_LIMIT
    headers = dict(copy.headers)
    assert headers["big"] == b"h" * 1024
    assert headers["small"] == b"s"
    assert json.loads(headers[TRUNCATED]) == {"key": 5000, "value": 2_000_000, "header.0": 3000}
    assert headers["__connect.errors.offset"] == b"9"
    assert copy.timestamp_ms == letter.timestamp_ms
    assert ORIGINAL_TIMESTAMP not in headers
    again = fitted(_letter(value=b"y" * 100, headers=copy.headers), too_large=True)
    assert json.loads(dict(again.headers)[TRUNCATED])["value"] == 2_000_000  # the first size is kept


def test_a_refusal_about_the_timestamp_moves_it_and_cuts_nothing() -> None:
    letter = _letter(key=b"k" * 5000, value=b"x" * 2_000_000, headers=[("big", b"h" * 3000)])
    moved = fitted(letter, too_large=False)
    assert (moved.key, moved.value, moved.timestamp_ms) == (letter.key, letter.value, None)
    assert dict(moved.headers)["big"] == b"h" * 3000
    assert TRUNCATED not in dict(moved.headers)
    assert [v for k, v in moved.headers if k == ORIGINAL_TIMESTAMP] == [b"1700000000000"]


def test_a_carried_original_timestamp_is_kept_once() -> None:
    # A replayed dead letter carries the first write's original timestamp: it is the truer time.
    carried = [(ORIGINAL_TIMESTAMP, b"1600000000000")]
    for copy in (fitted(_letter(headers=carried), too_large=False), context_only(_letter(headers=carried))):
        assert [v for k, v in copy.headers if k == ORIGINAL_TIMESTAMP] == [b"1600000000000"]
        assert copy.timestamp_ms is None


def test_a_context_only_copy_keeps_the_context() -> None:
    letter = _letter(value=b"x" * 10, headers=[("trace", b"1")])
    copy = context_only(letter)
    assert (copy.key, copy.value, copy.timestamp_ms) == (None, b"", None)
    headers = dict(copy.headers)
    assert "trace" not in headers
    assert headers["__connect.errors.stage"] == b"decode"
    assert headers["__connect.errors.partition"] == b"1"
    assert json.loads(headers[TRUNCATED]) == {"key": 1, "value": 10, "headers": 1}


def test_a_record_with_neither_key_nor_value_gets_an_empty_value() -> None:
    letter = _letter(key=None, value=None)
    assert (letter.key, letter.value) == (None, b"")
    assert dict(letter.headers)[NULL_RECORD] == b"true"


def test_a_record_kafka_python_could_not_read_is_not_called_null() -> None:
    error = UnreadableRecordError(ValueError("bad batch"))
    headers = dict(_letter(key=None, value=None, error=error).headers)
    assert headers[UNREAD_RECORD] == b"true"
    assert NULL_RECORD not in headers  # it had bytes: they could not be read


def test_original_place_is_where_the_letter_was_in_the_events_topic() -> None:
    from connector.dead_letters.format import ORIGINAL_TIMESTAMP, original_place

    context = FailureContext("events", 2, 41)
    letter = dead_letter_for(key=None, value=b"{}", headers=[], timestamp_ms=5_000, error=ValueError("x"),
                             context=context, connector_name="c")  # fmt: skip
    assert original_place(letter.headers, 5_000, "events") == (2, 41, 5_000)
    assert original_place([*letter.headers, (ORIGINAL_TIMESTAMP, b"4000")], 9_000, "events") == (2, 41, 4_000)
    assert original_place(letter.headers, 5_000, "other") is None
    assert original_place([], 5_000, "events") is None
