"""redis.url reaches Redis under Sentinel or as Redis Cluster (issue #27): the URL forms are read once,
at start-up, and a wrong one is reported without its password."""

from __future__ import annotations

import os

import pytest
import redis

from connector.errors import ConfigurationError
from connector.redisio import Topology, connect, parse_topology
from connector.settings import load_settings

PASSWORD = "hunter2-Secret"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("RESEND_CONNECTOR_"):
            monkeypatch.delenv(name)


def test_a_sentinel_url_names_the_sentinels_the_master_and_the_database() -> None:
    url = f"redis+sentinel://:{PASSWORD}@s1:26379,s2:26379,[::1]:26380/main/2?sentinel_password=sp"
    assert parse_topology(url) == Topology(kind="sentinel", hosts=(("s1", 26379), ("s2", 26379), ("::1", 26380)),
                                           tls=False, username=None, password=PASSWORD, master="main", db=2,
                                           sentinel_password="sp")  # fmt: skip


def test_a_cluster_url_names_its_seed_nodes() -> None:
    topology = parse_topology("rediss+cluster://app:pw@n1:6379,n2:6379")
    assert (topology.kind, topology.hosts, topology.tls, topology.username) == (
        "cluster",
        (("n1", 6379), ("n2", 6379)),
        True,
        "app",
    )


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        (f"redis+sentinel://:{PASSWORD}@s1:26379", "master name is missing"),
        (f"redis+sentinel://:{PASSWORD}@s1/main", "host:port"),
        (f"redis+cluster://:{PASSWORD}@n1:6379/3", "only database 0"),
        (f"redis+cluster://:{PASSWORD}@n1:6379?timeout=1", "unknown option"),
        (f"redis+cluster://:{PASSWORD}@", "no host:port"),
    ],
)
def test_a_wrong_topology_url_is_a_settings_problem_without_the_password(url: str, reason: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_settings(redis={"url": url}, resend={"api_key": "re_x"})
    [problem] = caught.value.problems
    assert problem.startswith("redis.url: ")
    assert reason in problem
    assert PASSWORD not in problem


def test_connect_builds_a_sentinel_master_client_and_a_cluster_client_without_connecting() -> None:
    sentinel = connect(load_settings(redis={"url": "redis+sentinel://127.0.0.1:9,127.0.0.1:10/main"},
                                     resend={"api_key": "re_x"}).redis)  # fmt: skip
    assert isinstance(sentinel, redis.Redis)
    assert type(sentinel.connection_pool).__name__ == "SentinelConnectionPool"
    cluster = connect(load_settings(redis={"url": "redis+cluster://127.0.0.1:9"}, resend={"api_key": "re_x"}).redis)
    with pytest.raises(redis.ConnectionError):  # nothing listens: the seed nodes are asked at the first command
        cluster.ping()


def test_a_prefix_with_a_brace_is_refused() -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_settings(redis={"key_prefix": "app{1}:"}, resend={"api_key": "re_x"})
    assert "hash tag" in caught.value.problems[0]
