"""The long-running commands: ``run`` (the service) and ``emulator``."""

from __future__ import annotations

import argparse
import signal
from contextlib import ExitStack
from types import FrameType

from connector.cli.common import RESEND_KEY, settings_of
from connector.cli.registry import Command, register
from connector.errors import ConfigurationError, StateStoreFailedOver
from connector.logs import get_logger

# What `resend-connector emulator` says where the emulator is not installed (`pip install .` leaves it out).
EMULATOR_MISSING = (
    "the Resend emulator is not installed: pip install ./emulator, from the repository (make install does)"
)

log = get_logger(__name__)


def _run(args: argparse.Namespace) -> int:
    from connector.app import build_runner

    settings = settings_of(args, needs=[RESEND_KEY])
    with ExitStack() as stack:
        runner = build_runner(settings, stack)

        def stop(signum: int, frame: FrameType | None) -> None:
            log.info("signal.received", signal=signal.Signals(signum).name)
            runner.stop()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        try:
            runner.run()
        except StateStoreFailedOver as exc:
            log.error("redis.failed_over", detail=str(exc))
            return 75  # EX_TEMPFAIL: start again (the orchestrator does), from the last commit
    return 0


def _emulator(argv: list[str]) -> int:
    # The one import of the emulator from connector/ (tests/unit/test_import_rules.py): it is a
    # distribution of its own (emulator/, `resend-emulator`), never in `pip install .` nor the image.
    try:
        from resend_emulator import main as emulator_main
    except ImportError as exc:
        problem = EMULATOR_MISSING
        raise ConfigurationError(problem) from exc
    return int(emulator_main(argv) or 0)


register(Command("run", "consume events and keep Resend in sync (the service)", _run))
register(
    Command(
        "emulator",
        "a local Resend emulator (see `resend-connector emulator --help`)",
        None,
        passthrough=_emulator,
    )
)
