"""Several KRaft nodes on loopback forming one replicated cluster, as production runs Kafka.

Every node is broker and controller, on its own ports and directory; together they are the
controller quorum. Topics default to replication factor 3 (or the node count when lower) and
``min.insync.replicas`` 2, so one node can be killed and the cluster keeps accepting ``acks=all``
writes. JVM heaps are small (256 MB each): three brokers share a laptop with the tests.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from types import TracebackType

from connector.local.kafka import LocalKafka

__all__ = ["LocalKafkaCluster"]


class LocalKafkaCluster:
    def __init__(self, brokers: int = 3, *, partitions: int = 4, heap_mb: int = 256) -> None:
        if brokers < 1:
            raise ValueError("a cluster needs at least one broker")
        self._workdir = Path(tempfile.mkdtemp(prefix="local-kafka-cluster-"))
        replication = min(3, brokers)
        self.nodes = [
            LocalKafka(
                workdir=self._workdir / f"node-{n}",
                partitions=partitions,
                node_id=n,
                replication=replication,
                heap_mb=heap_mb,
            )
            for n in range(1, brokers + 1)
        ]
        quorum = ",".join(f"{node.node_id}@127.0.0.1:{node.controller_port}" for node in self.nodes)
        cluster_id = self.nodes[0].cluster_id
        for node in self.nodes:
            node.quorum, node.cluster_id = quorum, cluster_id

    @property
    def bootstrap_servers(self) -> str:
        return ",".join(node.bootstrap_servers for node in self.nodes)

    def node(self, node_id: int) -> LocalKafka:
        return next(node for node in self.nodes if node.node_id == node_id)

    def start(self, *, timeout: float = 120.0) -> LocalKafkaCluster:
        try:
            for node in self.nodes:  # together: no node answers before a majority of the quorum runs
                node.launch()
            for node in self.nodes:
                node.wait_ready(timeout=timeout)
        except BaseException:
            self.stop(keep_files=True)
            raise
        return self

    def stop(self, *, keep_files: bool = False) -> None:
        """Stop every node. Their data is thrown away, so they are killed: one by one, controlled
        shutdowns stall once the quorum is lost (about 25 s for three nodes)."""
        for node in self.nodes:
            node.kill()
        if not keep_files:
            shutil.rmtree(self._workdir, ignore_errors=True)

    def __enter__(self) -> LocalKafkaCluster:
        return self.start()

    def __exit__(self, *exc: object | TracebackType) -> None:
        self.stop()
