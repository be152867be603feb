"""Row (h) of ``make bench`` (issue #25): consent and erasure overtake a backlog.

An emulator of its own with a team limit (``BENCH_EXPRESS_LIMIT``, default 5 requests per second), a
backlog of identifies of new contacts that needs ``BENCH_EXPRESS_BACKLOG_SECONDS`` (600: ten minutes)
at that limit, one call each, and the real connector process working it at the team limit. Once the
backlog is being worked, an unsubscribe (a track with ``unsubscribed: true``) of a contact that exists
in Resend is produced behind it, then an erasure (``Contact Deleted``), ``BENCH_EXPRESS_RUNS`` times
each (default 5), one at a time. Measured for each: from the producer's acknowledgement to the
connector's ``express.done`` line, which it writes once Resend (the emulator) has answered the write;
the emulator's state is checked afterwards to hold every opt-out and no erased contact. The row also
says how much of the backlog was still waiting when the last one was measured (the main path had not
reached them). Goal: at most 5 s each.
"""

from __future__ import annotations

import json
import os
import statistics
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

from kafka import KafkaProducer

from tests.harness import ConnectorProcess, Deployment, start_emulator

API_KEY = "re_bench_express_" + uuid.uuid4().hex[:8]


def _done_at(process: ConnectorProcess, partition: int, offset: int, timeout: float = 120.0) -> float:
    """The wall-clock time of the connector's express.done line for that record."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in process.output().splitlines():
            if '"express.done"' not in line:
                continue
            entry = json.loads(line)
            if (entry["partition"], entry["offset"]) == (partition, offset):
                return datetime.fromisoformat(entry["timestamp"].replace("Z", "+00:00")).timestamp()
        time.sleep(0.05)
    raise RuntimeError(f"no express.done for {partition}/{offset} after {timeout}s:\n{process.output()[-2000:]}")


def express_rows(bootstrap: str, redis_url: str, workdir: Path) -> list[dict[str, Any]]:
    limit = int(os.environ.get("BENCH_EXPRESS_LIMIT", "5"))
    backlog = limit * int(os.environ.get("BENCH_EXPRESS_BACKLOG_SECONDS", "600"))
    runs = int(os.environ.get("BENCH_EXPRESS_RUNS", "5"))
    emulator, url, inspector = start_emulator(API_KEY, limit)
    suffix = uuid.uuid4().hex[:6]
    env = {"RESEND_CONNECTOR_RESEND__MAX_REQUESTS_PER_SECOND": str(limit),  # the team limit, not the harness's
           "RESEND_CONNECTOR_DESTINATION__DELETE_EVENT_NAMES": '["Contact Deleted"]'}  # fmt: skip
    name = f"bench-express-{suffix}"
    deployment = Deployment(bootstrap, redis_url, url, API_KEY, topic=name, group=name, key_prefix=f"{name}:",
                            extra_env=env)  # fmt: skip
    process: ConnectorProcess | None = None
    try:
        deployment.create_topics()
        targets = [f"target-{i}@bench.example" for i in range(2 * runs)]
        inspector.seed(*(("POST", "/contacts", {"email": email}) for email in targets))
        deployment.produce_events({"type": "identify", "userId": f"new-{i}", "messageId": f"b-{i}",
                                   "traits": {"email": f"new-{i}@bench.example", "plan": "pro"}}
                                  for i in range(backlog))  # fmt: skip
        process = ConnectorProcess(deployment, workdir / f"express-{suffix}.log")
        while sum(inspector.call_counts().values()) < 5 * limit:  # the backlog is being worked
            if process.proc.poll() is not None:
                raise RuntimeError(process.output()[-3000:])
            time.sleep(0.2)
        producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0)
        seconds: dict[str, list[float]] = {"unsubscribe": [], "erasure": []}
        for i, email in enumerate(targets):
            kind = "unsubscribe" if i % 2 == 0 else "erasure"
            traits = {"email": email, "unsubscribed": True} if kind == "unsubscribe" else {"email": email}
            name = "Preferences Saved" if kind == "unsubscribe" else "Contact Deleted"
            event = {"type": "track", "userId": f"target-{i}", "messageId": f"x-{i}", "event": name, "traits": traits}
            sent = producer.send(deployment.topic, key=f"target-{i}".encode(), value=json.dumps(event).encode())
            meta = sent.get(timeout=30)
            produced = time.time()
            seconds[kind].append(_done_at(process, meta.partition, meta.offset) - produced)
            time.sleep(1.0)
        producer.close()
        left = deployment.lag()
        contacts = inspector.contacts()
        held = all(contacts[e]["unsubscribed"] for e in targets[0::2]) and not any(e in contacts for e in targets[1::2])
    finally:
        if process is not None:
            process.stop()
        emulator.terminate()
        emulator.wait(timeout=10)
    return [{"scenario": f"(h) {kind} behind the backlog", "runs": len(values), "median_s": statistics.median(values),
             "min_s": min(values), "max_s": max(values), "limit": limit, "backlog": backlog, "left": left,
             "held": held} for kind, values in seconds.items()]  # fmt: skip


def print_express(rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    print(f"{'express scenario':36} {'runs':>5} {'median s':>9} {'min s':>7} {'max s':>7} {'limit/s':>8} "
          f"{'backlog':>8} {'left':>7} {'in Resend':>9}")  # fmt: skip
    for r in rows:
        print(f"{r['scenario']:36} {r['runs']:>5} {r['median_s']:>9.2f} {r['min_s']:>7.2f} {r['max_s']:>7.2f} "
              f"{r['limit']:>8} {r['backlog']:>8} {r['left']:>7} {'yes' if r['held'] else 'NO':>9}")  # fmt: skip
