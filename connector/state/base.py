"""What every part of the connector's Redis store shares: the client, the key prefix, the TTLs, and
the key layout that keeps Redis Cluster's slots apart (issue #27).

Redis Cluster hashes only the part of a key inside its first ``{...}`` (the hash tag) when there is one.
The layout therefore tags:

- per-contact keys by the email (``contact:{<email>}``, ``fields:{<email>}``, ``email-users:{<email>}``,
  ``email-user:{<email>}``) and per-user keys by the userId (``user:{<id>}``, ``alias-pending:{<id>}``):
  contacts spread over every slot, and what one script or transaction touches of one entity shares one;
- team-wide groups written together by one tag each: ``{definitions}`` (segments, properties, topics,
  refused property keys), ``{email-index}`` (the set and its meta hash).

Everything else is one key per command (locks, the status indexes, checkpoints), which needs no tag.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import redis

__all__ = ["StoreBase", "loose", "store_key"]


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
        return store_key(self._p, *parts)


# A key whose first part is one of these is an entity's: tagged by the entity (the second part).
_ENTITY = frozenset({"contact", "fields", "email-users", "email-user", "user", "alias-pending"})
# A key whose first part is one of these belongs to a group written together: tagged by the group.
_GROUPS = {
    "segments": "definitions", "segments:loaded": "definitions", "properties": "definitions",
    "properties:loaded": "definitions", "properties:deleted": "definitions", "property-refused": "definitions",
    "topics": "definitions", "topics:loaded": "definitions",
    "email-index": "email-index", "email-index:meta": "email-index",
}  # fmt: skip


def store_key(prefix: str, *parts: str) -> str:
    """The Redis key of ``parts`` under ``prefix``, with the hash tag of the layout above."""
    head = parts[0]
    if head in _ENTITY and len(parts) == 2:
        return f"{prefix}{head}:{{{parts[1]}}}"
    group = _GROUPS.get(head)
    if group is not None:
        return f"{prefix}{{{group}}}:" + ":".join(parts)
    return prefix + ":".join(parts)
