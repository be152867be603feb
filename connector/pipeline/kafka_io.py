"""The thin Kafka wrapper: client configuration from settings, topic creation, durable sends."""

from __future__ import annotations

import contextlib
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from connector.errors import RetryableError
from connector.pipeline.dead_letter import DeadLetter
from connector.settings import KafkaSettings

__all__ = ["DeadLetterProducer", "client_config", "ensure_topics", "new_consumer"]


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


class DeadLetterProducer:
    """Sends with acks=all and waits for the acknowledgement: the source offset is committed after."""

    def __init__(self, settings: KafkaSettings) -> None:
        self._producer = KafkaProducer(**client_config(settings), acks="all", linger_ms=5, retries=5)

    def send(self, topic: str, letter: DeadLetter, *, timeout: float = 30.0) -> None:
        try:
            future = self._producer.send(
                topic,
                key=letter.key,
                value=letter.value,
                headers=letter.headers,
                timestamp_ms=letter.timestamp_ms,
            )
            future.get(timeout=timeout)
        except KafkaError as exc:
            # kafka-python marks which of its errors are transient; the source offset stays
            # uncommitted either way, so a failed dead-letter write is retried, never lost.
            raise RetryableError(f"dead-letter write failed: {type(exc).__name__}") from exc

    def flush(self, timeout: float = 30.0) -> None:
        self._producer.flush(timeout=timeout)

    def close(self) -> None:
        self._producer.close(timeout=10)
