"""The thin Kafka wrapper: client configuration from settings, topic creation, durable sends."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import Any, Generic, Protocol, TypeVar

import kafka
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import (
    CorruptRecordError,
    InvalidRecordError,
    InvalidTimestampError,
    KafkaError,
    KafkaTimeoutError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    TopicAlreadyExistsError,
    TopicAuthorizationFailedError,
    UnknownTopicOrPartitionError,
)

from connector.errors import DeadLetterTopicUnwritable, RetryableError
from connector.kafka.workarounds import no_auto_creation
from connector.logs import get_logger
from connector.settings import KafkaSettings

log = get_logger(__name__)

_TOO_LARGE = (MessageSizeTooLargeError, RecordListTooLargeError)
# What the broker or the producer says about the record itself; any other error is about the
# connection or the topic, and a smaller copy would not help (it is retried).
ABOUT_THE_RECORD = (*_TOO_LARGE, InvalidRecordError, InvalidTimestampError, CorruptRecordError)
# What a send to a topic that does not exist ends with (its metadata never comes, or the broker says
# so); a broker that is away ends the same way, so the topic's existence is asked before pausing.
_MAYBE_MISSING = (KafkaTimeoutError, UnknownTopicOrPartitionError)
# How long a dead-letter send waits for the topic's metadata (kafka-python's default is 60 s): a
# worker thread is held that long before a deleted topic is known to be missing.
_METADATA_WAIT_MS = 10_000


class Letter(Protocol):
    """What a dead letter is to Kafka (connector/dead_letters/format.py's DeadLetter is one)."""

    @property
    def key(self) -> bytes | None: ...

    @property
    def value(self) -> bytes | None: ...

    @property
    def headers(self) -> list[tuple[str, bytes]]: ...

    @property
    def timestamp_ms(self) -> int | None: ...


L = TypeVar("L", bound=Letter)
# The smaller copies of a letter the topic refused, to try in order; ``too_large``: refused for its size.
Smaller = Callable[[L, bool], Sequence[L]]


class _Refused(Exception):
    """The topic or the producer refuses this record for good (not a transient failure)."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(f"{type(error).__name__}: {error}")
        self.error = error


__all__ = [
    "ABOUT_THE_RECORD",
    "DeadLetterProducer",
    "Letter",
    "Smaller",
    "admin_client",
    "answers_metadata",
    "client_config",
    "ensure_topics",
    "new_consumer",
    "ordered_producer",
    "plain_producer",
]


def client_config(settings: KafkaSettings) -> dict[str, Any]:
    config: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap_servers.split(","),
        "client_id": settings.client_id,
        "security_protocol": settings.security_protocol,
        "bootstrap_timeout_ms": settings.bootstrap_timeout_ms,
    }
    if settings.sasl_mechanism:
        config["sasl_mechanism"] = settings.sasl_mechanism
        config["sasl_plain_username"] = settings.sasl_username
        config["sasl_plain_password"] = settings.sasl_password.get_secret_value() if settings.sasl_password else None
    return config


def new_consumer(settings: KafkaSettings, *, group_id: str | None = None) -> KafkaConsumer:
    return KafkaConsumer(
        **client_config(settings),
        group_id=group_id or settings.group_id,
        enable_auto_commit=False,  # offsets are committed only past finished records
        auto_offset_reset=settings.auto_offset_reset,
        max_poll_records=settings.max_poll_records,
        session_timeout_ms=settings.session_timeout_ms,
        max_poll_interval_ms=settings.max_poll_interval_ms,
    )


# Not idempotent: kafka-python 3's idempotent producer (its default) takes a broker's refusal of one
# record (a topic's max.message.bytes) as fatal and fails every later send of the process. One request
# in flight per broker keeps the order idempotence kept; a retry after a lost acknowledgement may
# write a record twice, which every reader of these topics takes (docs/semantics.md).
ORDERED = {"acks": "all", "enable_idempotence": False, "max_in_flight_requests_per_connection": 1, "retries": 5}


def ordered_producer(settings: KafkaSettings) -> KafkaProducer:
    """acks=all, in order, and a record the broker refuses fails alone (the backfill's producer)."""
    return KafkaProducer(**client_config(settings), **ORDERED, linger_ms=20)


def admin_client(settings: KafkaSettings, **overrides: Any) -> Any:
    """An admin client (``check`` describes topics and the group with it)."""
    return kafka.KafkaAdminClient(**{**client_config(settings), **overrides})


def plain_producer(bootstrap_servers: str) -> KafkaProducer:
    """A producer with no settings but the brokers and acks=all (the local demo's sample events)."""
    return KafkaProducer(bootstrap_servers=bootstrap_servers, acks="all")


def answers_metadata(bootstrap_servers: str, *, timeout_ms: int = 3000) -> bool:
    """Whether a broker answers a metadata request (the local Kafka's readiness)."""
    try:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=timeout_ms)
    except (KafkaError, OSError, ValueError):
        return False
    try:
        admin.list_topics()
        return True
    except (KafkaError, OSError):
        return False
    finally:
        admin.close()


def ensure_topics(settings: KafkaSettings, topics: list[str], *, partitions: int | None = None) -> None:
    """Create the missing ones with the dead-letter settings (-1: the broker's default)."""
    partitions = partitions or settings.dead_letter_partitions or -1
    replication = settings.dead_letter_replication_factor or -1
    admin = KafkaAdminClient(**client_config(settings))
    try:
        existing = set(admin.list_topics())
        missing = [
            NewTopic(t, num_partitions=partitions, replication_factor=replication) for t in topics if t not in existing
        ]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):  # another replica created it first
                admin.create_topics(missing)
    finally:
        admin.close()


