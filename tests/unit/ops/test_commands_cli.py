"""The operator commands through the console script's entry point: refusals that need no server."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from connector.cli import main


@pytest.fixture(autouse=True)
def unreachable_servers(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith("RESEND_CONNECTOR_"):
            monkeypatch.delenv(name)
    # Nothing listens on port 1: a command that reached for a server would fail differently.
    monkeypatch.setenv("RESEND_CONNECTOR_REDIS__URL", "redis://127.0.0.1:1/0")
    monkeypatch.setenv("RESEND_CONNECTOR_KAFKA__BOOTSTRAP_SERVERS", "127.0.0.1:1")
    monkeypatch.setenv("RESEND_CONNECTOR_RESEND__BASE_URL", "http://127.0.0.1:1")
    yield
    structlog.reset_defaults()


def test_backfill_refuses_a_csv_without_an_email_column_before_touching_a_server(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "contacts.csv"
    path.write_text("name,plan\nAda,pro\n")
    assert main(["backfill", str(path), "--no-progress"]) == 1
    assert capsys.readouterr().err == "resend-connector: the CSV file has no email column\n"


def test_backfill_of_a_missing_file_is_one_clear_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["backfill", str(tmp_path / "nope.jsonl")]) == 1
    assert "backfill file not found" in capsys.readouterr().err


def test_status_of_an_invalid_email_needs_no_server(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "not-an-email"]) == 1
    assert capsys.readouterr().out == "status: email is not a valid address: An email address must have an @-sign.\n"
