"""The command line without servers: settings errors, unreachable services, bad input files."""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from connector.cli import main
from connector.cli.service import EMULATOR_MISSING

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
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2  # one line per problem, each standing on its own
    assert lines[0].startswith("resend-connector: settings: kafka.max_in_flight_contacts: ")
    assert lines[1].startswith("resend-connector: settings: resend.timeout_seconds: ")
    assert SECRET not in "".join(lines)


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


def one_line_failure(capsys: pytest.CaptureFixture[str]) -> str:
    """The failure's line: exactly one from the CLI itself (library log lines, JSON, aside), no traceback."""
    err = capsys.readouterr().err
    assert "Traceback" not in err
    ours = [line for line in err.splitlines() if line.startswith("resend-connector:")]
    assert len(ours) == 1, err
    return ours[0]


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.startswith("resend-connector ")


def test_an_unknown_command_is_one_line_and_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["frobnicate"])
    assert exit_.value.code == 1
    assert "invalid choice: 'frobnicate'" in one_line_failure(capsys)


def test_a_yaml_syntax_error_is_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("kafka:\n  topic: [unclosed\nresend:\n  api_key: x\n")
    assert main(["check", "--settings", str(path)]) == 1
    line = one_line_failure(capsys)
    assert line.startswith(f"resend-connector: cannot read {path}: YAML syntax error at line ")


def test_a_toml_syntax_error_is_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[kafka\ntopic = 1\n")
    assert main(["run", "--settings", str(path)]) == 1
    assert "TOMLDecodeError" in one_line_failure(capsys)


def test_a_missing_settings_file_is_said_once(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["run", "--settings", str(tmp_path / "nope.yaml")]) == 1
    assert capsys.readouterr().err == f"resend-connector: settings file not found: {tmp_path / 'nope.yaml'}\n"


def test_a_missing_api_key_is_reported_with_every_other_problem(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("kafka:\n  max_in_flight_contacts: 0\nresend:\n  timeout_seconds: -1\nlog_level: loud\n")
    assert main(["check", "--settings", str(path)]) == 1
    fields = sorted(line.split(": ")[2] for line in capsys.readouterr().err.splitlines())
    assert fields == ["kafka.max_in_flight_contacts", "log_level", "resend.api_key", "resend.timeout_seconds"]


@pytest.mark.parametrize("key", ["''", "'   '"])
def test_an_empty_api_key_is_refused(key: str, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text(f"resend:\n  api_key: {key}\n  base_url: http://127.0.0.1:1\n")
    assert main(["check", "--settings", str(path)]) == 1
    assert "resend.api_key: Value error, is empty" in one_line_failure(capsys)


# kafka-python leaks its wake-up sockets when a client's constructor fails to bootstrap (the process
# exits right after, in production); only that is ignored here.
@pytest.mark.filterwarnings("ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize(
    ("argv", "first_server"),
    [
        (["run"], "Kafka: "),
        (["replay", "--no-progress"], "Kafka: "),
        (["replay", "--dry-run"], "Kafka: "),
        (["backfill", "contacts.jsonl", "--no-progress"], "StateStoreUnavailable: "),  # reads its progress first
        (["resume"], "StateStoreUnavailable: "),
    ],
)
def test_unreachable_servers_are_one_line_for_every_command(
    argv: list[str],
    first_server: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    (tmp_path / "contacts.jsonl").write_text('{"email": "ada@example.com"}\n')
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RESEND_CONNECTOR_RESEND__API_KEY", SECRET)
    monkeypatch.setenv("RESEND_CONNECTOR_RESEND__BASE_URL", "http://127.0.0.1:1")
    monkeypatch.setenv("RESEND_CONNECTOR_KAFKA__BOOTSTRAP_SERVERS", "127.0.0.1:1")  # nothing listens on port 1
    monkeypatch.setenv("RESEND_CONNECTOR_KAFKA__BOOTSTRAP_TIMEOUT_MS", "300")
    monkeypatch.setenv("RESEND_CONNECTOR_REDIS__URL", "redis://127.0.0.1:1/0")
    monkeypatch.setenv("RESEND_CONNECTOR_METRICS__ENABLED", "false")
    monkeypatch.setenv("RESEND_CONNECTOR_LOG_FORMAT", "json")
    assert main(argv) == 1
    line = one_line_failure(capsys)
    assert line.startswith("resend-connector: " + first_server), line
    assert SECRET not in line
    gc.collect()  # the leaked sockets' warnings surface here, where they are ignored, not in a later test


def test_a_bad_replay_time_is_refused_before_any_server(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", "--since", "yesterday"]) == 1
    assert "not an ISO-8601 time" in one_line_failure(capsys)


def test_status_needs_something_to_show(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status"]) == 1
    assert one_line_failure(capsys) == "resend-connector: status needs an EMAIL, --file, --failed or --since"


def test_status_with_a_missing_file_of_emails(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["status", "--file", str(tmp_path / "emails.txt")]) == 1
    assert "emails file not found" in one_line_failure(capsys)


def test_every_command_is_registered_once_and_listed_in_help(capsys: pytest.CaptureFixture[str]) -> None:
    from connector.cli import Command, register

    with pytest.raises(ValueError, match="registered twice"):
        register(Command("run", "again", lambda args: 0))
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for name in ("run", "emulator", "replay", "check", "status", "backfill", "resume"):
        assert name in out


@pytest.mark.parametrize("argv", [["emulator", "--help"], ["--settings", "x.yaml", "emulator", "--help"]])
def test_the_emulator_parses_its_own_options(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 0
    assert "--rate-limit" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [["run"], ["replay"]])
def test_transformation_functions_that_cannot_load_are_reported_before_kafka_is_asked(
    argv: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # As before the wiring point: the parts a record needs are built, and refused, before any Kafka client.
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RESEND_CONNECTOR_RESEND__API_KEY", SECRET)
    monkeypatch.setenv("RESEND_CONNECTOR_KAFKA__BOOTSTRAP_SERVERS", "127.0.0.1:1")  # nothing listens on port 1
    monkeypatch.setenv("RESEND_CONNECTOR_KAFKA__BOOTSTRAP_TIMEOUT_MS", "300")
    monkeypatch.setenv("RESEND_CONNECTOR_REDIS__URL", "redis://127.0.0.1:1/0")
    monkeypatch.setenv("RESEND_CONNECTOR_METRICS__ENABLED", "false")
    monkeypatch.setenv("RESEND_CONNECTOR_TRANSFORMS__FUNCTIONS", '["missing_transform.py"]')
    monkeypatch.setenv("RESEND_CONNECTOR_LOG_FORMAT", "json")
    assert main(argv) == 1
    out = capsys.readouterr()
    assert "missing_transform.py" in out.err + out.out
    gc.collect()


def test_the_emulator_command_says_how_to_install_the_emulator_where_it_is_not(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # `pip install .` leaves the emulator out (emulator/ is a distribution of its own): as if it were absent.
    monkeypatch.setitem(sys.modules, "resend_emulator", None)
    assert main(["emulator", "--port", "0"]) == 1
    err = capsys.readouterr().err
    assert EMULATOR_MISSING in err
    assert "Traceback" not in err
