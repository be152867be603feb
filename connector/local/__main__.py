"""``python -m connector.local``: provision, run commands beside, or demo the local servers.

- ``provision [--browser]``: fetch the Kafka jars (Maven, once), install redis-server when missing;
  with ``--browser`` Debian's chromium too (the console's browser tests; ``make test`` asks for it).
- ``exec [--brokers N] [--redis single|sentinel|cluster] -- CMD...``: start Kafka and Redis, run CMD
  with KAFKA_BOOTSTRAP_SERVERS and REDIS_URL set (``redis+sentinel://`` or ``redis+cluster://`` for
  those topologies, which connector.redisio reads; LOCAL_TOPOLOGY says which), stop everything
  whatever happened (CMD's failure, Ctrl-C, SIGTERM); exit with CMD's status. ``--brokers 3`` is a
  replicated KRaft cluster (RF 3, ``min.insync.replicas`` 2).
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
from connector.local.kafka_cluster import LocalKafkaCluster
from connector.local.redis_server import LocalRedis, ensure_redis_server
from connector.local.redis_topologies import LocalRedisCluster, LocalRedisSentinel
from connector.local.services import dies_with_parent


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _exec(command: list[str], *, brokers: int = 1, redis_topology: str = "single") -> int:
    signal.signal(signal.SIGTERM, _raise_interrupt)
    with ExitStack() as stack:
        started = time.monotonic()
        redis: LocalRedis | LocalRedisSentinel | LocalRedisCluster
        redis = {"single": LocalRedis, "sentinel": LocalRedisSentinel, "cluster": LocalRedisCluster}[redis_topology]()
        stack.enter_context(redis)
        kafka: LocalKafka | LocalKafkaCluster = LocalKafka() if brokers == 1 else LocalKafkaCluster(brokers)
        stack.enter_context(kafka)
        print(
            f"local servers up in {time.monotonic() - started:.1f}s: "
            f"kafka {kafka.bootstrap_servers}, redis {redis.url}",
            file=sys.stderr,
        )
        topology = f"brokers={brokers},redis={redis_topology}"
        env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers, "REDIS_URL": redis.url,
               "LOCAL_TOPOLOGY": topology}  # fmt: skip
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
    run.add_argument("--brokers", type=int, default=1, help="Kafka brokers (3: RF 3, min.insync.replicas 2)")
    run.add_argument("--redis", choices=["single", "sentinel", "cluster"], default="single")
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
        if args.brokers < 1:
            parser.error("--brokers must be at least 1")
        return _exec(command, brokers=args.brokers, redis_topology=args.redis)
    from connector.local.demo import run_demo

    return run_demo()


if __name__ == "__main__":
    sys.exit(main())
