"""What a transformation function receives beside the event: settings, a logger, a small store."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import redis

from connector.redisio import translated
from connector.settings import Settings

__all__ = ["KeyValueStore", "TransformContext"]


class KeyValueStore:
    """A small key-value store in Redis, namespaced for transformation functions."""

    def __init__(self, client: redis.Redis | None, prefix: str) -> None:
        self._client = client
        self._prefix = prefix

    def _redis(self) -> redis.Redis:
        if self._client is None:
            raise RuntimeError("no Redis is configured for the transformation store")
        return self._client

    def get(self, key: str) -> str | None:
        with translated():
            value = self._redis().get(self._prefix + key)
        return None if value is None else str(value)

    def set(self, key: str, value: str, ttl_seconds: int | None = None) -> None:
        with translated():
            self._redis().set(self._prefix + key, value, ex=ttl_seconds)

    def delete(self, key: str) -> None:
        with translated():
            self._redis().delete(self._prefix + key)

    def incr(self, key: str, amount: int = 1) -> int:
        with translated():
            return int(self._redis().incrby(self._prefix + key, amount))


@dataclass(frozen=True)
class TransformContext:
    settings: Settings
    log: Any
    store: KeyValueStore
