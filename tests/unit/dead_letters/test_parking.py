"""Dead letters parked in the console: marked by place, found again in one round trip."""

from __future__ import annotations

import redis

from connector.dead_letters.parking import PARKED_TTL_SECONDS, mark_parked, parked_among


def test_only_the_marked_places_of_that_topic_are_parked(redis_client: redis.Redis) -> None:
    mark_parked(redis_client, "p:", "dlq", 0, 7, "Jane Ops")
    assert parked_among(redis_client, "p:", "dlq", [(0, 7), (0, 8), (1, 7)]) == {(0, 7)}
    assert parked_among(redis_client, "p:", "other-dlq", [(0, 7)]) == set()
    assert parked_among(redis_client, "p:", "dlq", []) == set()
    assert redis_client.get("p:parked-letter:dlq:0:7") == "Jane Ops"
    assert 0 < redis_client.ttl("p:parked-letter:dlq:0:7") <= PARKED_TTL_SECONDS
