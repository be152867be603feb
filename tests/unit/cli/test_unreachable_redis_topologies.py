"""An unreachable Redis Cluster or Sentinel set fails like an unreachable single Redis: StateStoreUnavailable
at the first command (connector.redisio.translated), never a raw redis-py error while the client is built."""

from __future__ import annotations

import os
import socket
from contextlib import ExitStack
from typing import Any

import pytest
import redis.exceptions as rex
import structlog

from connector.cli import main
from connector.errors import StateStoreUnavailable
from connector.ops.check import check_redis
from connector.redisio import connect, translated
from connector.settings import load_settings
from connector.wiring import Wiring

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning")


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed again on leaving: nothing listens there


PORT = _closed_port()
URLS = {
    "single": f"redis://127.0.0.1:{PORT}/0",
    "cluster": f"redis+cluster://127.0.0.1:{PORT}",
    "sentinel": f"redis+sentinel://127.0.0.1:{PORT}/main",
}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Any:
    for name in list(os.environ):
        if name.startswith("RESEND_CONNECTOR_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("RESEND_CONNECTOR_REDIS__SOCKET_TIMEOUT_SECONDS", "0.5")
    monkeypatch.setenv("RESEND_CONNECTOR_METRICS__ENABLED", "false")
    yield
    structlog.reset_defaults()


def _settings(monkeypatch: pytest.MonkeyPatch, url: str) -> Any:
    monkeypatch.setenv("RESEND_CONNECTOR_REDIS__URL", url)
    return load_settings(None)


@pytest.mark.parametrize("topology", sorted(URLS))
def test_the_client_is_built_without_a_server_and_its_first_command_is_unavailable(
    topology: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = connect(_settings(monkeypatch, URLS[topology]).redis)  # no I/O yet, as for one server
    try:
        with pytest.raises(StateStoreUnavailable), translated():
            client.ping()
    finally:
        client.close()


@pytest.mark.parametrize("topology", sorted(URLS))
def test_check_reports_its_redis_line_failing(topology: str, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _settings(monkeypatch, URLS[topology])
    with ExitStack() as stack:
        result = check_redis(Wiring(settings, stack).redis, settings.redis.key_prefix)
    assert (result.name, result.ok) == ("redis", False)
    assert result.detail.startswith("StateStoreUnavailable: redis unavailable: "), result.detail


def _status_lines(topology: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> list[str]:
    monkeypatch.setenv("RESEND_CONNECTOR_REDIS__URL", URLS[topology])
    assert main(["resume"]) == 1
    return capsys.readouterr().err.splitlines()


@pytest.mark.parametrize("topology", ["cluster", "sentinel"])
def test_a_redis_only_command_fails_with_the_line_an_unreachable_single_redis_gives(
    topology: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    single = _status_lines("single", monkeypatch, capsys)
    assert single == ["resend-connector: StateStoreUnavailable: redis unavailable: ConnectionError"]
    lines = _status_lines(topology, monkeypatch, capsys)
    if topology == "cluster":
        assert lines == single
    else:  # the same one line and exit status, naming redis-py's MasterNotFoundError
        assert lines == ["resend-connector: StateStoreUnavailable: redis unavailable: MasterNotFoundError"]


def test_a_cluster_lost_after_start_is_unavailable_too() -> None:
    # A command whose topology refresh reaches no node raises this, not a ConnectionError (redis-py 8).
    with pytest.raises(StateStoreUnavailable), translated():
        raise rex.RedisClusterUnreachableError("Redis Cluster cannot be connected.")
