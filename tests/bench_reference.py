"""The reference row of ``make bench``: what the Kafka client itself can deliver on this machine.

A bare kafka-python consumer with the connector's consumer settings: it polls, decodes each value
as JSON and commits every half second, nothing else. It runs as its own process, as the connector
does, and the benchmark times it exactly as it times the connector (from the group's first commit
to the one that leaves no lag; CPU from /proc). Once it has read COUNT records and committed them it
waits for its standard input to close, so its CPU time can still be read.

Usage: ``python -m tests.bench_reference BOOTSTRAP TOPIC GROUP COUNT`` (GROUP has committed where
the events to read begin).
"""

from __future__ import annotations

import json
import sys
import time

from kafka import KafkaConsumer

_COMMIT_INTERVAL = 0.5


def main(bootstrap: str, topic: str, group: str, count: int) -> int:
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap.split(","),
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=500,  # the connector's default kafka.max_poll_records
    )
    seen = 0
    last_commit = time.monotonic()
    try:
        while True:  # the last records are committed at a half-second tick too, as the connector does
            for records in consumer.poll(timeout_ms=200 if seen < count else 50).values():
                for record in records:
                    json.loads(record.value)
                    seen += 1
            if time.monotonic() - last_commit >= _COMMIT_INTERVAL:
                consumer.commit()
                last_commit = time.monotonic()
                if seen >= count:
                    break
        sys.stdin.read()  # until the benchmark has read this process's CPU time
    finally:
        consumer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])))
