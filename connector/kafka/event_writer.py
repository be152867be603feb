"""Durable writes of track events to the webhooks topic: acks=all, and wait for the acknowledgement.

The receiver answers 2xx only after :meth:`EventWriter.write` returns, so a delivery that fails
before that is retried by Resend (Svix), never lost.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from kafka import KafkaProducer
from kafka.errors import KafkaError

from connector.errors import RetryableError
from connector.kafka.clients import ABOUT_THE_RECORD, ORDERED, client_config
from connector.settings import KafkaSettings

__all__ = ["EventWriter"]


class EventWriter:
    def __init__(self, settings: KafkaSettings, topic: str, *, timeout: float = 10.0) -> None:
        self._producer = KafkaProducer(
            **client_config(settings),
            **ORDERED,  # a refused record fails alone (clients.py)
            linger_ms=2,
            max_block_ms=int(timeout * 1000),
        )
        self._topic = topic
        self._timeout = timeout

    def write(self, events: Sequence[tuple[str, dict[str, Any]]]) -> None:
        """(key, event) pairs, in order; returns once Kafka has acknowledged every one."""
        try:
            futures = [
                self._producer.send(
                    self._topic,
                    key=key.encode(),
                    value=json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode(),
                )
                for key, event in events
            ]
            for future in futures:
                future.get(timeout=self._timeout)
        except ABOUT_THE_RECORD as exc:  # 503: Svix redelivers it, written once the topic takes it
            error = type(exc).__name__
            raise RetryableError(
                f"the webhooks topic {self._topic} refuses this event ({error}); raise its limit"
            ) from exc
        except KafkaError as exc:
            raise RetryableError(f"webhook event write failed: {type(exc).__name__}") from exc

    def connected(self) -> bool:
        """Kafka answers with the topic's metadata (waits up to the write timeout when it does not)."""
        try:
            return bool(self._producer.partitions_for(self._topic))
        except KafkaError:
            return False

    def close(self) -> None:
        self._producer.close(timeout=10)
