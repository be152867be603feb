"""What every part of the connector's Redis store shares: the client, the key prefix, the TTLs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import redis

__all__ = ["StoreBase", "loose"]


def loose(values: Mapping[str, str]) -> dict[Any, Any]:
    # redis-py types hset's mapping with an invariant key type; our keys and values are text.
    return dict(values)


class StoreBase:
    """The client, the key prefix and the TTLs every part of the store shares."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        prefix: str,
        user_ttl_seconds: int,
        refused_ttl_seconds: int,
        fields_ttl_seconds: int = 7 * 86_400,
    ) -> None:
        self.client = client
        self._p = prefix
        self._user_ttl = user_ttl_seconds
        self._refused_ttl = refused_ttl_seconds
        self._fields_ttl = fields_ttl_seconds

    @property
    def fields_ttl_seconds(self) -> int:
        return self._fields_ttl

    def key(self, *parts: str) -> str:
        return self._p + ":".join(parts)
