"""What a transformation function receives beside the event: settings, a logger, a small store."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import redis

from connector.redisio import translated
from connector.settings import Settings

__all__ = ["KeyValueStore", "TransformContext"]


class KeyValueStore:
    """A small key-value store in Redis for transformation functions, every key under ``prefix``.

    Values come back as strings (the connector's Redis client decodes responses). A lost Redis is
    StateStoreUnavailable, which the chain passes on so the record is retried, not dead-lettered.
    """

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
        if value is None:
            return None
        return value.decode() if isinstance(value, bytes) else str(value)

    def set(self, key: str, value: str | int | float, ttl_seconds: int | None = None) -> None:
        """Store ``value``; with ``ttl_seconds`` it expires after that many seconds."""
        with translated():
            self._redis().set(self._prefix + key, value, ex=ttl_seconds)

    def delete(self, key: str) -> bool:
        """True when the key existed."""
        with translated():
            return bool(self._redis().delete(self._prefix + key))

    def incr(self, key: str, amount: int = 1) -> int:
        """The counter after adding ``amount`` (a missing key counts from 0)."""
        with translated():
            return int(self._redis().incrby(self._prefix + key, amount))


@dataclass(frozen=True, slots=True)
class TransformContext:
    """The second argument of every transformation function.

    ``log`` is a structlog logger bound with ``function=<the function's reference>``.
    """

    settings: Settings
    log: Any
    store: KeyValueStore
