"""What ``check`` asks of the cluster, through kafka-python's admin client: topics, partitions,
brokers and the consumer group's state. The group is *described*, never joined (a join would take
partitions away from running replicas).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import kafka.errors
from kafka.errors import GroupIdNotFoundError, KafkaError

from connector.kafka.clients import admin_client
from connector.settings import KafkaSettings

__all__ = ["Admin", "GroupState"]

_ERROR_NAME = re.compile(r"\b([A-Za-z]+Error)\b")


def _retriable(error: str) -> bool:
    """An error named in a describe answer (``[Error 16] NotCoordinatorError: None``) that kafka-python
    marks retriable."""
    match = _ERROR_NAME.search(error)
    found: Any = getattr(kafka.errors, match.group(1), None) if match else None
    return isinstance(found, type) and issubclass(found, KafkaError) and bool(getattr(found, "retriable", False))


@dataclass(frozen=True, slots=True)
class GroupState:
    """The coordinator's answer about a group. ``joined``: False when no member ever joined it (newer
    brokers answer GroupIdNotFoundError then); ``error``: any other error the coordinator named."""

    joined: bool
    state: str = "unknown"
    members: int = 0
    error: str = ""


class Admin:
    def __init__(self, client: Any, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self._client = client
        self._sleep = sleep

    @classmethod
    def connect(cls, settings: KafkaSettings, *, timeout_ms: int) -> Admin:
        """Raises what kafka-python raises when no broker answers within ``timeout_ms``."""
        bootstrap_ms = min(timeout_ms, settings.bootstrap_timeout_ms)
        return cls(admin_client(settings, request_timeout_ms=timeout_ms, bootstrap_timeout_ms=bootstrap_ms))

    def topics(self) -> set[str]:
        return set(self._client.list_topics())

    def partitions(self, topic: str) -> int:
        [described] = self._client.describe_topics([topic])
        return len(described.get("partitions") or ())

    def brokers(self) -> int:
        return len((self._client.describe_cluster() or {}).get("brokers") or ())

    def group(self, group_id: str, *, patience_s: float = 10.0) -> GroupState:
        deadline = time.monotonic() + patience_s
        while True:
            try:
                described = self._client.describe_groups([group_id]).get(group_id) or {}
            except KafkaError as exc:
                # kafka-python marks transient errors retriable: on a young cluster the coordinator
                # (the __consumer_offsets partition leader) is still being elected.
                if not exc.retriable or time.monotonic() > deadline:
                    raise
                self._sleep(0.5)
                continue
            error = str(described.get("error") or "")
            # The same, named in the answer instead of raised (NotCoordinatorError from a broker
            # that just started: seen failing test_check_passes_with_one_ok_line_per_check).
            if not _retriable(error) or time.monotonic() > deadline:
                break
            self._sleep(0.5)
        if GroupIdNotFoundError.__name__ in error:
            return GroupState(joined=False)
        members = len(described.get("members") or ())
        return GroupState(True, described.get("group_state") or "unknown", members, error)

    def close(self) -> None:
        self._client.close()
