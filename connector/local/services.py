"""What every locally started server shares: free ports, a process group, waiting, stopping."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

__all__ = ["ManagedProcess", "ServiceError", "dies_with_parent", "free_port", "project_root", "wait_until"]


class ServiceError(RuntimeError):
    """A local server could not be provisioned, started or reached."""


def project_root() -> Path:
    return Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A port the kernel considers free on loopback right now (the caller binds it promptly)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(check: Callable[[], bool], *, timeout: float, what: str, process: ManagedProcess) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.exited():
            raise ServiceError(f"{what} exited during start-up; see {process.log_path}")
        if check():
            return
        time.sleep(0.2)
    raise ServiceError(f"{what} did not become ready within {timeout:.0f}s; see {process.log_path}")


def _find_prctl() -> Callable[..., int] | None:
    if sys.platform != "linux":
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_PRCTL = _find_prctl()  # looked up here, not in the child, where a loader lock could be held


def _die_with_parent() -> None:
    """Runs in the child before exec: Linux sends it SIGTERM when the process that started it dies,
    so a killed test run or ``make run`` leaves no Kafka or Redis behind (the setting survives exec).
    Linux ties it to the starting *thread*: start servers from one that lives as long as they should."""
    if _PRCTL is not None:
        _PRCTL(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


def dies_with_parent() -> Callable[[], None] | None:
    """``preexec_fn`` for a child that must not outlive this process (None where Linux's prctl is absent)."""
    return _die_with_parent if _PRCTL is not None else None


class ManagedProcess:
    """A child in its own session (process group), so stopping it also stops anything it forked."""

    def __init__(self, argv: Sequence[str], *, log_path: Path, env: dict[str, str] | None = None) -> None:
        self.log_path = log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                list(argv),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                env={**os.environ, **(env or {})},
                preexec_fn=dies_with_parent(),  # noqa: PLW1509 - one libc call
            )

    @property
    def pid(self) -> int:
        return self._proc.pid

    def exited(self) -> bool:
        return self._proc.poll() is not None

    def kill(self) -> None:
        """SIGKILL the group at once (a crash, for fault tests)."""
        if not self.exited():
            _signal_group(self._proc.pid, signal.SIGKILL)
            self._proc.wait(timeout=10)

    def stop(self, *, grace: float = 15.0) -> None:
        """SIGTERM the group, wait for a clean exit, SIGKILL whatever is left after ``grace``."""
        if self.exited():
            return
        _signal_group(self._proc.pid, signal.SIGTERM)
        try:
            self._proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            _signal_group(self._proc.pid, signal.SIGKILL)
            self._proc.wait(timeout=10)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, sig)
