"""Structured logging (structlog): JSON lines in production, readable lines on a terminal.

Log calls are an event name plus fields: ``log.info("event.applied", type="identify")``. Never
format a payload, an email (use :func:`mask_email` when the setting asks) or a secret into a line.

Third-party libraries (kafka-python, redis-py, httpx) log through the standard library; their
records go through the same renderer (structlog's ProcessorFormatter on the root handler), so the
stream stays one JSON object per line with ``event``, ``level``, ``logger`` and ``timestamp``.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, Literal, TextIO

import structlog

__all__ = ["configure", "get_logger", "mask_email"]

_masking = True
# Libraries' own lines below this level are dropped: kafka-python narrates every connection at INFO.
_LIBRARY_LEVEL = logging.WARNING
# kafka-python's connection layer logs every refused connection and backoff at WARNING and ERROR, a
# dozen lines a second while a broker is away, its metadata every missing topic, its sender every
# refused batch; the connector says what each means in one line of its own (a command's failure, a
# retried record, a pause). Issue #24 points 4 and 7: those lines are debug.
_CONNECTION_NOISE = (
    "kafka.net",
    "kafka.conn",
    "kafka.client_async",
    "kafka.cluster",
    "kafka.producer.sender",
    "kafka.producer.producer_batch",
)


def configure(
    *,
    level: str = "info",
    fmt: Literal["auto", "json", "console"] = "auto",
    mask_emails: bool = True,
) -> None:
    """Set up structlog, and the standard library's root logger, once for the process (idempotent)."""
    global _masking  # noqa: PLW0603 - one process-wide switch, set once at start-up
    _masking = mask_emails
    use_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    renderer: Any = structlog.processors.JSONRenderer() if use_json else structlog.dev.ConsoleRenderer()
    shared: list[Any] = [
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            *shared,
            structlog.processors.format_exc_info if use_json else structlog.processors.StackInfoRenderer(),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelNamesMapping()[level.upper()]),
        # sys.stderr is looked up per logger, not captured once: whoever swaps it (a test runner, a
        # daemon wrapper) keeps receiving the lines.
        logger_factory=_stderr_logger,
        cache_logger_on_first_use=False,
    )
    _route_standard_logging(shared, renderer, use_json, level_is_debug=level.lower() == "debug")


def _route_standard_logging(shared: list[Any], renderer: Any, use_json: bool, *, level_is_debug: bool) -> None:
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info if use_json else structlog.processors.StackInfoRenderer(),
            renderer,
        ],
    )
    handler = _StderrHandler()
    handler.setFormatter(formatter)
    handler.addFilter(_ConnectionNoise(show=level_is_debug))
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _StderrHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(_LIBRARY_LEVEL)


class _ConnectionNoise(logging.Filter):
    """kafka-python's connection lines, whatever their level, as debug lines (dropped unless ``show``)."""

    def __init__(self, *, show: bool) -> None:
        super().__init__()
        self._show = show

    def filter(self, record: logging.LogRecord) -> bool:
        name = record.name
        if not any(name == prefix or name.startswith(prefix + ".") for prefix in _CONNECTION_NOISE):
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        # The message as text: its arguments are kafka-python's connections, and a record kept
        # (a log capture, a buffer) would keep their sockets open.
        record.msg, record.args = record.getMessage(), None
        return self._show


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is at the time of the record (see _stderr_logger)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        return None


def _stderr_logger(*args: Any) -> structlog.PrintLogger:
    return structlog.PrintLogger(file=sys.stderr)


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)


def mask_email(email: str | None) -> str | None:
    """``jane.doe@example.com`` -> ``j***@example.com`` when masking is on."""
    if email is None or not _masking:
        return email
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"
