"""The one seam to Redis: how connections are made and how redis-py's errors are translated.

Every module that talks to Redis takes a ``redis.Redis`` built by :func:`connect` and wraps its calls in
:func:`translated` (a context manager) so that a lost server becomes
:class:`~connector.errors.StateStoreUnavailable` (retryable) everywhere, never a raw redis-py error.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import redis

from connector.errors import StateStoreUnavailable
from connector.settings import RedisSettings

__all__ = ["connect", "translated"]


def connect(settings: RedisSettings) -> redis.Redis:
    """A pooled client that returns ``str`` values (all our keys and values are text)."""
    return redis.Redis.from_url(
        settings.url.get_secret_value(),
        decode_responses=True,
        socket_timeout=settings.socket_timeout_seconds,
        socket_connect_timeout=settings.socket_timeout_seconds,
        health_check_interval=30,
    )


@contextmanager
def translated() -> Iterator[None]:
    """Turn redis-py's connection-level failures into StateStoreUnavailable (retryable)."""
    try:
        yield
    except (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError) as exc:
        raise StateStoreUnavailable(f"redis unavailable: {type(exc).__name__}") from exc
    except redis.ResponseError as exc:
        # READONLY / LOADING / MASTERDOWN answers are transient states of a healthy deployment.
        if str(exc).split(" ", 1)[0] in {"READONLY", "LOADING", "MASTERDOWN", "TRYAGAIN", "CLUSTERDOWN"}:
            raise StateStoreUnavailable(f"redis not ready: {str(exc).split(' ', 1)[0]}") from exc
        raise
