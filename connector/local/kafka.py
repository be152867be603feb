"""A one-node Kafka broker in KRaft mode, run from the Maven Central jars with the installed Java.

``provision()`` resolves the jars once (deploy/kafka/pom.xml, ``mvn dependency:copy-dependencies``)
into the git-ignored ``.cache/kafka/lib``; ``LocalKafka.start()`` formats fresh storage in a temporary
directory, starts the broker on free loopback ports and returns once it answers a metadata request.
"""

from __future__ import annotations

import base64
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path
from types import TracebackType

from connector.local.services import ManagedProcess, ServiceError, free_port, project_root, wait_until

__all__ = ["LocalKafka", "kafka_lib_dir", "provision"]

_MAIN = "kafka.Kafka"
_STORAGE_TOOL = "kafka.tools.StorageTool"
_LOG4J2 = """\
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = {log}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = warn
rootLogger.appenderRef.file.ref = file
logger.kafka.name = kafka
logger.kafka.level = warn
logger.started.name = kafka.server.KafkaRaftServer
logger.started.level = info
"""


def kafka_lib_dir() -> Path:
    return Path(os.environ.get("LOCAL_KAFKA_LIB", project_root() / ".cache" / "kafka" / "lib"))


def provision() -> Path:
    """Make sure the broker's jars are in the cache; resolving them needs Maven the first time."""
    lib = kafka_lib_dir()
    if any(lib.glob("kafka_2.13-*.jar")):
        return lib
    pom = project_root() / "deploy" / "kafka" / "pom.xml"
    if shutil.which("mvn") is None:
        raise ServiceError("Maven (mvn) is needed once to fetch the Kafka jars; install it or use Docker")
    subprocess.run(
        ["mvn", "-q", "-B", "-f", str(pom), "dependency:copy-dependencies", f"-Dkafka.lib.dir={lib}"],
        check=True,
    )
    if not any(lib.glob("kafka_2.13-*.jar")):
        raise ServiceError(f"Maven finished but no Kafka jar is in {lib}")
    return lib


def _cluster_id() -> str:
    # Kafka's cluster ids are URL-safe base64 of a random UUID, without padding (22 characters).
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


class LocalKafka:
    """One KRaft node (broker and controller). Alone by default; ``connector.local.kafka_cluster``
    makes several share a ``quorum`` (``id@host:port,...``), a ``cluster_id`` and a ``replication``."""

    def __init__(
        self,
        *,
        port: int | None = None,
        workdir: Path | None = None,
        partitions: int = 4,
        node_id: int = 1,
        replication: int = 1,
        heap_mb: int = 1024,
    ) -> None:
        self.port = port or free_port()
        self.controller_port = free_port()
        self.partitions = partitions
        self.node_id = node_id
        self.replication = replication
        self.heap_mb = heap_mb
        self.quorum = f"{node_id}@127.0.0.1:{self.controller_port}"
        self.cluster_id = _cluster_id()
        # A directory made here is removed on stop (one given by the caller is the caller's).
        self._owns_workdir = workdir is None
        self._workdir = workdir or Path(tempfile.mkdtemp(prefix="local-kafka-"))
        self._process: ManagedProcess | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self._workdir / "broker.log"

    def start(self, *, timeout: float = 90.0) -> LocalKafka:
        self.launch()
        self.wait_ready(timeout=timeout)
        return self

    def launch(self) -> None:
        """Format the storage if new and start the JVM, without waiting (a quorum's nodes start together)."""
        java = shutil.which("java")
        if java is None:
            raise ServiceError("Java 17+ is needed to run the local Kafka broker")
        classpath = f"{provision()}/*"
        config = self._write_config()
        log4j = self._workdir / "log4j2.properties"
        log4j.write_text(_LOG4J2.format(log=self._workdir / "server.log"))
        heap = [f"-Xms{min(256, self.heap_mb)}m", f"-Xmx{self.heap_mb}m"]
        jvm = [java, *heap, "-XX:+UseG1GC", "-Djava.awt.headless=true",
               f"-Dlog4j2.configurationFile={log4j}", "-cp", classpath]  # fmt: skip
        if not (self._workdir / "data" / "meta.properties").exists():  # started again: keep its data
            # "--cluster-id=ID", not "-t ID": a random id may start with "-" and read as an option.
            formatted = subprocess.run(
                [*jvm, _STORAGE_TOOL, "format", f"--cluster-id={self.cluster_id}", "--config", str(config)],
                capture_output=True,
                text=True,
                check=False,
            )
            if formatted.returncode != 0:
                raise ServiceError(f"formatting Kafka storage failed: {formatted.stderr.strip()[-2000:]}")
        self._process = ManagedProcess([*jvm, _MAIN, str(config)], log_path=self.log_path)

    def wait_ready(self, *, timeout: float = 90.0) -> None:
        assert self._process is not None, "launch() first"
        try:
            wait_until(self._answers_metadata, timeout=timeout, what="Kafka broker", process=self._process)
        except BaseException:
            self.stop(keep_files=True)  # never leave a half-started JVM behind
            raise

    def _write_config(self) -> Path:
        data = self._workdir / "data"
        data.mkdir(parents=True, exist_ok=True)
        rf, isr = str(self.replication), str(min(2, self.replication))
        lines = {
            "process.roles": "broker,controller",
            "node.id": str(self.node_id),
            "controller.quorum.voters": self.quorum,
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "inter.broker.listener.name": "PLAINTEXT",
            "log.dirs": str(data),
            "num.partitions": str(self.partitions),
            # Replicated like production when there are several nodes: RF 3, min.insync.replicas 2.
            "default.replication.factor": rf,
            "min.insync.replicas": isr,
            "offsets.topic.replication.factor": rf,
            "offsets.topic.num.partitions": "4",
            "transaction.state.log.replication.factor": rf,
            "transaction.state.log.min.isr": isr,
            "share.coordinator.state.topic.replication.factor": rf,
            "share.coordinator.state.topic.min.isr": isr,
            # Tests join and leave groups constantly; the default 3 s join delay only slows them down.
            "group.initial.rebalance.delay.ms": "0",
            "auto.create.topics.enable": "true",
            "log.flush.interval.messages": "9223372036854775807",
        }
        path = self._workdir / "server.properties"
        path.write_text("".join(f"{key}={value}\n" for key, value in lines.items()))
        return path

    def _answers_metadata(self) -> bool:
        from connector.kafka.clients import answers_metadata

        # A client built against a closed port leaks its sockets; only ask once the port listens.
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
        except OSError:
            return False
        return answers_metadata(self.bootstrap_servers)

    @property
    def workdir(self) -> Path:
        return self._workdir

    def kill(self) -> None:
        """SIGKILL, as a crashed machine: no controlled shutdown, the files stay for a restart."""
        if self._process is not None:
            self._process.kill()
            self._process = None

    def stop(self, *, keep_files: bool = False) -> None:
        """Stop the server; remove its temporary directory unless ``keep_files`` (a failed start keeps
        the log its error message points to)."""
        if self._process is not None:
            self._process.stop(grace=20)
            self._process = None
        if self._owns_workdir and not keep_files:
            shutil.rmtree(self._workdir, ignore_errors=True)

    def __enter__(self) -> LocalKafka:
        return self.start()

    def __exit__(self, *exc: object | TracebackType) -> None:
        self.stop()
