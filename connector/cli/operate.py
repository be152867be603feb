"""The operator commands: check, status, replay, backfill, resume."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from connector.cli.common import RESEND_KEY, add_json, settings_of
from connector.cli.registry import Command, register


def _check(args: argparse.Namespace) -> int:
    from connector.ops import run_check

    return run_check(settings_of(args, needs=[RESEND_KEY]), sys.stdout, as_json=args.json)


def _status_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("emails", nargs="*", metavar="EMAIL", help="contacts to show")
    parser.add_argument("--file", type=Path, help="a file of emails, one a line (- for stdin)")
    parser.add_argument("--failed", action="store_true", help="every contact whose last event failed")
    parser.add_argument("--since", help="contacts synced or failed at or after this ISO-8601 time")
    parser.add_argument("--limit", type=int, default=1000, help="at most this many contacts (default 1000)")
    add_json(parser)


def _status(args: argparse.Namespace) -> int:
    from connector.ops import StatusQuery, run_status

    query = StatusQuery.from_args(args)  # refuses a bad query before settings or servers are touched
    return run_status(settings_of(args), query, sys.stdout, as_json=args.json)  # Redis only


def _replay_arguments(replay: argparse.ArgumentParser) -> None:
    replay.add_argument("--dry-run", action="store_true", help="print the commands; send and commit nothing")
    replay.add_argument("--limit", type=int, help="stop after this many matching records")
    replay.add_argument("--from-beginning", action="store_true", help="ignore where the previous replay stopped")
    replay.add_argument("--stage", help="only records that failed at this stage (decode, transform, plan, apply)")
    replay.add_argument("--exception", help="only this exception class (short or qualified name)")
    replay.add_argument("--topic", help="only records from this original topic")
    replay.add_argument("--partition", type=int, help="only records from this original partition")
    replay.add_argument("--from-offset", type=int, help="only original offsets at or after this")
    replay.add_argument("--to-offset", type=int, help="only original offsets at or before this")
    replay.add_argument("--since", help="only records dead-lettered at or after this ISO-8601 time")
    replay.add_argument("--until", help="only records dead-lettered before this ISO-8601 time")
    replay.add_argument("--key", help="only records with this key (UTF-8)")
    replay.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_json(replay)


def _replay(args: argparse.Namespace) -> int:
    from connector.app import run_replay
    from connector.dead_letters.replay import ReplayFilter

    ReplayFilter.from_args(args)  # a bad time is refused before any server is reached
    return run_replay(settings_of(args, needs=[RESEND_KEY]), args)


def _backfill_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path)
    parser.add_argument("--format", choices=["csv", "jsonl"], help="default: from the file extension")
    parser.add_argument(
        "--via-events", action="store_true", help="produce identify events to the events topic instead (one by one)"
    )
    parser.add_argument("--no-progress", action="store_true")


def _backfill(args: argparse.Namespace) -> int:
    from connector.ops import run_backfill, run_import_backfill

    # Through the events topic it never calls Resend; through contact imports it does.
    settings = settings_of(args, needs=[] if args.via_events else [RESEND_KEY])

    def via_events(path: Path, fmt: str | None = args.format) -> int:
        return run_backfill(settings, path, fmt=fmt, progress=not args.no_progress, out=sys.stdout)

    if args.via_events:
        return via_events(args.file)
    return run_import_backfill(
        settings, args.file, fmt=args.format, progress=not args.no_progress, out=sys.stdout,
        events_path=lambda path: via_events(path, "jsonl"),
    )  # fmt: skip


def _resume(args: argparse.Namespace) -> int:
    from connector.ops import run_resume

    return run_resume(settings_of(args), sys.stdout)  # Redis only


register(Command("check", "validate settings and reach Kafka, Redis and Resend", _check, add_json))
register(Command("status", "what the connector knows about contacts", _status, _status_arguments))
register(Command("replay", "run dead-lettered records through the pipeline again", _replay, _replay_arguments))
register(
    Command(
        "backfill",
        "load existing contacts (CSV or JSON Lines) through contact imports",
        _backfill,
        _backfill_arguments,
    )
)
register(
    Command(
        "resume",
        "end a quota or key pause now: every replica tries Resend again at once",
        _resume,
    )
)
