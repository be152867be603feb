"""Row (f) of ``make bench`` (issue #25): how much of Resend's quota the connector uses, and what it
leaves to the team's other traffic.

The real connector process, default settings (no ``resend.max_requests_per_second``: the harness's
usual cap is removed), against an emulator in its own process with a team limit of 5 requests per
second, draining a backlog of identifies of new contacts (one POST each, plus the email index and the
property definitions). Twice: alone, then with another caller of the same team (the team's own
sending) sending one ``GET /segments`` a second, on a schedule, not through the connector's limiter.

Measured from the emulator's call log (the 429s it answered, when each call came): the quota used is
the connector's calls Resend counted per second, from its first call to its last, over the limit
(``steady``: leaving out the first 3 seconds, the start at the safe rate); the other caller's 429s
are what it was answered; the connector's share of what is left is its rate over the limit minus the
other caller's rate. Goals: quota used >= 0.78 with no 429s alone; the other caller's 429s < 1 %.
Size: BENCH_QUOTA_CONTACTS (400 each run, about 100 s at 4 per second).
"""

from __future__ import annotations

import os
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from tests.harness import ConnectorProcess, Deployment, start_emulator, wait_drained

LIMIT = 5
API_KEY = "re_bench_quota_" + uuid.uuid4().hex[:8]
_OTHER_ROUTE = "/segments"  # the connector makes no segment call in this workload


class _DefaultRate(Deployment):
    """The harness's deployment without its cap: the connector's own default rate behaviour."""

    def env(self) -> dict[str, str]:
        env = super().env()
        env.pop("RESEND_CONNECTOR_RESEND__MAX_REQUESTS_PER_SECOND", None)
        return env


class _OtherCaller(threading.Thread):
    """One request a second on the team's key, at fixed times (a late answer does not shift the next)."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self._url = url
        self._halt = threading.Event()
        self.answers: list[int] = []

    def run(self) -> None:
        with httpx.Client(base_url=self._url, headers={"Authorization": f"Bearer {API_KEY}"}) as http:
            next_at = time.monotonic()
            while not self._halt.wait(max(0.0, next_at - time.monotonic())):
                self.answers.append(http.get(_OTHER_ROUTE, params={"limit": 1}).status_code)
                next_at += 1.0

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=10)


def _identify(i: int, run: str) -> dict[str, Any]:
    return {"type": "identify", "messageId": f"q-{run}-{i}", "userId": f"quota-{run}-{i}",
            "traits": {"email": f"quota-{run}-{i}@bench.example", "plan": "free"}}  # fmt: skip


def _drain(bootstrap: str, redis_url: str, workdir: Path, contacts: int, with_other: bool) -> dict[str, Any]:
    process, url, inspector = start_emulator(API_KEY, LIMIT)
    suffix = uuid.uuid4().hex[:6]
    d = _DefaultRate(bootstrap, redis_url, url, API_KEY, topic=f"bench-quota-{suffix}", group=f"bench-{suffix}",
                     key_prefix=f"bench-{suffix}:")  # fmt: skip
    other = _OtherCaller(url) if with_other else None
    try:
        d.create_topics()
        assert d.produce_events(_identify(i, suffix) for i in range(contacts)) == contacts
        connector = ConnectorProcess(d, workdir / f"quota-{suffix}.log")
        if other is not None:
            other.start()
        try:
            wait_drained(d, connector, timeout=contacts * 2 + 120)
        finally:
            if other is not None:
                other.stop()
            connector.stop()
        calls = inspector.calls()
    finally:
        inspector.close()
        process.terminate()
        process.wait(timeout=10)
    return _figures(calls, other)


def _figures(calls: list[dict[str, Any]], other: _OtherCaller | None) -> dict[str, Any]:
    ours = [c for c in calls if c["route"] != _OTHER_ROUTE]
    first, last = ours[0]["t"], ours[-1]["t"]
    counted = [c for c in ours if c["status"] != 429]
    seconds = last - first
    steady = [c for c in counted if c["t"] >= first + 3.0]
    row: dict[str, Any] = {
        "calls": len(ours), "connector_429": len(ours) - len(counted), "seconds": seconds,
        "quota_used": len(counted) / seconds / LIMIT, "quota_used_steady": len(steady) / (seconds - 3.0) / LIMIT,
    }  # fmt: skip
    if other is not None:
        theirs = [c for c in calls if c["route"] == _OTHER_ROUTE and first <= c["t"] <= last]
        refused = sum(1 for c in theirs if c["status"] == 429)
        other_rate = (len(theirs) - refused) / seconds
        row.update(other_requests=len(other.answers), other_429=sum(1 for s in other.answers if s == 429),
                   share_of_rest=len(counted) / seconds / (LIMIT - other_rate))  # fmt: skip
    return row


def quota_rows(bootstrap: str, redis_url: str, workdir: Path) -> list[dict[str, Any]]:
    contacts = int(os.environ.get("BENCH_QUOTA_CONTACTS", "400"))
    alone = _drain(bootstrap, redis_url, workdir, contacts, with_other=False)
    shared = _drain(bootstrap, redis_url, workdir, contacts, with_other=True)
    return [{"scenario": "(f) quota, alone", "events": contacts, **alone},
            {"scenario": "(f) quota, other caller 1/s", "events": contacts, **shared}]  # fmt: skip


def print_quota(rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    columns = ("events", "seconds", "calls", "429s", "used", "steady", "other", "oth 429", "of rest")
    header = f"{'quota scenario (limit 5/s)':32} " + " ".join(f"{c:>8}" for c in columns)
    print("\n" + header)
    print("-" * len(header))
    for r in rows:
        other = f"{r['other_requests']:>8} {r['other_429']:>8} {r['share_of_rest']:>8.3f}" if "other_429" in r else ""
        print(f"{r['scenario']:32} {r['events']:>8} {r['seconds']:>8.1f} {r['calls']:>8} {r['connector_429']:>8} "
              f"{r['quota_used']:>8.3f} {r['quota_used_steady']:>8.3f} {other}")  # fmt: skip


if __name__ == "__main__":  # BENCH_ROWS=f make bench runs it with the rest; this runs it alone
    import json
    import tempfile

    found = quota_rows(os.environ["KAFKA_BOOTSTRAP_SERVERS"], os.environ["REDIS_URL"], Path(tempfile.mkdtemp()))
    print_quota(found)
    print(json.dumps(found), file=sys.stderr)
