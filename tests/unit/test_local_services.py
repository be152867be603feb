"""Locally started servers never outlive whoever started them (real processes, no servers)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

STARTER = """
import sys
from pathlib import Path
from connector.local.services import ManagedProcess
server = ManagedProcess([sys.executable, "-c", "import time; time.sleep(60)"], log_path=Path(sys.argv[1]))
print(server.pid, flush=True)
time_to_die = sys.stdin.read()
"""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = (
        Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] if Path(f"/proc/{pid}").exists() else "X"
    )
    return status != "Z"


@pytest.mark.skipif(sys.platform != "linux", reason="parent-death signals are Linux's")
def test_a_server_dies_when_its_starter_is_killed(tmp_path: Path) -> None:
    starter = subprocess.Popen(
        [sys.executable, "-c", STARTER, str(tmp_path / "server.log")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert starter.stdout is not None
    server_pid = int(starter.stdout.readline())
    assert alive(server_pid)
    starter.send_signal(signal.SIGKILL)  # no cleanup code runs in the starter
    starter.wait(timeout=10)
    starter.stdout.close()
    starter.stdin.close()  # type: ignore[union-attr]
    deadline = time.monotonic() + 10
    while alive(server_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(server_pid)
