"""Which dead letters carry only context, and what of their context goes onto the original (#24 point 5)."""

from __future__ import annotations

from connector.dead_letters.fit import context_only, fitted
from connector.dead_letters.format import DeadLetter, FailureContext, dead_letter_for
from connector.dead_letters.originals import carried_context, origin_if_only_context
from connector.errors import DecodeError


def whole(value: bytes = b"{}") -> DeadLetter:
    return dead_letter_for(key=b"k", value=value, headers=[("h", b"1")], timestamp_ms=5, error=DecodeError("x"),
                           context=FailureContext("events", 2, 41, attempts=1), connector_name="c")  # fmt: skip


def test_a_whole_letter_is_replayed_as_it_is() -> None:
    assert origin_if_only_context(whole().headers) is None


def test_a_copy_written_whole_with_its_timestamp_moved_is_whole() -> None:
    assert origin_if_only_context(fitted(whole(), too_large=False).headers) is None


def test_a_context_only_letter_and_a_cut_one_name_their_original() -> None:
    for letter in (context_only(whole()), fitted(whole(b"x" * 70_000), too_large=True)):
        origin = origin_if_only_context(letter.headers)
        assert origin is not None
        assert (origin.topic, origin.partition, origin.offset, origin.attempts) == ("events", 2, 41, 2)


def test_a_record_kafka_could_not_read_has_no_original_to_read() -> None:
    letter = dead_letter_for(key=None, value=None, headers=[], timestamp_ms=None, error=DecodeError("corrupt"),
                             context=FailureContext("events", 0, 7), connector_name="c")  # fmt: skip
    unread = [*letter.headers, ("__resend_connector.record_not_read", b"true")]
    assert origin_if_only_context(context_only(DeadLetter(None, b"", unread, None)).headers) is None


def test_the_original_carries_the_failure_context_not_what_described_the_copy() -> None:
    carried = dict(carried_context(context_only(whole()).headers))
    assert carried["__resend_connector.attempts"] == b"2"
    assert carried["__connect.errors.offset"] == b"41"
    assert "__resend_connector.truncated" not in carried
    assert "__resend_connector.original_timestamp" not in carried
    assert "h" not in carried
