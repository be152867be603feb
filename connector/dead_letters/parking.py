"""Dead letters an operator parked (the console's Park): copied to the parked topic, and marked here
so that no replay runs them again.

Key, under ``redis.key_prefix``: ``parked-letter:<dead-letter topic>:<partition>:<offset>`` -> who
parked it, expiring after :data:`PARKED_TTL_SECONDS` (longer than a dead-letter topic is usually
kept; a record older than that is gone from the topic anyway).
"""

from __future__ import annotations

from collections.abc import Iterable

import redis

__all__ = ["PARKED_TTL_SECONDS", "mark_parked", "parked_among"]

PARKED_TTL_SECONDS = 90 * 86_400


def _key(prefix: str, topic: str, partition: int, offset: int) -> str:
    return f"{prefix}parked-letter:{topic}:{partition}:{offset}"


def mark_parked(client: redis.Redis, prefix: str, topic: str, partition: int, offset: int, by: str) -> None:
    client.set(_key(prefix, topic, partition, offset), by, ex=PARKED_TTL_SECONDS)


def parked_among(
    client: redis.Redis, prefix: str, topic: str, places: Iterable[tuple[int, int]]
) -> set[tuple[int, int]]:
    """Which of these (partition, offset) places of ``topic`` an operator parked, in one round trip."""
    wanted = list(places)
    if not wanted:
        return set()
    found = client.mget([_key(prefix, topic, partition, offset) for partition, offset in wanted])
    return {place for place, by in zip(wanted, found, strict=True) if by is not None}
