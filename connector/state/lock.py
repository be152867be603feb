"""A Redis lock (SET NX PX with a token, released only by its holder) for work done once team-wide."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager

import redis

from connector.errors import RetryableError
from connector.redisio import translated

__all__ = ["redis_lock"]

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


@contextmanager
def redis_lock(client: redis.Redis, key: str, *, ttl_ms: int = 30_000, wait_s: float = 30.0) -> Iterator[None]:
    """Hold ``key`` while the block runs. The TTL frees it if this process dies while holding it."""
    token = secrets.token_hex(16)
    deadline = time.monotonic() + wait_s
    with translated():
        while not client.set(key, token, nx=True, px=ttl_ms):
            if time.monotonic() > deadline:
                raise RetryableError(f"lock {key.rsplit(':', 1)[-1]} still held after {wait_s:.0f}s")
            time.sleep(0.05)
    try:
        yield
    finally:
        with translated():
            client.eval(_RELEASE, 1, key, token)
