"""Row (g) of ``make bench`` (issue #25): merging what waits.

A backlog of ``BENCH_MERGE_CONTACTS`` contacts (300) with 8 changing events each: an identify that
creates the contact, then identifies that change its plan and segments and tracks (by userId, no
email) that change a trait, interleaved across contacts as a real backlog is, all produced before the
connector starts. The real connector process, default settings, against an emulator of its own with
a team limit of ``BENCH_MERGE_LIMIT`` (20) requests a second. Twice: with ``kafka.merge_waiting`` (the
default) and without it (one event at a time); the two emulators' final states must be equal.

Measured from each emulator's call log: calls per contact without the definitions (POST
/contact-properties, POST /segments), the definitions, and the drain time (first call to last).
Goal: at most 1.1 calls per contact plus definitions, final state equal to one-at-a-time processing.
"""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path
from typing import Any

from tests.harness import ConnectorProcess, Deployment, comparable_state, start_emulator, wait_drained

API_KEY = "re_bench_merge_" + uuid.uuid4().hex[:8]
EVENTS_PER_CONTACT = 8
_PLANS = ("free", "pro", "team", "enterprise")
_AUDIENCES = ("Trial", "Trial,Newsletter", "Paid", "Paid,Newsletter")


def workload(contacts: int, run: str) -> list[dict[str, Any]]:
    """Round by round: each contact's event k, then event k+1 (the contacts interleaved)."""
    events: list[dict[str, Any]] = []
    for k in range(EVENTS_PER_CONTACT):
        for i in range(contacts):
            user, mid = f"merge-{run}-{i}", f"g-{run}-{i}-{k}"
            if k % 2 == 0:
                traits = {"email": f"merge-{run}-{i}@bench.example", "plan": _PLANS[(i + k // 2) % 4],
                          "resendAudiences": _AUDIENCES[(i + k // 2) % 4], "name": f"Person {i} v{k}"}  # fmt: skip
                events.append({"type": "identify", "messageId": mid, "userId": user, "traits": traits})
            else:
                events.append({"type": "track", "messageId": mid, "userId": user, "event": "Score Changed",
                               "traits": {"score": str(i * 10 + k)}})  # fmt: skip
    return events


def _definition(call: dict[str, Any]) -> bool:
    return call["method"] == "POST" and call["route"] in ("/contact-properties", "/segments")


def _drain(bootstrap: str, redis_url: str, workdir: Path, events: list[dict[str, Any]], merge: bool) -> dict[str, Any]:
    process, url, inspector = start_emulator(API_KEY, int(os.environ.get("BENCH_MERGE_LIMIT", "20")))
    suffix = uuid.uuid4().hex[:6]
    env = {"RESEND_CONNECTOR_KAFKA__MERGE_WAITING": "true" if merge else "false"}
    d = _DefaultRate(bootstrap, redis_url, url, API_KEY, topic=f"bench-merge-{suffix}", group=f"bench-{suffix}",
                   key_prefix=f"bench-{suffix}:", extra_env=env)  # fmt: skip
    try:
        d.create_topics()
        assert d.produce_events(events) == len(events)
        connector = ConnectorProcess(d, workdir / f"merge-{suffix}.log")
        try:
            wait_drained(d, connector, timeout=len(events) + 180)
        finally:
            connector.stop()
        calls = [c for c in inspector.calls() if c["status"] != 429]
        state = comparable_state(inspector)
    finally:
        inspector.close()
        process.terminate()
        process.wait(timeout=10)
    definitions = sum(1 for c in calls if _definition(c))
    return {"calls": len(calls), "definitions": definitions, "writes": len(calls) - definitions,
            "seconds": calls[-1]["t"] - calls[0]["t"] if calls else 0.0, "state": state}  # fmt: skip


class _DefaultRate(Deployment):
    """The connector's own rate behaviour (its share of the announced limit), not the harness's cap."""

    def env(self) -> dict[str, str]:
        env = super().env()
        env.pop("RESEND_CONNECTOR_RESEND__MAX_REQUESTS_PER_SECOND", None)
        return env


def merge_rows(bootstrap: str, redis_url: str, workdir: Path) -> list[dict[str, Any]]:
    contacts = int(os.environ.get("BENCH_MERGE_CONTACTS", "300"))
    events = workload(contacts, uuid.uuid4().hex[:6])
    merged = _drain(bootstrap, redis_url, workdir, events, merge=True)
    single = _drain(bootstrap, redis_url, workdir, events, merge=False)
    equal = merged.pop("state") == single.pop("state")
    rows = []
    for name, figures in (("(g) merge, on", merged), ("(g) merge, off", single)):
        rows.append({"scenario": name, "contacts": contacts, "events": len(events), **figures,
                     "per_contact": figures["writes"] / contacts, "same_state": equal})  # fmt: skip
    return rows


def print_merge(rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    columns = ("events", "calls", "defs", "per ct", "seconds", "same")
    header = f"{'merge scenario (limit 20/s)':32} " + " ".join(f"{c:>8}" for c in columns)
    print("\n" + header)
    print("-" * len(header))
    for r in rows:
        print(f"{r['scenario']:32} {r['events']:>8} {r['calls']:>8} {r['definitions']:>8} {r['per_contact']:>8.3f} "
              f"{r['seconds']:>8.1f} {r['same_state']!s:>8}")  # fmt: skip


if __name__ == "__main__":  # BENCH_ROWS=g make bench runs it with the rest; this runs it alone
    import json
    import tempfile

    found = merge_rows(os.environ["KAFKA_BOOTSTRAP_SERVERS"], os.environ["REDIS_URL"], Path(tempfile.mkdtemp()))
    print_merge(found)
    print(json.dumps(found), file=sys.stderr)
