"""Every way a command can fail, as one line on stderr and exit status 1, never a traceback.

Errors are translated here once, for every command: the connector's own (settings problems one line
each), kafka-python's (an unreachable cluster), files that cannot be read. Anything else is a bug:
it still prints one line, and the traceback goes to the structured log at debug level.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TextIO

from connector.errors import ConfigurationError, ConnectorError
from connector.logs import get_logger

__all__ = ["failure_lines", "guarded"]

PROG = "resend-connector"
log = get_logger(__name__)


def _flat(text: str) -> str:
    return " ".join(text.split())


def failure_lines(exc: BaseException) -> list[str]:
    """What the operator reads: one line per problem, each standing on its own."""
    from connector.kafka import KafkaError

    if isinstance(exc, ConfigurationError):
        if not exc.problems or exc.problems == (str(exc),):  # one problem that names itself
            return [f"{PROG}: {_flat(str(exc))}"]
        return [f"{PROG}: settings: {_flat(problem)}" for problem in exc.problems]
    if isinstance(exc, ConnectorError):
        detail = _flat(str(exc))
        return [f"{PROG}: {type(exc).__name__}: {detail}" if detail else f"{PROG}: {type(exc).__name__}"]
    if isinstance(exc, KafkaError):
        # NoBrokersAvailable and friends: kafka-python's messages name the condition, never a secret.
        name = type(exc).__name__
        detail = _flat(str(exc)).removeprefix(name).lstrip(": ")
        return [f"{PROG}: Kafka: {name}" + (f": {detail}" if detail else "")]
    if isinstance(exc, FileNotFoundError):
        return [f"{PROG}: file not found: {exc.filename}"]
    if isinstance(exc, OSError):
        return [f"{PROG}: {exc.strerror or type(exc).__name__}: {exc.filename or _flat(str(exc))}"]
    return [f"{PROG}: unexpected {type(exc).__name__}: {_flat(str(exc))[:300]} (log_level debug shows where)"]


def guarded(run: Callable[[], int], err: TextIO | None = None) -> int:
    """``run()``, with every failure reported as :func:`failure_lines` and exit status 1."""
    try:
        return run()
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=err or sys.stderr)
        return 130
    except Exception as exc:  # the one place every command's failure becomes a clear line
        if not isinstance(exc, ConnectorError | OSError):
            log.debug("command.failed", error=type(exc).__name__, exc_info=True)
        for line in failure_lines(exc):
            print(line, file=err or sys.stderr)
        return 1
