"""The client against the emulator and real Redis: storms, bursts, the shared limiter, secrecy."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable

import pytest
import redis

from connector.errors import AuthenticationFailed, QuotaExceeded
from connector.resend import RateLimiter, ResendClient
from connector.settings import ResendSettings
from resend_emulator import EmulatorInspector, EmulatorServer
from tests.integration.conftest import API_KEY


def client(url: str, store: redis.Redis | None, prefix: str, rate: float = 1000, key: str = API_KEY) -> ResendClient:
    settings = ResendSettings(api_key=key, base_url=url, max_requests_per_second=rate)  # type: ignore[arg-type]
    return ResendClient.from_settings(settings, store, key_prefix=prefix)


def test_429_storms_and_5xx_bursts_never_reach_the_caller(
    emulator: EmulatorServer, inspector: EmulatorInspector, redis_client: redis.Redis, unique: Callable[[str], str]
) -> None:
    c = client(emulator.url, redis_client, unique("rl") + ":")
    c.create_contact_property("plan")
    # Storms announce a 50 ms retry-after (Resend says 1 s) so the test costs a second, not half a minute.
    inspector.set_faults(retry_after_seconds=0.05, error_rate=0.3, seed=3)
    for i in range(30):
        if i % 10 == 0:
            inspector.set_faults(storm_429=5)
        if i == 15:
            inspector.set_faults(outage_seconds=0.4)  # a burst: every call answers 503 for a while
        assert c.create_contact(f"user{i}@example.com", properties={"plan": "pro"})
    counts = inspector.call_counts()
    assert counts.get("POST /contacts 201") == 30
    assert sum(n for k, n in counts.items() if k.endswith(" 429")) == 15
    assert counts.get("POST /contacts 503", 0) >= 2
    assert counts.get("POST /contacts 500", 0) > 0
    c.close()


def test_dropped_connections_and_latency_are_survived(
    emulator: EmulatorServer, inspector: EmulatorInspector, unique: Callable[[str], str]
) -> None:
    c = client(emulator.url, None, "x:")
    inspector.set_faults(drop_rate=0.3, latency_ms=20, seed=5)
    for i in range(10):
        c.create_contact(f"d{i}@example.com")
    assert len(inspector.contacts()) == 10
    c.close()


@pytest.mark.parametrize("status", [400, 401, 403])
def test_an_unknown_key_is_an_authentication_failure_whichever_status_names_it(status: int) -> None:
    server = EmulatorServer(api_keys=(API_KEY,), unknown_key_status=status).start()
    try:
        wrong = client(server.url, None, "x:", key="re_wrong_key_456")
        with pytest.raises(AuthenticationFailed) as caught:
            wrong.check()
        wrong.close()
    finally:
        server.stop()
    name = "validation_error" if status == 400 else "invalid_api_key"  # 400: "API key is invalid"
    assert (caught.value.status, caught.value.name) == (status, name)
    assert "re_wrong_key_456" not in str(caught.value)


def test_quota_and_bad_keys_pause_at_once(emulator: EmulatorServer, inspector: EmulatorInspector) -> None:
    wrong, sending_only, good = (
        client(emulator.url, None, "x:", key=key) for key in ("re_wrong_key_123", "re_sending_only", API_KEY)
    )
    with pytest.raises(AuthenticationFailed) as caught:
        wrong.check()
    assert caught.value.name == "invalid_api_key"
    assert "re_wrong_key_123" not in str(caught.value)
    with pytest.raises(AuthenticationFailed) as restricted:
        sending_only.check()
    assert restricted.value.name == "restricted_api_key"
    inspector.set_faults(quota_exhausted=True)
    with pytest.raises(QuotaExceeded):
        good.check()
    for c in (wrong, sending_only, good):
        c.close()
    assert sum(inspector.call_counts().values()) == 3  # nothing retried


def test_limiter_spaces_calls_and_follows_the_announced_limit(
    redis_client: redis.Redis, unique: Callable[[str], str]
) -> None:
    limiter = RateLimiter(redis_client, team="t", ceiling=20, prefix=unique("gcra") + ":")
    assert limiter.wait_ms() == 0
    wait = limiter.wait_ms()
    assert 0 < wait <= 50  # 20 per second: one slot every 50 ms
    limiter.observe_limit(2)  # Resend says 2: the ceiling of 20 no longer applies
    time.sleep(0.06)
    assert limiter.wait_ms() == 0
    assert 400 <= limiter.wait_ms() <= 500
    limiter.cool_down(2.0)
    assert limiter.wait_ms() > 1500


def test_the_limit_is_shared_by_key_hash_not_by_key(redis_client: redis.Redis, unique: Callable[[str], str]) -> None:
    prefix = unique("gcra") + ":"
    settings = ResendSettings(api_key="re_shared_secret", max_requests_per_second=2)  # type: ignore[arg-type]
    shared = ResendClient.from_settings(settings, redis_client, key_prefix=prefix)
    shared.limiter.acquire()  # type: ignore[union-attr]
    shared.close()
    keys = redis_client.keys(prefix + "*")
    assert keys
    assert all("re_shared_secret" not in k for k in keys)


LOOP = """
import sys, time
import redis
from connector.resend import ResendClient
from connector.settings import ResendSettings
url, redis_url, prefix, key, seconds = sys.argv[1:6]
store = redis.Redis.from_url(redis_url, decode_responses=True)
client = ResendClient.from_settings(
    ResendSettings(api_key=key, base_url=url, max_requests_per_second=2), store, key_prefix=prefix)
client.check()
until = time.time() + float(seconds)
while time.time() < until:
    client.check()
client.close()
store.close()
"""


@pytest.mark.timeout(120)
def test_two_processes_share_two_requests_per_second(
    emulator: EmulatorServer, inspector: EmulatorInspector, redis_url: str, unique: Callable[[str], str]
) -> None:
    prefix = unique("shared") + ":"
    procs = [
        subprocess.Popen([sys.executable, "-c", LOOP, emulator.url, redis_url, prefix, API_KEY, "24"]) for _ in range(2)
    ]
    for proc in procs:
        assert proc.wait(timeout=60) == 0
    times = sorted(call["t"] for call in inspector.calls())
    start = times[0] + 2  # leave out the seconds in which the processes start
    window = [t for t in times if start <= t < start + 20]
    assert 30 <= len(window) <= 41  # 2 per second over 20 seconds (plus the edge), shared by both
    for second in range(20):
        in_second = [t for t in window if start + second <= t < start + second + 1]
        assert len(in_second) <= 3  # never a burst: GCRA spaces calls 500 ms apart
    assert not any(call["status"] == 429 for call in inspector.calls())
