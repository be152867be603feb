"""The Redis lock on a real Redis: a holder that waits longer than the TTL (a rate limiter's wait, as
under a 429 storm) keeps its lock, renewed by the process's keeper; a second replica waiting for it
gets it only once the holder releases it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import redis
from pydantic import SecretStr

from connector.redisio import check_guards, connect
from connector.settings import RedisSettings
from connector.state import redis_lock

TTL_MS = 1_000  # shortened: the holder waits three and a half of them


def test_a_holder_waiting_longer_than_the_ttl_keeps_the_lock_until_it_releases_it(
    redis_client: redis.Redis, redis_url: str, unique: Callable[[str], str]
) -> None:
    key = f"{unique('lock')}:lock:property:plan"
    other = connect(RedisSettings(url=SecretStr(redis_url)))  # the second replica's own connection
    taken, released, got = threading.Event(), [0.0], [0.0]
    tokens: list[str | bytes | None] = []

    def contender() -> None:
        taken.wait(5)
        with redis_lock(other, key, ttl_ms=TTL_MS, wait_s=15.0):
            got[0] = time.monotonic()

    thread = threading.Thread(target=contender)
    thread.start()
    try:
        with redis_lock(redis_client, key, ttl_ms=TTL_MS):
            taken.set()
            for _ in range(7):  # 3.5 s blocked, as in RateLimiter.take() (it sleeps between polls)
                time.sleep(0.5)
                tokens.append(redis_client.get(key))
                assert 0 < redis_client.pttl(key) <= TTL_MS
            check_guards()  # still held: the Resend call after the wait may go on
            released[0] = time.monotonic()
        thread.join(20)
    finally:
        other.close()
    assert tokens[0] is not None
    assert len(set(tokens)) == 1  # the holder's own token all along
    assert got[0] >= released[0] > 0  # the contender only after the release
    assert not redis_client.exists(key)
