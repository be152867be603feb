"""Local servers (connector.local) remove their temporary directories when they stop (#17)."""

from __future__ import annotations

from pathlib import Path

import pytest

from connector.local.kafka import LocalKafka
from connector.local.redis_server import LocalRedis

pytestmark = pytest.mark.integration


def test_local_redis_removes_its_directory_on_stop() -> None:
    server = LocalRedis().start()
    workdir = server.workdir
    assert (workdir / "redis.log").exists()
    server.stop()
    assert not workdir.exists()


def test_local_kafka_removes_its_directory_on_stop() -> None:
    with LocalKafka(partitions=1) as broker:
        workdir = broker.workdir
        assert broker.log_path.exists()
    assert not workdir.exists()


def test_a_directory_given_by_the_caller_is_left_alone(tmp_path: Path) -> None:
    server = LocalRedis(workdir=tmp_path).start()
    server.stop()
    assert (tmp_path / "redis.log").exists()
