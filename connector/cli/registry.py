"""The command registry: one :class:`Command` per subcommand, registered once, parsed together.

A new command is one ``register(Command(...))`` in its own module (imported by ``connector.cli``):
its name, help, the arguments it adds and the function that runs it. Global options (``--settings``)
are accepted before or after the command name.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import NoReturn

__all__ = ["Command", "build_parser", "commands", "register"]

Run = Callable[[argparse.Namespace], int]


def _no_arguments(parser: argparse.ArgumentParser) -> None:
    return None


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    run: Run | None  # None: the command parses its own arguments (see ``passthrough``)
    arguments: Callable[[argparse.ArgumentParser], None] = field(default=_no_arguments)
    # The rest of the command line goes to ``passthrough`` unparsed (the emulator has its own parser).
    passthrough: Callable[[list[str]], int] | None = None


_commands: dict[str, Command] = {}


def register(command: Command) -> Command:
    if command.name in _commands:
        raise ValueError(f"command {command.name!r} is registered twice")
    _commands[command.name] = command
    return command


def commands() -> dict[str, Command]:
    return dict(_commands)


def _version() -> str:
    try:
        return version("resend-connector")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def _global_options(*, on_command: bool) -> _Parser:
    """Options every command takes, before or after its name (``--settings F run`` = ``run --settings F``).

    On a command's own parser the default is SUPPRESS, so an option given before the command name is
    not overwritten by the subparser's default.
    """
    options = _Parser(add_help=False)
    default = argparse.SUPPRESS if on_command else None
    options.add_argument("--settings", type=Path, default=default, help="YAML or TOML settings file")
    return options


def build_parser(error: Callable[[str], None] | None = None) -> argparse.ArgumentParser:
    parser = _Parser(
        prog="resend-connector",
        description="Kafka events -> Resend contacts.",
        parents=[_global_options(on_command=False)],
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    common = [_global_options(on_command=True)]
    for command in _commands.values():
        if command.passthrough is not None:
            sub.add_parser(command.name, help=command.help, add_help=False)
            continue
        child = sub.add_parser(command.name, parents=common, help=command.help, description=command.help)
        command.arguments(child)
        child.set_defaults(run=command.run)
    return parser


class _Parser(argparse.ArgumentParser):
    """argparse, with a usage error as one line on stderr and exit 1 (argparse's own is 2 and two lines)."""

    def error(self, message: str) -> NoReturn:
        self.exit(1, f"{self.prog}: {message} (see {self.prog} --help)\n")
