"""Fixtures every unit test package may use: Redis as fakeredis (a server per test), the fake Resend
(tests/unit/fakes/resend.py) and the real EventSync over both. No servers: the seams are faked at
the wrapper (the Kafka consumer, Resend's calls), never by patching a module's names."""

from __future__ import annotations

from collections.abc import Iterator

import fakeredis
import pytest
import redis

from connector.sync import EventSync
from tests.unit.fakes.resend import FakeResend, make_sync


@pytest.fixture
def server() -> fakeredis.FakeServer:
    return fakeredis.FakeServer()


@pytest.fixture
def redis_client(server: fakeredis.FakeServer) -> Iterator[redis.Redis]:
    client = fakeredis.FakeRedis(server=server, decode_responses=True)
    yield client
    client.close()


@pytest.fixture
def resend() -> FakeResend:
    return FakeResend()


@pytest.fixture
def sync(resend: FakeResend, redis_client: redis.Redis) -> EventSync:
    return make_sync(resend, redis_client)
