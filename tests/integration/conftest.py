"""Integration fixtures: the Resend emulator (a real HTTP server) and a connected EventSync."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from pydantic import SecretStr

from connector.redisio import connect
from connector.resend import ResendClient
from connector.settings import RedisSettings, Settings, load_settings
from connector.sync import EventSync
from connector.wiring import state_store
from resend_emulator import EmulatorInspector, EmulatorServer

API_KEY = "re_integration_" + uuid.uuid4().hex[:8]


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    server = EmulatorServer(api_keys=(API_KEY,), restricted_keys=("re_sending_only",)).start()
    yield server
    server.stop()


@pytest.fixture
def inspector(emulator: EmulatorServer) -> Iterator[EmulatorInspector]:
    client = EmulatorInspector(emulator.url)
    yield client
    client.close()


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client = connect(RedisSettings(url=SecretStr(redis_url)))  # a Sentinel or Cluster URL too
    yield client
    client.close()


@pytest.fixture
def settings_for(emulator: EmulatorServer, redis_url: str, unique: Callable[[str], str]) -> Callable[..., Settings]:
    prefix = unique("it") + ":"

    def make(**destination: Any) -> Settings:
        return load_settings(
            redis={"url": redis_url, "key_prefix": prefix},
            resend={"base_url": emulator.url, "api_key": API_KEY, "max_requests_per_second": 1000},
            destination=destination,
        )

    return make


@pytest.fixture
def sync_for(settings_for: Callable[..., Settings], redis_client: redis.Redis) -> Iterator[Callable[..., EventSync]]:
    clients: list[ResendClient] = []

    def make(settings: Settings | None = None, **destination: Any) -> EventSync:
        settings = settings or settings_for(**destination)
        client = ResendClient.from_settings(settings.resend, redis_client, key_prefix=settings.redis.key_prefix)
        clients.append(client)
        return EventSync(settings, client, state_store(settings, redis_client))

    yield make
    for client in clients:
        client.close()
