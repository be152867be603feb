"""The command line without servers: settings errors, unreachable services, bad input files."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from connector.cli import main

SECRET = "re_cli_secret_456"


@pytest.fixture(autouse=True)
def no_connector_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith("RESEND_CONNECTOR_"):
            monkeypatch.delenv(name)
    yield
    structlog.reset_defaults()  # main() configured logging for the process; later tests start clean


def test_invalid_settings_exit_1_with_every_problem(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(f"kafka:\n  max_in_flight_contacts: 0\nresend:\n  api_key: {SECRET}\n  timeout_seconds: -1\n")
    assert main(["--settings", str(path), "check"]) == 1
    err = capsys.readouterr().err
    assert "2 problem(s)" in err
    assert "kafka.max_in_flight_contacts" in err
    assert "resend.timeout_seconds" in err
    assert SECRET not in err


def test_status_with_redis_down_is_one_clear_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RESEND_CONNECTOR_RESEND__API_KEY", SECRET)
    monkeypatch.setenv("RESEND_CONNECTOR_REDIS__URL", "redis://127.0.0.1:1/0")
    monkeypatch.setenv("RESEND_CONNECTOR_REDIS__SOCKET_TIMEOUT_SECONDS", "0.5")
    assert main(["status", "ada@example.com"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("resend-connector: StateStoreUnavailable")
    assert "Traceback" not in err


@pytest.mark.parametrize("before", [True, False])
def test_settings_option_is_accepted_before_or_after_the_command(
    before: bool, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("kafka:\n  max_in_flight_contacts: 0\n")
    argv = ["--settings", str(path), "check"] if before else ["check", "--settings", str(path)]
    assert main(argv) == 1
    assert "kafka.max_in_flight_contacts" in capsys.readouterr().err
