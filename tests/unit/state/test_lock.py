"""The Redis lock's renewal while held, and a lost lock noticed by its holder (fakeredis, with Lua)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import fakeredis
import httpx
import pytest
import redis

from connector.errors import RetryableError
from connector.redisio import check_guards
from connector.resend import ResendClient
from connector.state import redis_lock
from connector.state.lock import _KEEPER, HeldLock


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Waits for the keeper thread, never for a fixed time: a loaded machine may run it late."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the keeper never got there"
        time.sleep(0.01)


@pytest.fixture
def client() -> Iterator[redis.Redis]:
    connection = fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=True)
    yield connection
    connection.close()


def test_a_held_lock_is_renewed_past_its_ttl_so_others_stay_out(client: redis.Redis) -> None:
    # The holder waits 2.5 TTLs (a rate limiter's wait, say): the lock is still its own. (A TTL of
    # 600 ms renewed every 200 ms: the keeper thread may run up to 400 ms late on a loaded machine.)
    with redis_lock(client, "t:lock:x", ttl_ms=600):
        token = client.get("t:lock:x")
        time.sleep(1.5)
        assert client.get("t:lock:x") == token
        assert 0 < client.pttl("t:lock:x") <= 600
        with pytest.raises(RetryableError, match="still held"), redis_lock(client, "t:lock:x", wait_s=0):
            pass
        check_guards()  # not lost: a Resend call may go on
    assert not client.exists("t:lock:x")


def test_release_stops_the_renewal(client: redis.Redis) -> None:
    before = _KEEPER.held()
    with redis_lock(client, "t:lock:x", ttl_ms=300), redis_lock(client, "t:lock:y", ttl_ms=300):
        assert _KEEPER.held() == before + 2
    assert _KEEPER.held() == before
    client.set("t:lock:x", "next-holder", px=300)  # a process that dies holding it: nobody renews it
    time.sleep(0.5)
    assert not client.exists("t:lock:x")


def test_a_lock_lost_while_held_is_noticed_by_the_holder(client: redis.Redis) -> None:
    def hold() -> None:
        with redis_lock(client, "t:lock:x", ttl_ms=300) as held:
            client.delete("t:lock:x")  # Redis lost it (a failover to a replica without it) ...
            client.set("t:lock:x", "someone-else")  # ... and another replica took it
            wait_until(lambda: held.lost is not None)  # the keeper's next renewal finds it
            with pytest.raises(RetryableError, match="lost while held"):
                check_guards()  # what every Resend call does before it is sent

    with pytest.raises(RetryableError, match="lost while held"):
        hold()
    assert client.get("t:lock:x") == "someone-else"  # never renewed nor released by its old holder
    check_guards()  # the lost lock's check ended with its block


def test_a_lock_expired_while_redis_was_unreachable_is_lost(client: redis.Redis) -> None:
    def hold() -> None:
        with redis_lock(client, "t:lock:x", ttl_ms=300) as held:
            client.connection_pool.disconnect()
            server = client.connection_pool.connection_kwargs["server"]
            server.connected = False  # unreachable until the TTL has run out
            wait_until(lambda: held.lost is not None)
            server.connected = True
            assert "not renewed in time" in str(held.lost)

    with pytest.raises(RetryableError, match="not renewed in time"):
        hold()


def test_a_lost_lock_never_hides_the_blocks_own_error(client: redis.Redis) -> None:
    def hold() -> None:
        with redis_lock(client, "t:lock:x", ttl_ms=300):
            client.set("t:lock:x", "someone-else")
            raise KeyError("the block's own failure")

    with pytest.raises(KeyError):
        hold()


def test_a_resend_call_under_a_lost_lock_is_not_sent(client: redis.Redis) -> None:
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={"object": "contact", "id": "c1"})

    resend = ResendClient(
        httpx.MockTransport(answer), base_url="https://api.resend.test", headers={}, sleep=lambda s: None
    )

    def hold() -> None:
        with redis_lock(client, "t:lock:x", ttl_ms=300) as held:
            assert resend.update_contact("a@x.io", fields={"first_name": "A"}) == "c1"  # held: sent
            client.set("t:lock:x", "someone-else")
            wait_until(lambda: held.lost is not None)  # a rate limiter's wait, say, outlasted it
            resend.update_contact("a@x.io", fields={"first_name": "B"})

    with pytest.raises(RetryableError, match="lost while held"):
        hold()
    assert len(sent) == 1


def test_the_keeper_survives_an_unexpected_renewal_error(client: redis.Redis, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    renew = HeldLock.renew

    def flaky(held: HeldLock) -> None:
        calls.append(held.name)
        if len(calls) == 1:
            raise ValueError("a bug in one renewal")
        renew(held)

    monkeypatch.setattr(HeldLock, "renew", flaky)
    # Renewed every 0.8 s: the failed renewal (its traceback logged) and the next one fit in the TTL
    # even when the keeper runs late. Renewed again after the failure: a TTL left above 1.6 s.
    with redis_lock(client, "t:lock:x", ttl_ms=2400) as held:
        wait_until(lambda: len(calls) >= 2 and client.pttl("t:lock:x") > 1600)
        assert held.lost is None
