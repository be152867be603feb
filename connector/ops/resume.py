"""``resend-connector resume``: end a quota or key pause now, on every replica."""

from __future__ import annotations

from contextlib import ExitStack
from datetime import UTC, datetime
from typing import TextIO

from connector.pipeline.pause import request_resume
from connector.settings import Settings
from connector.wiring import Wiring

__all__ = ["run_resume"]


def run_resume(settings: Settings, out: TextIO) -> int:
    with ExitStack() as stack:
        moment = request_resume(Wiring(settings, stack).redis, settings.redis.key_prefix)
    at = datetime.fromtimestamp(moment, UTC).isoformat(timespec="seconds")
    print(f"resume requested at {at}: paused replicas try Resend again within a second", file=out)
    return 0
