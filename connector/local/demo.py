"""``make run`` on the embedded default: everything local, the sample events, the connector in front.

Starts Redis, Kafka and the Resend emulator on free loopback ports, creates the topics, produces
deploy/sample-events.jsonl, runs the connector in the foreground with console logs and the operator's
web console beside it (its address and access token are printed). Ctrl-C
stops the connector, prints what the emulator now holds, and stops everything that was started.
"""

from __future__ import annotations

import json
import secrets
import signal
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from types import FrameType

from connector.local.kafka import LocalKafka
from connector.local.redis_server import LocalRedis
from connector.local.services import free_port, project_root

__all__ = ["produce_samples", "run_demo"]

SAMPLES = Path("deploy") / "sample-events.jsonl"


def produce_samples(bootstrap: str, topic: str, path: Path) -> int:
    from connector.kafka.clients import plain_producer

    producer = plain_producer(bootstrap)
    count = 0
    for line in path.read_bytes().splitlines():
        if not line.strip():
            continue
        try:
            event = json.loads(line)
            key = event.get("userId") or event.get("anonymousId")
        except ValueError:
            key = None  # the samples include a broken record on purpose: it must be dead-lettered
        producer.send(topic, value=line, key=str(key).encode() if key else None)
        count += 1
    producer.flush()
    producer.close()
    return count


def run_demo() -> int:
    from connector.app import build_runner
    from connector.console import start_console
    from connector.kafka.clients import ensure_topics
    from connector.logs import configure, get_logger
    from connector.settings import load_settings

    # `make run` (the demo) is the emulator's other user in connector/: a development tool, guarded
    # like the `emulator` command, since `pip install .` leaves the emulator (emulator/) out.
    try:
        from resend_emulator import EmulatorInspector, EmulatorServer
    except ImportError:
        print("the demo needs the Resend emulator: pip install ./emulator (make install does)")
        return 1

    configure(level="debug", fmt="console")
    log = get_logger("demo")
    api_key = "re_demo_" + secrets.token_hex(8)
    console_token = secrets.token_urlsafe(18)
    with ExitStack() as stack:
        started = time.monotonic()
        redis = stack.enter_context(LocalRedis())
        kafka = stack.enter_context(LocalKafka())
        emulator = EmulatorServer(api_keys=(api_key,), rate_limit=10, domains=("example.com",))
        emulator.start()
        stack.callback(emulator.stop)
        log.info(
            "demo.services_up",
            seconds=round(time.monotonic() - started, 1),
            kafka=kafka.bootstrap_servers,
            redis=redis.url,
            resend_emulator=emulator.url,
        )
        settings = load_settings(
            kafka={"bootstrap_servers": kafka.bootstrap_servers},
            redis={"url": redis.url},
            resend={"base_url": emulator.url, "api_key": api_key, "max_requests_per_second": 10},
            destination={"audiences": ["Newsletter"], "delete_event_names": ["Contact Deleted"]},
            metrics={"port": free_port()},
            console={"port": free_port(), "access_token": console_token},
            log_format="console",
            log_level="debug",
        )
        ensure_topics(settings.kafka, [settings.kafka.topic, settings.kafka.dead_letter_topic], partitions=4)
        produced = produce_samples(kafka.bootstrap_servers, settings.kafka.topic, project_root() / SAMPLES)
        log.info(
            "demo.samples_produced", count=produced, topic=settings.kafka.topic, metrics_port=settings.metrics.port
        )
        runner = build_runner(settings, stack)
        url = start_console(settings, stack)
        # Printed, never logged: the demo's operator needs the token to sign in (docs/console.md).
        print(f"\n  console: {url}/  (access token: {console_token})\n", file=sys.stderr, flush=True)

        def stop(signum: int, frame: FrameType | None) -> None:
            runner.stop()

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        log.info("demo.running", hint="Ctrl-C stops the connector and every local server")
        runner.run()
        state = EmulatorInspector(emulator.url).state()
        log.info("demo.emulator_state", **_summary(state))
    return 0


def _summary(state: dict[str, object]) -> dict[str, int]:
    return {name: len(value) for name, value in state.items() if isinstance(value, list | dict)}
