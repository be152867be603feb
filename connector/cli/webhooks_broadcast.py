"""The closed loop's commands: ``webhooks`` (the receiver) and ``broadcast create|send|list|show``."""

from __future__ import annotations

import argparse
import sys

from connector.cli.common import RESEND_KEY, SIGNING_SECRET, settings_of
from connector.cli.registry import Command, register


def _webhooks(args: argparse.Namespace) -> int:
    from connector.webhooks import run_receiver

    return run_receiver(settings_of(args, needs=[SIGNING_SECRET]))  # never calls Resend


def _broadcast_arguments(parser: argparse.ArgumentParser) -> None:
    from connector.ops.broadcast import broadcast_arguments

    broadcast_arguments(parser)


def _broadcast(args: argparse.Namespace) -> int:
    from connector.ops.broadcast import run_broadcast

    return run_broadcast(settings_of(args, needs=[RESEND_KEY]), args, sys.stdout)


register(Command("webhooks", "receive Resend's webhooks and write them to Kafka as track events", _webhooks))
register(Command("broadcast", "create, send, list and show Resend broadcasts", _broadcast, _broadcast_arguments))
