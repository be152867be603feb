"""``resend-connector check``: can this configuration work? One line per check, exit 1 on any failure."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TextIO

from connector.errors import AuthenticationFailed, ConnectorError
from connector.redisio import connect
from connector.resend import ResendClient
from connector.settings import Settings

__all__ = ["run_check"]


def _kafka(settings: Settings) -> list[tuple[str, Callable[[], str]]]:
    from kafka import KafkaAdminClient

    from connector.pipeline.kafka_io import client_config

    admin: list[KafkaAdminClient] = []

    def reach() -> str:
        admin.append(KafkaAdminClient(**client_config(settings.kafka), request_timeout_ms=10_000))
        return f"{len(admin[0].list_topics())} topics visible"

    def topic(name: str) -> Callable[[], str]:
        def exists() -> str:
            if not admin:
                raise RuntimeError("Kafka not reachable")
            if name not in admin[0].list_topics():
                raise RuntimeError(f"topic {name} does not exist")
            return "exists"

        return exists

    def group() -> str:
        # Describing the group finds its coordinator without joining (joining would steal partitions).
        if not admin:
            raise RuntimeError("Kafka not reachable")
        described = _retrying(lambda: admin[0].describe_groups([settings.kafka.group_id]))
        group = described.get(settings.kafka.group_id) or {}
        state = group.get("group_state") or group.get("state") if isinstance(group, dict) else ""
        admin[0].close()
        return f"coordinator found, group state {state or 'unknown'}"

    return [
        ("kafka reachable", reach),
        (f"events topic {settings.kafka.topic}", topic(settings.kafka.topic)),
        (f"dead-letter topic {settings.kafka.dead_letter_topic}", topic(settings.kafka.dead_letter_topic)),
        (f"consumer group {settings.kafka.group_id}", group),
    ]


def _retrying(call: Callable[[], Any], seconds: float = 20.0) -> Any:
    """kafka-python marks transient errors ``retriable`` (a new cluster's coordinator is still moving in)."""
    from kafka.errors import KafkaError

    deadline = time.monotonic() + seconds
    while True:
        try:
            return call()
        except KafkaError as exc:
            if not exc.retriable or time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def _redis(settings: Settings) -> str:
    client = connect(settings.redis)
    try:
        client.ping()
        return "PING answered"
    finally:
        client.close()


def _resend(settings: Settings) -> str:
    client = ResendClient.from_settings(settings.resend, None)
    try:
        client.check()
    except AuthenticationFailed as exc:
        if exc.name == "restricted_api_key":
            raise RuntimeError("the key is a sending-only key; the connector needs a full-access key") from None
        raise RuntimeError(f"the key was refused ({exc.status} {exc.name})") from None
    finally:
        client.close()
    return "key valid with full access"


def run_check(settings: Settings, out: TextIO) -> int:
    print("ok    settings valid", file=out)
    checks = [*_kafka(settings), ("redis", lambda: _redis(settings)), ("resend", lambda: _resend(settings))]
    failed = 0
    for name, check in checks:
        try:
            detail = check()
            print(f"ok    {name}: {detail}", file=out)
        except (ConnectorError, RuntimeError, OSError, Exception) as exc:  # noqa: BLE001 - every failure is a line
            failed += 1
            print(f"FAIL  {name}: {type(exc).__name__}: {exc}", file=out)
    return 1 if failed else 0
