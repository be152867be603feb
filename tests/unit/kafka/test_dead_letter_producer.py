"""The dead-letter write: what is refused for good is written smaller, what is transient retries."""

from typing import Any

import pytest
from kafka.errors import (
    InvalidTimestampError,
    KafkaConnectionError,
    KafkaTimeoutError,
    MessageSizeTooLargeError,
    TopicAuthorizationFailedError,
    UnknownTopicOrPartitionError,
)

from connector.dead_letters.fit import smaller_copies
from connector.dead_letters.format import TRUNCATED, DeadLetter, FailureContext, dead_letter_for
from connector.errors import DeadLetterTopicUnwritable, DecodeError, RetryableError
from connector.kafka.clients import DeadLetterProducer


class Future:
    def __init__(self, error: Exception | None) -> None:
        self._error = error

    def get(self, timeout: float) -> None:
        if self._error is not None:
            raise self._error


class ScriptedProducer:
    """Answers each send with the next scripted outcome (None = acknowledged)."""

    def __init__(self, *outcomes: Exception | None) -> None:
        self.outcomes = list(outcomes)
        self.sent: list[dict[str, Any]] = []

    def send(self, topic: str, **record: Any) -> Future:
        self.sent.append(record)
        return Future(self.outcomes.pop(0))


def producer(fake: ScriptedProducer, *, topic_exists: bool | None = True) -> DeadLetterProducer:
    """``topic_exists`` None: the cluster does not answer the question."""

    def exists(topic: str) -> bool:
        if topic_exists is None:
            raise KafkaTimeoutError("Unable to bootstrap")
        return topic_exists

    made = DeadLetterProducer.__new__(DeadLetterProducer)
    made._producer = fake  # type: ignore[assignment]
    made._topic_exists = exists  # type: ignore[method-assign]
    made._smaller = smaller_copies
    return made


def letter(value: bytes) -> DeadLetter:
    return dead_letter_for(key=b"k", value=value, headers=[("h", b"1")], timestamp_ms=5, error=DecodeError("x"),
                           context=FailureContext("events", 0, 3), connector_name="c")  # fmt: skip


def test_a_letter_that_is_accepted_is_written_as_it_is() -> None:
    fake = ScriptedProducer(None)
    original = letter(b"{}")
    assert producer(fake).send("dlq", original) is original
    assert fake.sent[0]["value"] == b"{}"


def test_a_letter_too_large_is_written_truncated_with_its_timestamp() -> None:
    fake = ScriptedProducer(MessageSizeTooLargeError("too big"), None)
    written = producer(fake).send("dlq", letter(b"x" * 2_000_000))
    assert len(fake.sent) == 2
    assert fake.sent[1]["value"] == b"x" * 65536
    assert fake.sent[1]["timestamp_ms"] == 5
    assert b'"value": 2000000' in dict(written.headers)[TRUNCATED]


def test_a_refused_timestamp_moves_to_a_header_then_context_only_is_the_last_resort() -> None:
    fake = ScriptedProducer(InvalidTimestampError(), InvalidTimestampError(), None)
    written = producer(fake).send("dlq", letter(b"{}"))
    assert fake.sent[1]["timestamp_ms"] is None
    assert (written.key, written.value) == (None, b"")
    assert dict(written.headers)["__connect.errors.offset"] == b"3"


def test_kafka_pythons_own_refusals_are_refusals_too() -> None:
    fake = ScriptedProducer(TypeError("All headers items must be (str, bytes) tuples"), None)
    producer(fake).send("dlq", letter(b"{}"))
    assert len(fake.sent) == 2


@pytest.mark.parametrize("error", [KafkaConnectionError(), KafkaTimeoutError(), UnknownTopicOrPartitionError()])
def test_errors_about_the_connection_retry_and_nothing_is_shortened(error: Exception) -> None:
    fake = ScriptedProducer(error)
    with pytest.raises(RetryableError):
        producer(fake).send("dlq", letter(b"{}"))
    assert len(fake.sent) == 1


@pytest.mark.parametrize("error", [KafkaTimeoutError(), UnknownTopicOrPartitionError()])
def test_a_topic_that_is_gone_pauses(error: Exception) -> None:
    fake = ScriptedProducer(error)
    with pytest.raises(DeadLetterTopicUnwritable, match="dlq does not exist") as raised:
        producer(fake, topic_exists=False).send("dlq", letter(b"{}"))
    assert raised.value.topic == "dlq"
    assert len(fake.sent) == 1


def test_a_cluster_that_cannot_say_whether_the_topic_exists_is_transient() -> None:
    with pytest.raises(RetryableError):
        producer(ScriptedProducer(KafkaTimeoutError()), topic_exists=None).send("dlq", letter(b"{}"))


def test_no_permission_to_write_the_topic_pauses() -> None:
    fake = ScriptedProducer(TopicAuthorizationFailedError())
    with pytest.raises(DeadLetterTopicUnwritable, match="no permission"):
        producer(fake).send("dlq", letter(b"{}"))
    assert len(fake.sent) == 1


def test_a_topic_that_refuses_even_the_context_only_copy_pauses() -> None:
    fake = ScriptedProducer(*[MessageSizeTooLargeError()] * 3)
    with pytest.raises(DeadLetterTopicUnwritable, match="context-only"):
        producer(fake).send("dlq", letter(b"{}"))
    assert len(fake.sent) == 3
