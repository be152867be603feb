"""Tiny fakes for the operator commands: a producer that records what reached 'the topic'."""

from __future__ import annotations

import json
import os
import signal
from dataclasses import dataclass, field
from typing import Any

from kafka.errors import KafkaError, KafkaTimeoutError

from connector.settings import Settings, load_settings


def settings(prefix: str = "t:") -> Settings:
    return load_settings(resend={"base_url": "http://127.0.0.1:1"}, redis={"key_prefix": prefix})


class FakeFuture:
    def __init__(self, error: KafkaError | None) -> None:
        self.error = error

    def get(self, timeout: float | None = None) -> Any:
        if self.error is not None:
            raise self.error
        return None


@dataclass
class FakeProducer:
    """Sends succeed (they are on the topic) unless their email is in ``fail_emails``.

    ``stop_after``: after that many sends, the next one is interrupted (Ctrl-C, or a real SIGTERM to
    this process with ``by_sigterm``).
    """

    fail_emails: set[str] = field(default_factory=set)
    stop_after: int | None = None
    by_sigterm: bool = False
    topic: list[tuple[str, bytes, dict[str, Any]]] = field(default_factory=list)
    sends: int = 0
    flushes: int = 0
    closed: bool = False

    def send(self, topic: str, *, key: bytes, value: bytes) -> FakeFuture:
        if self.stop_after is not None and self.sends >= self.stop_after:
            if self.by_sigterm:
                os.kill(os.getpid(), signal.SIGTERM)
            else:
                raise KeyboardInterrupt
        self.sends += 1
        event = json.loads(value)
        if event["traits"]["email"] in self.fail_emails:
            return FakeFuture(KafkaTimeoutError("expired before it was acknowledged"))
        self.topic.append((topic, key, event))
        return FakeFuture(None)

    def flush(self, timeout: float | None = None) -> None:
        self.flushes += 1

    def close(self, timeout: float | None = None) -> None:
        self.closed = True

    def message_ids(self) -> list[str]:
        return [event["messageId"] for _, _, event in self.topic]
