"""``resend-connector emulator`` / ``python -m resend_emulator``: the emulator as its own process.

The banner on stderr names the URL (useful with ``--port 0``); SIGTERM or Ctrl-C stop it with exit 0.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence
from types import FrameType

from resend_emulator.faults import Faults
from resend_emulator.server import EmulatorServer

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="resend-connector emulator", description="A local Resend API emulator.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8025)
    parser.add_argument("--api-key", action="append", dest="api_keys", help="an accepted key (repeatable)")
    parser.add_argument("--restricted-key", action="append", default=[], help="a sending-only key (repeatable)")
    parser.add_argument(
        "--unknown-key-status",
        type=int,
        choices=(400, 401, 403),
        default=401,
        help="status for an unknown key: 401 or 403 invalid_api_key, or 400 validation_error (401 by default)",
    )
    parser.add_argument("--domain", action="append", default=[], help="a verified sending domain (repeatable)")
    parser.add_argument("--rate-limit", type=int, default=2, help="requests per second; 0 = unthrottled")
    parser.add_argument("--error-rate", type=float, default=0.0, help="share of calls answered 500/503")
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--drop-rate", type=float, default=0.0, help="share of connections dropped")
    parser.add_argument("--outage-seconds", type=float, default=0.0, help="answer 503 to everything this long")
    parser.add_argument("--quota-exhausted", action="store_true")
    args = parser.parse_args(argv)
    server = EmulatorServer(
        args.host,
        args.port,
        api_keys=tuple(args.api_keys or ["re_test_key"]),
        restricted_keys=tuple(args.restricted_key),
        unknown_key_status=args.unknown_key_status,
        rate_limit=args.rate_limit,
        domains=tuple(args.domain),
        faults=Faults(
            error_rate=args.error_rate,
            latency_ms=args.latency_ms,
            drop_rate=args.drop_rate,
            outage_seconds=args.outage_seconds,
            quota_exhausted=args.quota_exhausted,
        ),
    )

    def stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    print(
        f"resend emulator on {server.url} (inspection: {server.url}/_emulator/state)",
        file=sys.stderr,
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0
