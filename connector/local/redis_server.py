"""A throw-away redis-server on a free loopback port, without persistence."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from connector.local.services import ManagedProcess, ServiceError, free_port, wait_until

__all__ = ["LocalRedis", "ensure_redis_server"]


def ensure_redis_server() -> str:
    """Path of redis-server, installing Debian's package when it is missing (we run as root here)."""
    found = shutil.which("redis-server")
    if found:
        return found
    if shutil.which("apt-get") is None:
        raise ServiceError("redis-server is not installed and apt-get is not available to install it")
    env = {"DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env={**env, "PATH": "/usr/bin:/bin"})
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "redis-server"], check=True, env={**env, "PATH": "/usr/bin:/bin"}
    )
    found = shutil.which("redis-server")
    if not found:
        raise ServiceError("installing redis-server did not put it on PATH")
    return found


class LocalRedis:
    """One redis-server; ``extra`` arguments make it a replica, a cluster node or (with ``config``, a
    file it may rewrite) a Sentinel."""

    def __init__(
        self,
        *,
        port: int | None = None,
        workdir: Path | None = None,
        extra: Sequence[str] = (),
        config: str | None = None,
    ) -> None:
        self.port = port or free_port()
        self._extra = list(extra)
        self._config = config
        # A directory made here is removed on stop (one given by the caller is the caller's).
        self._owns_workdir = workdir is None
        self._workdir = workdir or Path(tempfile.mkdtemp(prefix="local-redis-"))
        self._process: ManagedProcess | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, *, timeout: float = 20.0) -> LocalRedis:
        binary = ensure_redis_server()
        self._workdir.mkdir(parents=True, exist_ok=True)
        first: list[str] = []
        if self._config is not None and not (self._workdir / "redis.conf").exists():
            (self._workdir / "redis.conf").write_text(self._config)  # kept across restarts: it rewrites it
        if self._config is not None:
            first = [str(self._workdir / "redis.conf")]
        argv = [
            binary,
            *first,
            "--bind", "127.0.0.1",
            "--port", str(self.port),
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self._workdir),
            "--daemonize", "no",
            "--protected-mode", "yes",
            *self._extra,
        ]  # fmt: skip
        self._process = ManagedProcess(argv, log_path=self._workdir / "redis.log")
        try:
            wait_until(self._answers_ping, timeout=timeout, what="redis-server", process=self._process)
        except BaseException:
            self.stop(keep_files=True)
            raise
        return self

    def _answers_ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    @property
    def workdir(self) -> Path:
        return self._workdir

    def kill(self) -> None:
        """SIGKILL, as a crashed machine (it keeps nothing: no persistence)."""
        if self._process is not None:
            self._process.kill()
            self._process = None

    def stop(self, *, keep_files: bool = False) -> None:
        """Stop the server; remove its temporary directory unless ``keep_files`` (a failed start keeps
        the log its error message points to)."""
        if self._process is not None:
            self._process.stop(grace=10)
            self._process = None
        if self._owns_workdir and not keep_files:
            shutil.rmtree(self._workdir, ignore_errors=True)

    def __enter__(self) -> LocalRedis:
        return self.start()

    def __exit__(self, *exc: object | TracebackType) -> None:
        self.stop()
