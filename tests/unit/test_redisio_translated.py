"""redisio.translated: which of redis-py's errors are a Redis that is not there or not ready now
(StateStoreUnavailable, retried) and which are not."""

from __future__ import annotations

import pytest
import redis
import redis.exceptions as rex

from connector.errors import StateStoreUnavailable
from connector.redisio import translated


@pytest.mark.parametrize(
    "error",
    [
        redis.ConnectionError("refused"),
        redis.TimeoutError("timed out"),
        rex.ReadOnlyError("READONLY You can't write against a read only replica."),
        rex.TryAgainError("TRYAGAIN"),
        # A failover moved the slot: the replication gate's WAIT on a node's own connection meets it
        # inside a pipeline, and a crash on it ended `run` (exit 1, not 75) in the Redis Cluster
        # topology test.
        rex.MovedError("1584 127.0.0.1:51201"),
        rex.AskError("1584 127.0.0.1:51201"),
        redis.ResponseError("LOADING Redis is loading the dataset in memory"),
    ],
)
def test_a_redis_not_there_or_not_ready_is_unavailable(error: Exception) -> None:
    with pytest.raises(StateStoreUnavailable), translated():
        raise error


def test_other_answers_are_not_hidden_as_unavailable() -> None:
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"), translated():
        raise redis.ResponseError("WRONGTYPE Operation against a key holding the wrong kind of value")
