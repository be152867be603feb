"""Structured logging (structlog): JSON lines in production, readable lines on a terminal.

Log calls are an event name plus fields: ``log.info("event.applied", type="identify")``. Never
format a payload, an email (use :func:`mask_email` when the setting asks) or a secret into a line.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, Literal

import structlog

__all__ = ["configure", "get_logger", "mask_email"]

_masking = True


def configure(
    *,
    level: str = "info",
    fmt: Literal["auto", "json", "console"] = "auto",
    mask_emails: bool = True,
) -> None:
    """Set up structlog once for the process (idempotent)."""
    global _masking  # noqa: PLW0603 - one process-wide switch, set once at start-up
    _masking = mask_emails
    use_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    renderer: Any = structlog.processors.JSONRenderer() if use_json else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info if use_json else structlog.processors.StackInfoRenderer(),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelNamesMapping()[level.upper()]),
        # sys.stderr is looked up per logger, not captured once: whoever swaps it (a test runner, a
        # daemon wrapper) keeps receiving the lines.
        logger_factory=_stderr_logger,
        cache_logger_on_first_use=False,
    )
    # Third-party libraries (kafka-python) log through the standard library: keep them quiet.
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s %(message)s")


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
