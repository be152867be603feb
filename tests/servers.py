"""Where the real servers of a test run come from (a pytest plugin, loaded by tests/conftest.py).

In order of preference:
1. ``KAFKA_BOOTSTRAP_SERVERS`` / ``REDIS_URL`` set: use those (e.g. servers `make test` or CI started);
2. a Docker engine that answers: testcontainers starts Kafka and Redis containers;
3. otherwise the project's own local processes (connector.local: Kafka from its Maven Central jars,
   Debian's redis-server).

Each server starts at most once per test run, on first use, and is stopped at the end of the run.

The production topologies (issue #27) come from connector.local alone, one per test that asks, since
their tests kill members: ``kafka_cluster`` (three KRaft brokers, RF 3, min.insync.replicas 2),
``redis_sentinel`` (master, replica, three sentinels) and ``redis_cluster`` (three masters, three replicas).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from connector.local.kafka_cluster import LocalKafkaCluster
    from connector.local.redis_topologies import LocalRedisCluster, LocalRedisSentinel


def _docker_answers() -> bool:
    """True when a Docker engine answers /_ping (the client alone, as on these machines, is not enough)."""
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if not host.startswith("unix://"):
        return True  # a remote engine was configured on purpose; testcontainers will report if it is down
    path = host.removeprefix("unix://")
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(3)
            sock.connect(path)
            sock.sendall(b"GET /_ping HTTP/1.0\r\n\r\n")
            return sock.recv(64).split(b" ", 2)[1:2] == [b"200"]
    except OSError:
        return False


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
    elif _docker_answers():
        from testcontainers.redis import RedisContainer

        with RedisContainer("redis:7-alpine") as container:
            host = container.get_container_host_ip()
            yield f"redis://{host}:{container.get_exposed_port(6379)}/0"
    else:
        from connector.local import LocalRedis

        with LocalRedis() as server:
            yield server.url


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        yield os.environ["KAFKA_BOOTSTRAP_SERVERS"]
    elif _docker_answers():
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer().with_kraft() as container:
            yield container.get_bootstrap_server()
    else:
        from connector.local import LocalKafka

        with LocalKafka() as broker:
            yield broker.bootstrap_servers


def _needs_java() -> None:
    import shutil

    if shutil.which("java") is None:
        pytest.skip("a local Kafka cluster needs Java")


@pytest.fixture
def kafka_cluster() -> Iterator[LocalKafkaCluster]:
    from connector.local.kafka_cluster import LocalKafkaCluster

    _needs_java()
    with LocalKafkaCluster(3) as cluster:
        yield cluster


@pytest.fixture
def redis_sentinel() -> Iterator[LocalRedisSentinel]:
    from connector.local.redis_topologies import LocalRedisSentinel

    with LocalRedisSentinel() as topology:
        yield topology


@pytest.fixture
def redis_cluster() -> Iterator[LocalRedisCluster]:
    from connector.local.redis_topologies import LocalRedisCluster

    with LocalRedisCluster() as topology:
        yield topology
