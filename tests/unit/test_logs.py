"""Log output: JSON lines when nobody watches, readable lines on a terminal, emails masked on request."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Iterator

import pytest

from connector import logs


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def restore() -> Iterator[None]:
    yield
    logs.configure()


def emit(monkeypatch: pytest.MonkeyPatch, stream: io.StringIO, **options: object) -> str:
    monkeypatch.setattr(sys, "stderr", stream)
    logs.configure(**options)  # type: ignore[arg-type]
    logs.get_logger("test").info("contact.synced", email=logs.mask_email("jane.doe@example.com"), calls=1)
    return stream.getvalue()


def test_json_lines_when_stderr_is_not_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    line = json.loads(emit(monkeypatch, io.StringIO()))
    assert (line["event"], line["level"], line["calls"]) == ("contact.synced", "info", 1)
    assert line["email"] == "j***@example.com"


def test_readable_lines_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    text = emit(monkeypatch, Terminal())
    assert "contact.synced" in text
    assert not text.lstrip().startswith("{")


def test_emails_appear_when_masking_is_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    line = json.loads(emit(monkeypatch, io.StringIO(), mask_emails=False))
    assert line["email"] == "jane.doe@example.com"


def test_the_level_filters(monkeypatch: pytest.MonkeyPatch) -> None:
    assert emit(monkeypatch, io.StringIO(), level="warning") == ""


def test_mask_email_shapes() -> None:
    assert logs.mask_email("a@b.io") == "a***@b.io"
    assert logs.mask_email("no-at-sign") == "***"
    assert logs.mask_email(None) is None


def test_standard_library_records_render_as_the_same_json(monkeypatch: pytest.MonkeyPatch) -> None:
    import logging

    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    logs.configure()
    logging.getLogger("kafka.coordinator").warning("Heartbeat failed for group %s", "g1")
    logging.getLogger("kafka.conn").info("connecting")  # below the libraries' level: dropped
    [line] = [json.loads(text) for text in stream.getvalue().splitlines()]
    assert line["event"] == "Heartbeat failed for group g1"
    assert (line["level"], line["logger"]) == ("warning", "kafka.coordinator")
    assert "timestamp" in line


def test_a_lone_surrogate_in_a_field_still_makes_a_json_line(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    logs.configure(fmt="json")
    logs.get_logger("test").info("event.applied", user_id="u-\udc00x")  # valid JSON in an event, not UTF-8
    assert json.loads(stream.getvalue())["user_id"] == "u-\udc00x"
