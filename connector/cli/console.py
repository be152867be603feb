"""``resend-connector console``: the operator's web console (connector.console)."""

from __future__ import annotations

import argparse

from connector.cli.common import RESEND_KEY, settings_of
from connector.cli.registry import Command, register


def _console(args: argparse.Namespace) -> int:
    from connector.console import run_console

    return run_console(settings_of(args, needs=[RESEND_KEY]))  # it reads and writes Resend


register(Command("console", "serve the operator's web console (console.host:console.port)", _console))
