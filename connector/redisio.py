"""The one seam to Redis: how connections are made and how redis-py's errors are translated.

Every module that talks to Redis takes a ``redis.Redis`` built by :func:`connect` and wraps its calls in
:func:`translated` (a context manager) so that a lost server becomes
:class:`~connector.errors.StateStoreUnavailable` (retryable) everywhere, never a raw redis-py error.

Three topologies, chosen by ``redis.url`` (issue #27):

- ``redis://`` / ``rediss://`` / ``unix://``: one server (redis-py's own URL forms);
- ``redis+sentinel://[:password@]host:port,host:port/<master name>[/<db>][?sentinel_password=...]``:
  the master that the sentinels name, found again after a failover (``rediss+sentinel`` for TLS);
- ``redis+cluster://[[user]:password@]host:port,host:port[/0]``: Redis Cluster (``rediss+cluster``).

Redis Cluster answers a multi-key command only when its keys share a hash slot. The key layout
(connector.state.base) keeps every Lua script, MULTI/EXEC and multi-key command within one slot;
where the connector writes several entities at once (a contact and its userIds) it uses
:func:`ordered_pipeline`, which is MULTI/EXEC on one server and, in a cluster, a pipeline whose
commands keep their order on each node. :func:`values` reads many keys across slots.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, cast

import redis
import redis.exceptions as rex
from redis._parsers import Encoder
from redis.cluster import ClusterNode, RedisCluster
from redis.commands.core import Script
from redis.sentinel import Sentinel

from connector.errors import StateStoreFailedOver, StateStoreUnavailable
from connector.logs import get_logger
from connector.settings_redis import TOPOLOGY_SCHEMES, Topology, parse_topology

if TYPE_CHECKING:
    from connector.settings import RedisSettings

__all__ = [
    "REDIS_ERRORS",
    "ReplicatedGate",
    "Topology",
    "check_guards",
    "connect",
    "guarded_by",
    "is_cluster",
    "ordered_pipeline",
    "parse_topology",
    "replicated",
    "translated",
    "values",
]

log = get_logger(__name__)
# What a Redis call can raise, for the best-effort writers that catch it themselves: redis-py's
# cluster errors (a whole cluster lost after start-up) do not derive from RedisError.
REDIS_ERRORS: tuple[type[Exception], ...] = (redis.RedisError, rex.RedisClusterException)
_GATE_BACKOFF_SECONDS = 2.0  # after a WAIT that fell short, commits wait this long before asking again

# Transient states of a healthy deployment: a failover, a resharding, a replica still loading.
_TRANSIENT_ANSWERS = frozenset({"READONLY", "LOADING", "MASTERDOWN", "TRYAGAIN", "CLUSTERDOWN"})
# A MOVED or ASK answer reaches us only from a single node's own connection (the replication gate's
# WAIT, below): the cluster moved the slot in a failover and our slot map is stale until it refreshes.
_TRANSIENT_TYPES = (rex.ReadOnlyError, rex.TryAgainError, rex.ClusterError, rex.SlotNotCoveredError, rex.AskError)


def connect(settings: RedisSettings) -> redis.Redis:
    """A pooled client that returns ``str`` values (all our keys and values are text)."""
    url = settings.url.get_secret_value()
    timeout = settings.socket_timeout_seconds
    if url.partition("://")[0].lower() not in TOPOLOGY_SCHEMES:
        return redis.Redis.from_url(url, decode_responses=True, health_check_interval=30, socket_timeout=timeout,
                                    socket_connect_timeout=timeout)  # fmt: skip
    topology = parse_topology(url)
    if topology.kind == "sentinel":
        sentinel_kwargs: dict[str, Any] = {"socket_timeout": timeout, "socket_connect_timeout": timeout,
                                           "ssl": topology.tls}  # fmt: skip
        if topology.sentinel_password:
            sentinel_kwargs["password"] = topology.sentinel_password
        sentinel = Sentinel(list(topology.hosts), sentinel_kwargs=sentinel_kwargs, ssl=topology.tls,
                            socket_timeout=timeout, socket_connect_timeout=timeout)  # fmt: skip
        master: redis.Redis = sentinel.master_for(
            topology.master, db=topology.db, decode_responses=True, health_check_interval=30,
            username=topology.username, password=topology.password, socket_timeout=timeout,
            socket_connect_timeout=timeout,
        )  # fmt: skip
        return master
    nodes = [ClusterNode(host, port) for host, port in topology.hosts]  # type: ignore[no-untyped-call]
    # RedisCluster answers the commands the connector uses with the same signatures; typing it as
    # redis.Redis keeps one client type across the codebase (the key layout keeps slots apart).
    return cast(redis.Redis, _LazyCluster(lambda: RedisCluster(
        startup_nodes=nodes, decode_responses=True, ssl=topology.tls, username=topology.username,
        password=topology.password, socket_timeout=timeout, socket_connect_timeout=timeout,
    )))  # fmt: skip


class _LazyCluster:
    """A RedisCluster built at its first command, as a ``redis.Redis`` connects: RedisCluster reads the
    topology when built, so an unreachable cluster would otherwise fail outside :func:`translated`,
    as a raw RedisClusterException, instead of as StateStoreUnavailable at the first command."""

    def __init__(self, build: Callable[[], RedisCluster]) -> None:
        self._build, self._lock = build, threading.Lock()
        self._cluster: RedisCluster | None = None

    def _client(self) -> RedisCluster:
        with self._lock:
            if self._cluster is None:
                try:
                    self._cluster = self._build()  # built again at the next command when it failed
                except rex.RedisClusterUnreachableError as exc:  # what one server raises at its first command
                    raise redis.ConnectionError(str(exc)) from exc
            return self._cluster

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client(), name)

    def get_encoder(self) -> Encoder:  # what Script hashes a script with (decode_responses=True)
        return Encoder("utf-8", "strict", True)  # type: ignore[no-untyped-call]

    def register_script(self, script: str) -> Script:  # no round trip, as on one server
        return Script(self, script)  # type: ignore[arg-type]

    def close(self) -> None:
        if self._cluster is not None:
            self._cluster.close()


def is_cluster(client: Any) -> bool:
    return isinstance(client, RedisCluster | _LazyCluster)


def ordered_pipeline(client: redis.Redis) -> Any:
    """MULTI/EXEC on one server; in a cluster, where a transaction must stay in one slot, a pipeline
    whose commands keep their order per node. Callers rely on order, not isolation, across entities:
    each key's own writes still happen in the order queued, and a crash between two is what a crash
    between two round trips already was."""
    return client.pipeline(transaction=not is_cluster(client))


def values(client: redis.Redis, keys: Sequence[str]) -> list[Any]:
    """GET of many keys in one round trip (per node in a cluster, where MGET must stay in one slot)."""
    if not keys:
        return []
    if not is_cluster(client):
        return list(client.mget(list(keys)))
    pipe = client.pipeline(transaction=False)  # grouped per node by redis-py, answers in order
    for key in keys:
        pipe.get(key)
    return list(pipe.execute())


Identity = tuple[tuple[str, str], ...]  # (server, replication id) of every master


def replicated(client: redis.Redis, replicas: int, timeout_ms: int, marker: str) -> tuple[int, Identity]:
    """How many replicas hold every write made before this call (the fewest over a cluster's masters),
    waiting up to ``timeout_ms`` for ``replicas`` of them, and which masters answered: a master's
    replication id changes when a replica is promoted or a master restarts empty.

    WAIT counts the writes of its own connection, so a marker is written on the same one first: the
    master's replication offset then covers every client's earlier writes."""
    if not is_cluster(client):
        acked, replid = _wait_on(client, marker, replicas, timeout_ms)
        return acked, (("master", replid),)
    cluster = cast(RedisCluster, client)
    try:
        answers = [(node.name, *_wait_on(node.redis_connection, _key_on(cluster, node, marker), replicas, timeout_ms))
                   for node in cluster.get_primaries()]  # type: ignore[no-untyped-call]  # fmt: skip
    except rex.AskError:
        # MOVED: a failover moved the slot and our map is stale. These calls go to one node's own
        # connection, so redis-py does not refresh the map itself; without this, a connector with no
        # other Redis traffic (every record done, waiting to commit) would ask the old node forever.
        cluster.nodes_manager.initialize()
        raise
    return min((a[1] for a in answers), default=0), tuple(sorted((name, replid) for name, _, replid in answers))


def _wait_on(client: Any, key: str, replicas: int, timeout_ms: int) -> tuple[int, str]:
    pipe = client.pipeline(transaction=False)
    pipe.set(key, "1", px=60_000)
    pipe.execute_command("WAIT", replicas, timeout_ms)
    pipe.info("replication")
    _, acked, info = pipe.execute()
    return int(acked), str(info.get("master_replid", ""))


def _key_on(cluster: RedisCluster, node: Any, marker: str) -> str:
    """A key of ``marker`` whose slot ``node`` serves (its hash tag found by trying a few)."""
    for n in range(100_000):
        key = f"{marker}:{{{n}}}"
        if cluster.get_node_from_key(key) is node:  # type: ignore[no-untyped-call]
            return key
    raise StateStoreUnavailable("no slot of a cluster master found for the replication marker")


class ReplicatedGate:
    """Whether ``run`` may commit offsets (issue #27). Always, unless ``redis.commit_after_replicas``
    is set; then only once that many replicas acknowledged every Redis write before, and never again
    after a failover: the first commit after one raises StateStoreFailedOver instead (records done
    since the last commit may have written to the master that was lost)."""

    def __init__(
        self, client: redis.Redis, settings: RedisSettings, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._clock = clock
        self._client, self._wanted, self._timeout_ms = client, settings.commit_after_replicas, settings.replica_wait_ms
        self._marker = settings.key_prefix + "replicated"
        self._failed_at = -_GATE_BACKOFF_SECONDS
        self._masters: Identity | None = None
        self._failed_over = False
        if self._wanted > 0:
            self._ask(0, 0)  # which masters serve us at start: a failover from now on is noticed

    def __call__(self, *, ask: bool = True) -> bool:
        """``ask=False`` (a rebalance or close, on kafka-python's thread): no I/O, no raise, only
        whether a failover was seen (commits on revoke cover at most the last commit interval)."""
        if self._wanted <= 0 or not ask:
            return not self._failed_over
        if self._failed_over or self._clock() - self._failed_at < _GATE_BACKOFF_SECONDS:
            return False  # a replica was missing moments ago: do not block the run loop on WAIT yet again
        acked = self._ask(self._wanted, self._timeout_ms)
        if acked < self._wanted:
            self._failed_at = self._clock()
            log.warning("redis.replicas_behind", acked=acked, wanted=self._wanted)
            return False
        return True

    def _ask(self, wanted: int, timeout_ms: int) -> int:
        try:
            with translated():
                acked, masters = replicated(self._client, wanted, timeout_ms, self._marker)
        except StateStoreUnavailable as exc:
            log.warning("redis.replicas_unknown", error=str(exc))
            return -1
        if self._masters is not None and masters != self._masters:
            self._failed_over = True
            raise StateStoreFailedOver(f"Redis masters changed from {len(self._masters)} known to {len(masters)} new")
        self._masters = masters
        return acked


# The checks of the Redis locks this thread holds (connector.state.lock): each raises a RetryableError
# once its lock was lost, and every Resend call checks them before it is sent (connector.resend.caller).
_GUARDS: ContextVar[tuple[Callable[[], None], ...]] = ContextVar("redis_lock_guards", default=())


@contextmanager
def guarded_by(check: Callable[[], None]) -> Iterator[None]:
    """While the block runs, :func:`check_guards` calls ``check`` too (on this thread)."""
    _GUARDS.set((*_GUARDS.get(), check))
    try:
        yield
    finally:
        _GUARDS.set(tuple(c for c in _GUARDS.get() if c is not check))


def check_guards() -> None:
    """Raise (a RetryableError) when a lock this thread holds was lost: nothing more under it."""
    for check in _GUARDS.get():
        check()


@contextmanager
def translated() -> Iterator[None]:
    """Turn redis-py's connection-level failures into StateStoreUnavailable (retryable)."""
    try:
        yield
    except (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError, rex.RedisClusterUnreachableError) as exc:
        raise StateStoreUnavailable(f"redis unavailable: {type(exc).__name__}") from exc
    except _TRANSIENT_TYPES as exc:  # a failover under way: a demoted master, a slot without its node
        raise StateStoreUnavailable(f"redis not ready: {type(exc).__name__}") from exc
    except redis.ResponseError as exc:
        # READONLY / LOADING / MASTERDOWN answers are transient states of a healthy deployment.
        if str(exc).split(" ", 1)[0] in _TRANSIENT_ANSWERS:
            raise StateStoreUnavailable(f"redis not ready: {str(exc).split(' ', 1)[0]}") from exc
        raise
