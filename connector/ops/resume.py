"""``resend-connector resume``: end a quota or key pause now, on every replica."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TextIO

from connector.pipeline.pause import request_resume
from connector.redisio import connect
from connector.settings import Settings

__all__ = ["run_resume"]


def run_resume(settings: Settings, out: TextIO) -> int:
    client = connect(settings.redis)
    try:
        moment = request_resume(client, settings.redis.key_prefix)
    finally:
        client.close()
    at = datetime.fromtimestamp(moment, UTC).isoformat(timespec="seconds")
    print(f"resume requested at {at}: paused replicas try Resend again within a second", file=out)
    return 0
