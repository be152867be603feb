"""De-duplication by svix-id in Redis, shared by every receiver replica.

``seen:<id>`` marks a delivery written to Kafka (TTL ``dedupe_ttl_hours``). ``claim:<id>`` (SET NX,
short TTL) makes two replicas that get the same delivery at once write it once: the second is told
to come back later (409; Svix retries), and a claim whose holder died expires by itself.
"""

from __future__ import annotations

import secrets

import redis

from connector.redisio import translated

__all__ = ["Dedupe"]

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class Dedupe:
    def __init__(self, client: redis.Redis, *, prefix: str, ttl_seconds: int, claim_seconds: int = 60) -> None:
        self._client = client
        self._prefix = prefix + "webhook:"
        self._ttl = ttl_seconds
        self._claim_ttl = claim_seconds

    def seen(self, svix_id: str) -> bool:
        with translated():
            return bool(self._client.exists(self._prefix + "seen:" + svix_id))

    def claim(self, svix_id: str) -> str | None:
        """A token while this replica handles the delivery, None when another one is."""
        token = secrets.token_hex(8)
        with translated():
            taken = self._client.set(self._prefix + "claim:" + svix_id, token, nx=True, ex=self._claim_ttl)
        return token if taken else None

    def done(self, svix_id: str) -> None:
        with translated():
            self._client.set(self._prefix + "seen:" + svix_id, "1", ex=self._ttl)

    def release(self, svix_id: str, token: str) -> None:
        with translated():
            self._client.eval(_RELEASE, 1, self._prefix + "claim:" + svix_id, token)
