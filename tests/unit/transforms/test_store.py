"""The transformation store: namespaced keys, expiry, counters; a lost Redis is retryable."""

from __future__ import annotations

from pathlib import Path

import fakeredis
import pytest

from connector.errors import StateStoreUnavailable
from connector.settings import load_settings
from connector.transforms import KeyValueStore, TransformChain


def test_get_set_delete_incr_under_the_prefix() -> None:
    client = fakeredis.FakeRedis(decode_responses=True)
    store = KeyValueStore(client, "app:transform:")
    assert store.get("plan") is None
    store.set("plan", "pro")
    store.set("seen", 3, ttl_seconds=60)
    assert store.get("plan") == "pro"
    assert store.incr("seen") == 4
    assert store.incr("new", 5) == 5
    assert sorted(client.keys("*")) == ["app:transform:new", "app:transform:plan", "app:transform:seen"]
    assert 0 < client.ttl("app:transform:seen") <= 60
    assert client.ttl("app:transform:plan") == -1
    assert store.delete("plan") is True
    assert store.delete("plan") is False
    assert store.get("plan") is None


def test_functions_reach_the_store_under_the_redis_key_prefix(tmp_path: Path) -> None:
    (tmp_path / "count.py").write_text(
        "def transform(event, context):\n"
        "    event['seen'] = context.store.incr('seen:' + event['userId'])\n"
        "    return event\n"
    )
    client = fakeredis.FakeRedis(decode_responses=True)
    settings = load_settings(
        resend={"api_key": "re_x"},
        redis={"key_prefix": "tenant-a:"},
        transforms={"functions": [str(tmp_path / "count.py")]},
    )
    chain = TransformChain.from_settings(settings, client)
    try:
        assert [chain.apply({"type": "track", "userId": "u1"})[0]["seen"] for _ in range(3)] == [1, 2, 3]
    finally:
        chain.close()
    assert client.keys("*") == ["tenant-a:transform:seen:u1"]


def test_a_lost_redis_is_state_store_unavailable() -> None:
    server = fakeredis.FakeServer()
    server.connected = False
    store = KeyValueStore(fakeredis.FakeRedis(server=server, decode_responses=True), "p:")
    with pytest.raises(StateStoreUnavailable):
        store.get("k")
    with pytest.raises(StateStoreUnavailable):
        store.incr("k")
