"""Each command requires only the settings it uses (#24 point 6): what it lacks of those is reported
as the same one-line settings problems, together with every other problem; what it does not use may
stay unset (the servers here are unreachable, so a command that got past its settings says so)."""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from connector.cli import main

MISSING_KEY = (
    "resend-connector: settings: resend.api_key: Value error, is required when resend.base_url is Resend itself"
)
MISSING_SECRET = (
    "resend-connector: settings: webhooks.signing_secret: Value error, is required by resend-connector webhooks"
)
SECRET = "whsec_" + "c2VjcmV0LXNpZ25pbmcta2V5"

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning")


@pytest.fixture(autouse=True)
def nothing_answers(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith("RESEND_CONNECTOR_"):
            monkeypatch.delenv(name)
    (tmp_path / "contacts.jsonl").write_text('{"email": "ada@example.com"}\n')
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RESEND_CONNECTOR_KAFKA__BOOTSTRAP_SERVERS", "127.0.0.1:1")  # nothing listens on port 1
    monkeypatch.setenv("RESEND_CONNECTOR_KAFKA__BOOTSTRAP_TIMEOUT_MS", "300")
    monkeypatch.setenv("RESEND_CONNECTOR_REDIS__URL", "redis://127.0.0.1:1/0")
    monkeypatch.setenv("RESEND_CONNECTOR_REDIS__SOCKET_TIMEOUT_SECONDS", "0.5")
    monkeypatch.setenv("RESEND_CONNECTOR_METRICS__ENABLED", "false")
    monkeypatch.setenv("RESEND_CONNECTOR_LOG_FORMAT", "json")
    yield
    structlog.reset_defaults()


def failure(capsys: pytest.CaptureFixture[str], argv: list[str]) -> list[str]:
    assert main(argv) == 1
    gc.collect()  # kafka-python leaks wake-up sockets when it fails to bootstrap: their warnings come here
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return [line for line in err.splitlines() if line.startswith("resend-connector:")]


@pytest.mark.parametrize(
    ("argv", "first_server"),
    [
        (["status", "ada@example.com"], "StateStoreUnavailable"),
        (["resume"], "StateStoreUnavailable"),
        (["backfill", "contacts.jsonl", "--via-events", "--no-progress"], "StateStoreUnavailable"),
    ],
)
def test_commands_that_never_call_resend_run_without_its_key(
    argv: list[str], first_server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    [line] = failure(capsys, argv)
    assert line.startswith(f"resend-connector: {first_server}"), line


def test_webhooks_runs_without_the_resend_key(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RESEND_CONNECTOR_WEBHOOKS__SIGNING_SECRET", SECRET)
    [line] = failure(capsys, ["webhooks"])
    assert not line.startswith("resend-connector: settings"), line  # it got as far as its servers


def test_webhooks_without_its_secret_says_so_with_every_other_problem(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RESEND_CONNECTOR_KAFKA__MAX_IN_FLIGHT_CONTACTS", "0")
    lines = failure(capsys, ["webhooks"])
    assert len(lines) == 2, lines
    assert lines[0].startswith("resend-connector: settings: kafka.max_in_flight_contacts: ")
    assert lines[1].startswith(MISSING_SECRET)


@pytest.mark.parametrize(
    "argv",
    [["run"], ["check"], ["replay", "--no-progress"], ["backfill", "contacts.jsonl", "--no-progress"],
     ["broadcast", "list"], ["console"]],
)  # fmt: skip
def test_commands_that_call_resend_require_its_key_in_the_same_line(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert failure(capsys, argv) == [MISSING_KEY]
