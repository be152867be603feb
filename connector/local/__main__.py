"""``python -m connector.local``: provision, run commands beside, or demo the local servers.

- ``provision [--browser]``: fetch the Kafka jars (Maven, once), install redis-server when missing;
  with ``--browser`` Debian's chromium too (the console's browser tests; ``make test`` asks for it).
- ``exec -- CMD...``: start Kafka and Redis, run CMD with KAFKA_BOOTSTRAP_SERVERS and REDIS_URL set,
  stop both whatever happened (CMD's failure, Ctrl-C, SIGTERM); exit with CMD's status.
- ``demo``: the embedded default behind ``make run`` (see connector.local.demo).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from contextlib import ExitStack
from types import FrameType

from connector.local.chromium import ensure_chromium
from connector.local.kafka import LocalKafka, provision
from connector.local.redis_server import LocalRedis, ensure_redis_server
from connector.local.services import dies_with_parent


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _exec(command: list[str]) -> int:
    signal.signal(signal.SIGTERM, _raise_interrupt)
    with ExitStack() as stack:
        started = time.monotonic()
        redis = stack.enter_context(LocalRedis())
        kafka = stack.enter_context(LocalKafka())
        print(
            f"local servers up in {time.monotonic() - started:.1f}s: "
            f"kafka {kafka.bootstrap_servers}, redis {redis.url}",
            file=sys.stderr,
        )
        env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers, "REDIS_URL": redis.url}
        child = subprocess.Popen(command, env=env, preexec_fn=dies_with_parent())  # noqa: PLW1509 - one libc call
        try:
            return child.wait()
        except KeyboardInterrupt:
            child.send_signal(signal.SIGINT)
            return child.wait()
    return 1  # unreachable; ExitStack does not swallow exceptions


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m connector.local", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    provisioning = sub.add_parser("provision", help="fetch the Kafka jars, install redis-server when missing")
    provisioning.add_argument("--browser", action="store_true", help="and chromium, for the browser tests")
    run = sub.add_parser("exec", help="run a command with local Kafka and Redis beside it")
    run.add_argument("argv", nargs=argparse.REMAINDER)
    sub.add_parser("demo", help="start everything locally and run the connector on sample events")
    args = parser.parse_args(argv)
    if args.command == "provision":
        print(f"kafka jars: {provision()}\nredis-server: {ensure_redis_server()}")
        if args.browser:
            print(f"chromium: {ensure_chromium()}")
        return 0
    if args.command == "exec":
        command = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
        if not command:
            parser.error("exec needs a command after --")
        return _exec(command)
    from connector.local.demo import run_demo

    return run_demo()


if __name__ == "__main__":
    sys.exit(main())
