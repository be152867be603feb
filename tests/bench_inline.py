"""A micro-benchmark of the run loop's inline path, without Kafka (a benchmark, not a test).

The loop thread's own cost per record for events that need no Resend call: a fake consumer hands
out 500-record batches of prepared no-call tracks, and the real decoder, lifecycle, event sync (on
the real Redis of ``connector.local exec``) and run loop settle them. kafka-python's fetching and
unpacking, which the reference row of ``make bench`` pays too, is left out, so this shows what the
connector adds. ``PROFILE=1`` prints cProfile's top functions instead (cProfile inflates code that
makes many calls: use it for where, py-spy on ``make bench`` for how much).

Usage: ``.venv/bin/python -m connector.local exec -- .venv/bin/python -m tests.bench_inline``
(``N`` records, default 300,000).
"""

from __future__ import annotations

import cProfile
import json
import os
import pstats
import time
from contextlib import ExitStack
from typing import Any, NamedTuple

from kafka import TopicPartition

from connector.kafka.consumer import Consumer
from connector.kafka.records import InFlight
from connector.logs import configure
from connector.pipeline.runner import Runner
from connector.settings import load_settings
from connector.wiring import Wiring

TP = TopicPartition("events", 0)


class _Record(NamedTuple):  # what kafka-python's poll() hands out, as far as the loop reads it
    offset: int
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]]
    timestamp: int


class _Consumer:
    def __init__(self, records: list[_Record]) -> None:
        self.records, self.position = records, 0

    def subscribe(self, topics: list[str], listener: Any) -> None:
        listener.on_partitions_assigned({TP})

    def poll(self, timeout_ms: int, max_records: int) -> dict[TopicPartition, list[_Record]]:
        batch = self.records[self.position : self.position + max_records]
        self.position += len(batch)
        return {TP: batch} if batch else {}

    def assignment(self) -> set[TopicPartition]:
        return {TP}

    def paused(self) -> set[TopicPartition]:
        return set()

    def pause(self, *tps: TopicPartition) -> None: ...
    def resume(self, *tps: TopicPartition) -> None: ...
    def seek(self, tp: TopicPartition, offset: int) -> None: ...
    def commit(self, offsets: Any) -> None: ...
    def highwater(self, tp: TopicPartition) -> int | None:
        return None

    def close(self) -> None: ...


class _NoLetters:
    def dead_letter(self, record: InFlight, error: BaseException) -> None:
        raise AssertionError(f"no record of this benchmark fails: {error!r}")


def main() -> None:
    configure(level="info", fmt="json")
    count = int(os.environ.get("N", "300000"))
    records = [
        _Record(i, f"user-{i % 1000}".encode(), json.dumps({"type": "track", "messageId": f"t-{i}",
                "userId": f"user-{i % 1000}", "event": "Page Scrolled", "properties": {"depth": i % 100}}).encode(),
                [], 1)
        for i in range(count)
    ]  # fmt: skip
    settings = load_settings(redis={"url": os.environ["REDIS_URL"]},  # the dead-letter producer needs a broker
                             kafka={"bootstrap_servers": os.environ["KAFKA_BOOTSTRAP_SERVERS"]},
                             resend={"api_key": "re_bench_inline", "base_url": "http://127.0.0.1:9"})  # fmt: skip
    with ExitStack() as stack:
        parts = Wiring(settings, stack)
        consumer = _Consumer(records)
        runner = Runner(settings.kafka, Consumer(consumer, settings.kafka.topic), parts.lifecycle(_NoLetters()),
                        parts.metrics, log_outcomes=settings.log_event_outcomes)  # fmt: skip
        runner._consumer.subscribe(on_assigned=runner._on_assigned, on_revoked=runner._on_revoked)

        def drain() -> None:  # Runner.run's steps, until every record is consumed
            while consumer.position < count:
                runner._poll()
                runner._dispatch()
                runner._collect()
                runner._commit()
                runner._resume()
                runner._check_health()

        if os.environ.get("PROFILE"):
            profile = cProfile.Profile()
            profile.runcall(drain)
            pstats.Stats(profile).sort_stats("tottime").print_stats(25)
            return
        started = time.process_time()
        drain()
        cpu = time.process_time() - started
        print(f"{count} no-call records: {1e6 * cpu / count:.2f} µs of CPU per record on the loop thread's path")


if __name__ == "__main__":
    main()
