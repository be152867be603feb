"""``resend-connector``: the service and its operator commands.

Settings come from ``--settings FILE`` (YAML or TOML, before or after the command name) and
RESEND_CONNECTOR_* variables; they are validated once. Every failure is one line on stderr and exit
status 1 (cli/failures.py). Each command registers itself once (cli/registry.py); importing its
module below is all a new command needs.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from connector.cli import (  # noqa: F401 - importing registers their commands
    console,
    operate,
    service,
    webhooks_broadcast,
)
from connector.cli.failures import guarded
from connector.cli.registry import Command, build_parser, commands, register

__all__ = ["Command", "main", "register"]

_VALUED_GLOBALS = {"--settings"}


def _command_index(argv: list[str]) -> int | None:
    """Where the command name is: the first word that is neither a global option nor its value."""
    index = 0
    while index < len(argv):
        word = argv[index]
        if word in _VALUED_GLOBALS:
            index += 2
        elif word.startswith("-"):
            index += 1
        else:
            return index
    return None


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    at = _command_index(argv)
    passthrough = commands().get(argv[at]) if at is not None else None
    if at is not None and passthrough is not None and passthrough.passthrough is not None:
        run_own, rest = passthrough.passthrough, argv[at + 1 :]
        return guarded(lambda: run_own(rest))
    args = build_parser().parse_args(argv)
    return guarded(lambda: int(args.run(args)))
