"""Redis as production runs it, from Debian's redis-server alone: under Sentinel, or as Redis Cluster.

- :class:`LocalRedisSentinel`: a master, one replica (or more) and three sentinels (quorum 2) watching them;
  ``url`` is ``redis+sentinel://s1,s2,s3/<master name>/0`` (see connector.redisio).
- :class:`LocalRedisCluster`: three masters each with one replica, the 16384 slots split in three;
  ``url`` is ``redis+cluster://n1,...,n6``.

Timeouts are short (a master is declared down after 1-2 s) so a failover fits in a test. Nothing is
persisted: a node that is killed and started again comes back empty and is made a replica.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import redis

from connector.local.redis_server import LocalRedis
from connector.local.services import ServiceError, free_port

__all__ = ["LocalRedisCluster", "LocalRedisSentinel"]

MASTER_NAME = "connector"
_SLOTS = 16384


def _wait(check: object, *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if callable(check) and check():
                return
        except redis.RedisError:
            pass
        time.sleep(0.2)
    raise ServiceError(f"{what} not ready within {timeout:.0f}s")


def _client(port: int) -> redis.Redis:
    return redis.Redis(host="127.0.0.1", port=port, decode_responses=True, socket_timeout=3)


def _command(port: int, *args: object) -> Any:
    """A command redis-py has no typed method for (SENTINEL, CLUSTER ...), on the server at ``port``."""
    return _client(port).execute_command(*args)  # type: ignore[no-untyped-call]


class _Group:
    """Servers started and stopped together, in one temporary directory."""

    def __init__(self, prefix: str) -> None:
        self._workdir = Path(tempfile.mkdtemp(prefix=prefix))
        self.servers: list[LocalRedis] = []

    def _stop_all(self, keep_files: bool) -> None:
        for server in self.servers:
            server.stop(keep_files=True)
        if not keep_files:
            shutil.rmtree(self._workdir, ignore_errors=True)

    def stop(self, *, keep_files: bool = False) -> None:
        self._stop_all(keep_files)


class LocalRedisSentinel(_Group):
    def __init__(self, *, down_after_ms: int = 1000, replicas: int = 1) -> None:
        super().__init__("local-redis-sentinel-")
        self._down_after_ms = down_after_ms
        self.master = LocalRedis(workdir=self._workdir / "master")
        self.replicas = [
            LocalRedis(
                workdir=self._workdir / f"replica-{n}", extra=["--replicaof", "127.0.0.1", str(self.master.port)]
            )
            for n in range(replicas)
        ]
        self.replica = self.replicas[0]
        self.sentinels = [self._sentinel(n) for n in range(3)]
        self.servers = [self.master, *self.replicas, *self.sentinels]

    def _sentinel(self, n: int) -> LocalRedis:
        port = free_port()
        config = (
            f"port {port}\n"
            f"sentinel monitor {MASTER_NAME} 127.0.0.1 {self.master.port} 2\n"
            f"sentinel down-after-milliseconds {MASTER_NAME} {self._down_after_ms}\n"
            f"sentinel failover-timeout {MASTER_NAME} 5000\n"
            f"sentinel parallel-syncs {MASTER_NAME} 1\n"
        )
        return LocalRedis(port=port, workdir=self._workdir / f"sentinel-{n}", config=config, extra=["--sentinel"])

    @property
    def url(self) -> str:
        hosts = ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels)
        return f"redis+sentinel://{hosts}/{MASTER_NAME}/0"

    def master_port(self) -> int:
        """The port of the server the sentinels call master now."""
        _, port = _command(self.sentinels[0].port, "SENTINEL", "get-master-addr-by-name", MASTER_NAME)
        return int(port)

    def server_on(self, port: int) -> LocalRedis:
        return next(s for s in (self.master, *self.replicas) if s.port == port)

    def start(self, *, timeout: float = 30.0) -> LocalRedisSentinel:
        try:
            for server in self.servers:
                server.start()
            _wait(self._replicating, timeout=timeout, what="the Sentinel replica")
            _wait(self._watched, timeout=timeout, what="the sentinels")
        except BaseException:
            self._stop_all(keep_files=True)
            raise
        return self

    def _replicating(self) -> bool:
        links = [_client(r.port).info("replication").get("master_link_status") for r in self.replicas]
        return all(link == "up" for link in links)

    def _watched(self) -> bool:
        # Every sentinel knows the replica and the two other sentinels (they find each other via the master).
        for sentinel in self.sentinels:
            state = _command(sentinel.port, "SENTINEL", "master", MASTER_NAME)
            fields = dict(zip(state[::2], state[1::2], strict=True)) if isinstance(state, list) else state
            if int(fields.get("num-slaves", 0)) < len(self.replicas) or int(fields.get("num-other-sentinels", 0)) < 2:
                return False
        return True

    def __enter__(self) -> LocalRedisSentinel:
        return self.start()

    def __exit__(self, *exc: object | TracebackType) -> None:
        self.stop()


class LocalRedisCluster(_Group):
    def __init__(self, masters: int = 3) -> None:
        super().__init__("local-redis-cluster-")
        for n in range(masters * 2):  # masters first, then one replica for each
            options = ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                       "--cluster-node-timeout", "2000", "--cluster-port", str(free_port())]  # fmt: skip
            self.servers.append(LocalRedis(workdir=self._workdir / f"node-{n}", extra=options))
        self.masters_count = masters

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"127.0.0.1:{s.port}" for s in self.servers)

    def start(self, *, timeout: float = 60.0) -> LocalRedisCluster:
        try:
            for server in self.servers:
                server.start()
            self._form(timeout)
        except BaseException:
            self._stop_all(keep_files=True)
            raise
        return self

    def _form(self, timeout: float) -> None:
        masters, replicas = self.servers[: self.masters_count], self.servers[self.masters_count :]
        share = _SLOTS // len(masters)
        for n, master in enumerate(masters):
            last = _SLOTS - 1 if n == len(masters) - 1 else (n + 1) * share - 1
            _command(master.port, "CLUSTER", "ADDSLOTSRANGE", n * share, last)
        for server in self.servers[1:]:
            bus = _client(server.port).config_get("cluster-port")["cluster-port"]
            _command(self.servers[0].port, "CLUSTER", "MEET", "127.0.0.1", server.port, bus)
        _wait(lambda: all(self._known(s) == len(self.servers) for s in self.servers), timeout=timeout,
              what="the cluster's nodes")  # fmt: skip
        for master, replica in zip(masters, replicas, strict=True):
            master_id = _command(master.port, "CLUSTER", "MYID")
            _command(replica.port, "CLUSTER", "REPLICATE", master_id)
        _wait(self._serving, timeout=timeout, what="the cluster")

    @staticmethod
    def _known(server: LocalRedis) -> int:
        return len(str(_command(server.port, "CLUSTER", "NODES")).strip().splitlines())

    def _serving(self) -> bool:
        for server in self.servers:
            if _client(server.port).cluster("info").get("cluster_state") != "ok":
                return False
        return all(self.replica_in_sync(master) for master in self.servers[: self.masters_count])

    def replica_in_sync(self, master: LocalRedis) -> bool:
        info = _client(master.port).info("replication")
        return bool(info.get("role") == "master" and int(info.get("connected_slaves", 0)) >= 1)

    def masters(self) -> list[LocalRedis]:
        """The running servers that are masters now (a failover changes which)."""
        found = []
        for server in self.servers:
            try:
                if _client(server.port).info("replication").get("role") == "master":
                    found.append(server)
            except redis.RedisError:
                continue
        return found

    def __enter__(self) -> LocalRedisCluster:
        return self.start()

    def __exit__(self, *exc: object | TracebackType) -> None:
        self.stop()
