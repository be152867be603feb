"""``resend-connector``: the service and its operator commands.

Settings come from ``--settings FILE`` (YAML or TOML, before or after the command name) and
RESEND_CONNECTOR_* variables; they are validated once. Every failure is one line on stderr and exit
status 1 (cli/failures.py). Each command registers itself once (cli/registry.py); importing its
module below is all a new command needs.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from connector.cli import operate, service  # noqa: F401 - importing registers their commands
from connector.cli.failures import guarded
from connector.cli.registry import Command, build_parser, commands, register

__all__ = ["Command", "main", "register"]


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    passthrough = commands().get(argv[0]) if argv else None
    if passthrough is not None and passthrough.passthrough is not None:
        run_own = passthrough.passthrough
        return guarded(lambda: run_own(argv[1:]))
    args = build_parser().parse_args(argv)
    return guarded(lambda: int(args.run(args)))
