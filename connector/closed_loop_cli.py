"""The closed loop's commands, registered on the main parser by one call (connector/cli.py):
``webhooks`` (the receiver) and ``broadcast create|send|list|show``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from connector.settings import Settings

__all__ = ["add_commands"]


def add_commands(
    sub: Any, parents: list[argparse.ArgumentParser], settings: Callable[[argparse.Namespace], Settings]
) -> None:
    def webhooks(args: argparse.Namespace) -> int:
        from connector.webhooks import run_receiver

        return run_receiver(settings(args))

    def broadcast(args: argparse.Namespace) -> int:
        from connector.ops.broadcast import run_broadcast

        return run_broadcast(settings(args), args, sys.stdout)

    sub.add_parser(
        "webhooks", parents=parents, help="receive Resend's webhooks and write them to Kafka as track events"
    ).set_defaults(func=webhooks)
    from connector.ops.broadcast import add_broadcast_parser

    add_broadcast_parser(sub, parents, broadcast)
