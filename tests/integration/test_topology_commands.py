"""Every command works through Sentinel and on Redis Cluster (issue #27, point 2), as OS processes:
``run``, ``replay``, ``webhooks``, ``backfill`` (imports and events), ``broadcast``, ``status``,
``check`` and ``resume``. Each topology is fresh, so every key found afterwards is this test's: all
start with the prefix, and on the cluster they spread over all three masters.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from connector.local.redis_topologies import LocalRedisCluster, LocalRedisSentinel
from connector.redisio import connect, is_cluster
from connector.settings import RedisSettings
from resend_emulator import EmulatorInspector, EmulatorServer
from tests.harness import Deployment
from tests.integration.conftest import API_KEY
from tests.integration.test_key_prefix import _backfill, _cli, _replay, _run, _webhooks

pytestmark = [pytest.mark.topologies, pytest.mark.timeout(600)]


@pytest.fixture(params=["sentinel", "cluster"])
def topology(request: pytest.FixtureRequest) -> Iterator[LocalRedisSentinel | LocalRedisCluster]:
    made = LocalRedisSentinel() if request.param == "sentinel" else LocalRedisCluster()
    with made:
        yield made


def test_every_command_on_the_topology(
    kafka_bootstrap: str, topology: LocalRedisSentinel | LocalRedisCluster, emulator: EmulatorServer,
    inspector: EmulatorInspector, unique: Callable[[str], str], tmp_path: Path,
) -> None:  # fmt: skip
    deployment = Deployment(kafka_bootstrap, topology.url, emulator.url, API_KEY, topic=unique("cmds"),
                            group=unique("cmds"), key_prefix="tenant-y:", partitions=1)  # fmt: skip
    deployment.extra_env["RESEND_CONNECTOR_REDIS__COMMIT_AFTER_REPLICAS"] = "1"
    deployment.create_topics()
    _run(deployment, tmp_path)
    _replay(deployment)
    _webhooks(deployment, tmp_path)
    _backfill(deployment, tmp_path)
    env = deployment.env()
    status = _cli(env, "status", "person1@example.com")
    assert status.returncode == 0, status.stdout + status.stderr
    assert "person1@example.com" in status.stdout
    check = _cli(env, "check")
    assert "writes accepted" in check.stdout, check.stdout + check.stderr
    assert _cli(env, "resume").returncode == 0
    [segment] = inspector.seed(("POST", "/segments", {"name": "News"}))
    html = tmp_path / "news.html"
    html.write_text("<p>Hello</p>", encoding="utf-8")
    created = _cli(env, "broadcast", "create", "--segment", "News", "--from", "Acme <news@acme.com>",
                   "--subject", "Hi", "--html", str(html), "--name", "N", "--draft")  # fmt: skip
    assert created.returncode == 0, created.stdout + created.stderr
    assert segment["body"]["id"]
    contacts = inspector.contacts()
    assert {"person1@example.com", "person2@example.com", "person3@example.com", "new1@example.com"} <= set(contacts)

    client = connect(RedisSettings(url=SecretStr(topology.url)))
    keys = list(client.scan_iter("*"))  # every master's, on a cluster
    client.close()
    assert [k for k in keys if not str(k).startswith("tenant-y:")] == []
    if is_cluster(client):
        holders = {topology.servers.index(m) for m in topology.masters() if _holds_keys(m.port)}
        assert len(holders) == 3, "per-contact keys should spread over every master"


def _holds_keys(port: int) -> bool:
    import redis

    return int(redis.Redis(port=port).dbsize()) > 0
