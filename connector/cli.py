"""``resend-connector``: the service and its operator commands.

Settings come from ``--settings FILE`` (YAML or TOML) and RESEND_CONNECTOR_* variables; they are
validated once, and every problem is printed before the command exits 1.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from pathlib import Path
from types import FrameType

from connector.closed_loop_cli import add_commands
from connector.errors import ConfigurationError, ConnectorError
from connector.logs import configure, get_logger
from connector.settings import Settings, load_settings

__all__ = ["main"]

log = get_logger(__name__)


def _settings(args: argparse.Namespace) -> Settings:
    settings = load_settings(args.settings)
    configure(
        level=settings.log_level,
        fmt=settings.log_format,
        mask_emails=settings.destination.mask_emails_in_logs,
    )
    return settings


def _run(args: argparse.Namespace) -> int:
    from connector.app import build_runner

    settings = _settings(args)
    with ExitStack() as stack:
        runner = build_runner(settings, stack)

        def stop(signum: int, frame: FrameType | None) -> None:
            log.info("signal.received", signal=signal.Signals(signum).name)
            runner.stop()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        runner.run()
    return 0


def _replay(args: argparse.Namespace) -> int:
    from connector.pipeline.replay import run_replay

    return run_replay(_settings(args), args)


def _check(args: argparse.Namespace) -> int:
    from connector.ops import run_check

    return run_check(_settings(args), sys.stdout)


def _status(args: argparse.Namespace) -> int:
    from connector.ops import run_status

    return run_status(_settings(args), args.email, sys.stdout)


def _backfill(args: argparse.Namespace) -> int:
    from connector.ops import run_backfill, run_import_backfill

    settings = _settings(args)

    def via_events(path: Path, fmt: str | None = args.format) -> int:
        return run_backfill(settings, path, fmt=fmt, progress=not args.no_progress, out=sys.stdout)

    if args.via_events:
        return via_events(args.file)
    return run_import_backfill(
        settings, args.file, fmt=args.format, progress=not args.no_progress, out=sys.stdout,
        events_path=lambda path: via_events(path, "jsonl"),
    )  # fmt: skip


def _global_options(*, on_command: bool) -> argparse.ArgumentParser:
    """Options every command takes, before or after its name (`--settings F run` = `run --settings F`).

    On a command's own parser the default is SUPPRESS, so an option given before the command name is
    not overwritten by the subparser's default.
    """
    options = argparse.ArgumentParser(add_help=False)
    default = argparse.SUPPRESS if on_command else None
    options.add_argument("--settings", type=Path, default=default, help="YAML or TOML settings file")
    return options


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="resend-connector",
        description="Kafka events -> Resend contacts.",
        parents=[_global_options(on_command=False)],
    )
    sub = parser.add_subparsers(dest="command", required=True)
    common = [_global_options(on_command=True)]

    sub.add_parser("run", parents=common, help="consume events and keep Resend in sync (the service)").set_defaults(
        func=_run
    )

    sub.add_parser("emulator", help="a local Resend emulator (see `resend-connector emulator --help`)")

    replay = sub.add_parser("replay", parents=common, help="run dead-lettered records through the pipeline again")
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
    replay.set_defaults(func=_replay)

    sub.add_parser("check", parents=common, help="validate settings and reach Kafka, Redis and Resend").set_defaults(
        func=_check
    )
    status = sub.add_parser("status", parents=common, help="what the connector knows about one contact")
    status.add_argument("email")
    status.set_defaults(func=_status)
    backfill = sub.add_parser(
        "backfill", parents=common, help="load existing contacts (CSV or JSON Lines) through contact imports"
    )
    backfill.add_argument("file", type=Path)
    backfill.add_argument("--format", choices=["csv", "jsonl"], help="default: from the file extension")
    backfill.add_argument(
        "--via-events", action="store_true", help="produce identify events to the events topic instead (one by one)"
    )
    backfill.add_argument("--no-progress", action="store_true")
    backfill.set_defaults(func=_backfill)
    add_commands(sub, common, _settings)  # webhooks, broadcast (connector/closed_loop_cli.py)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["emulator"]:  # its own options, parsed by the emulator itself
        from connector.emulator import main as emulator_main

        return int(emulator_main(argv[1:]) or 0)
    args = _parser().parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except ConfigurationError as exc:
        print(f"resend-connector: {exc}", file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    except ConnectorError as exc:  # e.g. Redis unreachable for `status`: one clear line, no traceback
        print(f"resend-connector: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