def _topic_exists(settings: KafkaSettings, topic: str) -> bool:
    admin = KafkaAdminClient(**client_config(settings))
    try:
        return topic in set(admin.list_topics())
    finally:
        admin.close()


class DeadLetterProducer(Generic[L]):
    """Sends with acks=all and waits for the acknowledgement: the source offset is committed after.

    A transient failure is a RetryableError (the source offset stays uncommitted, so nothing is
    lost). A letter the topic refuses for good (too large, a timestamp out of range, ...) is written
    smaller instead: the copies ``smaller`` makes (connector/dead_letters/fit.py's ``smaller_copies``:
    fitted, then context only), the first the topic takes. A topic that takes no record at
    all (deleted, no write permission, refusing even the last copy) is DeadLetterTopicUnwritable:
    consumption pauses until a probe's write is accepted (issue #24 point 4). The producer never
    auto-creates the topic: ``run`` creates it with the dead-letter settings, a broker's auto-creation
    would not.
    """

    def __init__(
        self,
        settings: KafkaSettings,
        smaller: Smaller[L],
        *,
        topic_exists: Callable[[str], bool] | None = None,
        **overrides: Any,
    ) -> None:
        # Not idempotent: kafka-python 3's idempotent producer takes a broker's refusal of one record
        # (a topic's max.message.bytes) as fatal and fails every later send, the smaller copies and
        # the probes after the topic was fixed included. A duplicate dead letter costs nothing.
        config = {**client_config(settings), "acks": "all", "linger_ms": 0, "retries": 5, "enable_idempotence": False,
                  "allow_auto_create_topics": False, "max_block_ms": _METADATA_WAIT_MS, **overrides}  # fmt: skip
        self._producer = KafkaProducer(**config)
        no_auto_creation(self._producer)  # kafka-python 3.0 drops allow_auto_create_topics (workarounds.py)
        self._topic_exists = topic_exists or (lambda topic: _topic_exists(settings, topic))
        self._smaller = smaller

    def send(self, topic: str, letter: L, *, timeout: float = 30.0) -> L:
        """Write the letter (or the smaller copy the topic accepts); returns what was written."""
        try:
            self._send(topic, letter, timeout)
            return letter
        except _Refused as exc:
            refused = exc
        for copy in self._smaller(letter, isinstance(refused.error, _TOO_LARGE)):
            log.info("dead_letter.refused", topic=topic, error=type(refused.error).__name__, detail=str(refused))
            try:
                self._send(topic, copy, timeout)
                return copy
            except _Refused as exc:
                refused = exc
        raise DeadLetterTopicUnwritable(
            f"the dead-letter topic {topic} refuses even a context-only record ({refused}); "
            "raise its max.message.bytes or check what refuses it",
            topic=topic,
        )

    def _send(self, topic: str, letter: Letter, timeout: float) -> None:
        try:
            future = self._producer.send(
                topic,
                key=letter.key,
                value=letter.value,
                headers=letter.headers,
                timestamp_ms=letter.timestamp_ms,
            )
            future.get(timeout=timeout)
        except TopicAuthorizationFailedError as exc:
            message = f"no permission to write the dead-letter topic {topic} (TopicAuthorizationFailedError)"
            raise DeadLetterTopicUnwritable(message, topic=topic) from exc
        except KafkaError as exc:
            if isinstance(exc, ABOUT_THE_RECORD):
                raise _Refused(exc) from exc
            if isinstance(exc, _MAYBE_MISSING) and self._missing(topic):
                message = f"the dead-letter topic {topic} does not exist; create it (kafka.dead_letter_topic)"
                raise DeadLetterTopicUnwritable(message, topic=topic) from exc
            raise RetryableError(f"dead-letter write failed: {type(exc).__name__}") from exc
        except (TypeError, ValueError, AssertionError) as exc:  # kafka-python's own checks of the record
            raise _Refused(exc) from exc

    def _missing(self, topic: str) -> bool:
        """Whether the cluster answers that ``topic`` does not exist (not answering is not "missing")."""
        try:
            return not self._topic_exists(topic)
        except Exception as exc:  # noqa: BLE001 - the cluster is away: a transient failure, retried
            log.debug("dead_letter.topic_unknown", topic=topic, error=type(exc).__name__)
            return False

    def flush(self, timeout: float = 30.0) -> None:
        self._producer.flush(timeout=timeout)

    def close(self) -> None:
        self._producer.close(timeout=10)
