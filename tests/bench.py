"""``make bench``: the whole pipeline against an unthrottled emulator (a benchmark, not a test).

Runs the real connector process against the real broker, Redis and an emulator in its own process,
and prints one table: events per second for (a) events that need no Resend call and (b) identifies
that need one call each, Resend calls per event, peak RSS of the connector, p50/p99 processing
latency (from the connector's own histogram), and (c) peak RSS while draining a large backlog. CPU
ms/ev is the connector's own CPU time per event (all replicas together): what an event costs, where
events/s also says how much CPU the machine had to give.

(ref) is the reference: a bare kafka-python consumer (tests/bench_reference.py) that polls, decodes
each value as JSON and commits every half second, run on the (a) events in the same run and timed the
same way; rows (a) and (c) print their events/s as a ratio to it (the ``x ref`` column).

Two API-economy rows (issue #14; tests/bench_economy.py): (d) a realistic mixed stream, the calls
the connector made (the emulator's log) against the fewest calls an independent model computes for
the same events, and their ratio, and whether the emulator ends holding the contacts the same model
says the events leave (the ``state ok`` column); (e) a bulk backfill through contact imports, its calls (status
polls included) per 1,000 contacts and its wall time.

Goals on the 2-core machine: (a) >= 10,000 events/s, (b) >= 500 events/s, (c) <= 250 MB,
(d) ratio <= 1.05 with default settings, (e) <= 1 call per 1,000 contacts.
Sizes: BENCH_NO_CALL (default 400,000: the reference reads them in about five seconds, so the commit
interval, which bounds where a timing window can end, is a tenth of it), BENCH_ONE_CALL (5,000),
BENCH_BACKLOG (1,000,000), BENCH_REPLICAS (2; the (b) row with that many replicas, none below 2),
BENCH_ECONOMY_USERS (2,000) and BENCH_ECONOMY_EVENTS (20,000), BENCH_BACKFILL (100,000 contacts);
BENCH_IN_FLIGHT sets the connector's kafka.max_in_flight_contacts and BENCH_LOG_EVENT_OUTCOMES its
log_event_outcomes (default: the settings' defaults); BENCH_EXPRESS=0 turns the express path off (kafka.express);
BENCH_MERGE=0 turns merging what waits off (kafka.merge_waiting).
Row (f) (issue #25; tests/bench_quota.py): the share of Resend's quota used against a team limit of 5/s,
alone and beside another caller (size: BENCH_QUOTA_CONTACTS).
Row (g) (issue #25; tests/bench_merge.py): a backlog of 300 contacts x 8 changing events at a team limit of
20/s, with and without kafka.merge_waiting: calls per contact (goal: at most 1.1 plus definitions), the
drain time, and whether both end in the same state.
Row (h) (issue #25; tests/bench_express.py): an unsubscribe and an erasure produced behind a backlog that
needs ten minutes at the team limit, the time until Resend holds each (goal: at most 5 s).
BENCH_ROWS selects rows (comma-separated: a, b, b2, ref, c, d, e, f, g, h; default all), e.g. BENCH_ROWS=d,e;
the ratio column needs ref.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import httpx
from kafka import KafkaConsumer, OffsetAndMetadata, TopicPartition

from resend_emulator import EmulatorInspector
from tests.bench_economy import backfill_rows, fewest_calls, final_state, workload
from tests.bench_express import express_rows, print_express
from tests.bench_merge import merge_rows, print_merge
from tests.bench_quota import print_quota, quota_rows
from tests.harness import ConnectorProcess, Deployment, comparable_state, start_emulator, wait_drained

API_KEY = "re_bench_" + uuid.uuid4().hex[:8]


def _identify(i: int, round_: int) -> dict[str, Any]:
    return {
        "type": "identify",
        "messageId": f"m-{round_}-{i}",
        "userId": f"user-{i}",
        "traits": {"email": f"user-{i}@bench.example", "plan": f"plan-{round_}", "seats": round_},
    }


def _no_call(i: int, users: int) -> dict[str, Any]:
    # A track with no contact fields: nothing to send (the most common event in a real stream).
    return {"type": "track", "messageId": f"t-{i}", "userId": f"user-{i % users}", "event": "Page Scrolled",
            "properties": {"depth": i % 100}}  # fmt: skip


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _metrics_port(process: ConnectorProcess) -> int | None:
    match = re.search(r'"event": "metrics.serving".*?"port": (\d+)', process.output())
    match = match or re.search(r'"port": (\d+)[^\n]*metrics.serving', process.output())
    return int(match.group(1)) if match else None


def _quantiles(process: ConnectorProcess) -> tuple[float, float]:
    port = _metrics_port(process)
    if port is None:
        return float("nan"), float("nan")
    text = httpx.get(f"http://127.0.0.1:{port}/metrics").text
    buckets = [(float(le), float(v)) for le, v in re.findall(
        r'connector_processing_seconds_bucket\{le="([^"+]+)"\} ([0-9.e+]+)', text)]  # fmt: skip
    total = float(re.search(r"connector_processing_seconds_count ([0-9.e+]+)", text).group(1))  # type: ignore[union-attr]

    def q(share: float) -> float:
        for le, count in buckets:
            if count >= share * total:
                return le
        return float("inf")

    return q(0.5), q(0.99)


class LagWatch:
    """Records of a topic not yet committed by a group, asked through one long-lived client (a new
    client per question would cost the machine CPU the measured process should have)."""

    def __init__(self, deployment: Deployment, group: str) -> None:
        self._consumer = KafkaConsumer(bootstrap_servers=deployment.bootstrap, group_id=group, enable_auto_commit=False)
        self._partitions = [TopicPartition(deployment.topic, p) for p in range(deployment.partitions)]
        self._ends = self._consumer.end_offsets(self._partitions)

    def lag(self) -> int:
        return sum(end - (self._consumer.committed(tp) or 0) for tp, end in self._ends.items())

    def close(self) -> None:
        self._consumer.close()


class _Process(Protocol):
    proc: subprocess.Popen[bytes]

    def stop(self) -> int: ...


def _timed(watch: LagWatch, process: _Process, count: int) -> tuple[float, float, int]:
    """Seconds and CPU seconds from the group's first commit to the commit that leaves no lag, and
    the events that window covers: those not yet committed when it opened. (The records read before
    the first commit are not in the window; counting them would inflate the rate of a short run by
    up to a commit interval's worth of events.)"""
    while (lag := watch.lag()) >= count:
        if process.proc.poll() is not None:
            raise RuntimeError(f"exited with {process.proc.returncode}")
        time.sleep(0.05)
    started, cpu = time.monotonic(), _cpu_seconds(process.proc.pid)
    deadline = started + 3600
    while watch.lag() > 0:
        if process.proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"not drained (exit code {process.proc.poll()})")
        time.sleep(0.05)
    return time.monotonic() - started, _cpu_seconds(process.proc.pid) - cpu, lag


class _Reference:
    def __init__(self, deployment: Deployment, group: str, count: int) -> None:
        args = [
            sys.executable,
            "-m",
            "tests.bench_reference",
            deployment.bootstrap,
            deployment.topic,
            group,
            str(count),
        ]
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE)

    def stop(self) -> int:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        return self.proc.wait(timeout=60)


class Run:
    def __init__(self, deployment: Deployment, workdir: Path) -> None:
        self.deployment = deployment
        self.workdir = workdir

    def drain(
        self, name: str, events: Iterator[dict[str, Any]], count: int, inspector: EmulatorInspector
    ) -> dict[str, Any]:
        produced = self.deployment.produce_events(events)
        assert produced == count
        calls_before = sum(inspector.call_counts().values())
        watch = LagWatch(self.deployment, self.deployment.group)
        process = ConnectorProcess(self.deployment, self.workdir / f"{name}.log")
        try:
            # The clock starts at the first commit, so process start-up and the group join are not counted.
            try:
                seconds, cpu, timed = _timed(watch, process, count)
            except RuntimeError as exc:
                raise RuntimeError(f"{exc}: {process.output()[-2000:]}") from None
            rss = _peak_rss_mb(process.proc.pid)
            p50, p99 = _quantiles(process)
        finally:
            process.stop()
            watch.close()
        calls = sum(inspector.call_counts().values()) - calls_before
        return {"scenario": name, "events": count, "seconds": seconds, "events_per_s": timed / seconds,
                "cpu_ms_per_event": 1000 * cpu / timed, "calls_per_event": calls / count, "peak_rss_mb": rss,
                "p50_s": p50, "p99_s": p99}  # fmt: skip

    def reference_group(self) -> str:
        """A group for the reference row that starts where the topic ends now: it reads the events
        produced after this call, as the connector does, and none from before."""
        group = f"bench-ref-{uuid.uuid4().hex[:6]}"
        consumer = KafkaConsumer(bootstrap_servers=self.deployment.bootstrap, group_id=group, enable_auto_commit=False)
        try:
            partitions = [TopicPartition(self.deployment.topic, p) for p in range(self.deployment.partitions)]
            consumer.assign(partitions)
            ends = consumer.end_offsets(partitions)
            consumer.commit({tp: OffsetAndMetadata(end, "", -1) for tp, end in ends.items()})
        finally:
            consumer.close()
        return group

    def reference(self, group: str, count: int) -> dict[str, Any]:
        """The bare Kafka client on the ``count`` events produced since :meth:`reference_group`, timed alike."""
        watch = LagWatch(self.deployment, group)
        process = _Reference(self.deployment, group, count)
        try:
            seconds, cpu, timed = _timed(watch, process, count)
            rss = _peak_rss_mb(process.proc.pid)
        finally:
            process.stop()
            watch.close()
        nan = float("nan")
        return {"scenario": "(ref) bare kafka-python + json", "events": count, "seconds": seconds,
                "events_per_s": timed / seconds, "cpu_ms_per_event": 1000 * cpu / timed, "calls_per_event": 0.0,
                "peak_rss_mb": rss, "p50_s": nan, "p99_s": nan}  # fmt: skip

    def drain_replicated(
        self, name: str, events: Iterator[dict[str, Any]], count: int, inspector: EmulatorInspector, replicas: int
    ) -> dict[str, Any]:
        """Several replicas in one group: they join first, then the events arrive (the clock includes
        producing them, well under a second)."""
        calls_before = sum(inspector.call_counts().values())
        processes = [ConnectorProcess(self.deployment, self.workdir / f"{name}-{i}.log") for i in range(replicas)]
        try:
            deadline = time.monotonic() + 120
            while not all(re.search(r'"partitions": \[\d[^\n]*partitions.assigned', p.output()) for p in processes):
                if time.monotonic() > deadline or any(p.proc.poll() is not None for p in processes):
                    raise RuntimeError("replicas did not all get partitions")
                time.sleep(0.1)
            started, cpu = time.monotonic(), sum(_cpu_seconds(p.proc.pid) for p in processes)
            assert self.deployment.produce_events(events) == count
            wait_drained(self.deployment, processes[0], timeout=3600)
            seconds = time.monotonic() - started
            cpu = sum(_cpu_seconds(p.proc.pid) for p in processes) - cpu
            rss = max(_peak_rss_mb(p.proc.pid) for p in processes)
            p50, p99 = _quantiles(processes[0])
        finally:
            for p in processes:
                p.stop()
        calls = sum(inspector.call_counts().values()) - calls_before
        return {"scenario": name, "events": count, "seconds": seconds, "events_per_s": count / seconds,
                "cpu_ms_per_event": 1000 * cpu / count, "calls_per_event": calls / count, "peak_rss_mb": rss,
                "p50_s": p50, "p99_s": p99}  # fmt: skip


def economy_row(bootstrap: str, redis_url: str, workdir: Path) -> dict[str, Any]:
    """(d): the mixed stream through the real connector process, on an emulator of its own."""
    users = int(os.environ.get("BENCH_ECONOMY_USERS", "2000"))
    count = int(os.environ.get("BENCH_ECONOMY_EVENTS", "20000"))
    events = list(workload(users, count))
    emulator, url, inspector = start_emulator(API_KEY)
    try:
        suffix = uuid.uuid4().hex[:6]
        d = Deployment(bootstrap, redis_url, url, API_KEY, topic=f"bench-economy-{suffix}", group=f"bench-{suffix}",
                       key_prefix=f"bench-{suffix}:")  # fmt: skip
        d.create_topics()
        row = Run(d, workdir).drain("(d) API economy, mixed stream", iter(events), count, inspector)
        by_route = inspector.call_counts()
        calls = sum(by_route.values())
        state = comparable_state(inspector)
    finally:
        emulator.terminate()
        emulator.wait(timeout=10)
    fewest = fewest_calls(events)
    expected = final_state(events)
    wrong = sorted(email for email in expected.keys() | state.keys() if expected.get(email) != state.get(email))
    if wrong:
        print(f"(d) final state differs from the model's for {len(wrong)} contact(s), first {wrong[0]}: "
              f"model {expected.get(wrong[0])}, emulator {state.get(wrong[0])}", file=sys.stderr)  # fmt: skip
    return {**row, "calls": calls, "fewest": fewest, "ratio": calls / fewest, "by_route": by_route,
            "same_state": not wrong}  # fmt: skip


def backfill_row(redis_url: str, workdir: Path) -> dict[str, Any]:
    """(e): a bulk backfill through contact imports, in this process, on an emulator of its own."""
    import io

    import redis

    from connector.ops import run_import_backfill
    from connector.settings import load_settings

    contacts = int(os.environ.get("BENCH_BACKFILL", "100000"))
    path = workdir / "backfill.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in backfill_rows(contacts)))
    emulator, url, inspector = start_emulator(API_KEY)
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        # The unthrottled emulator announces no limit: the harness's cap, as for the other rows (without
        # one the connector would stay at its safe start, 1 request per second; docs/scaling.md, quota share).
        resend = {"base_url": url, "api_key": API_KEY, "max_requests_per_second": 5000}
        settings = load_settings(
            redis={"url": redis_url, "key_prefix": f"bench-{uuid.uuid4().hex[:6]}:"}, resend=resend
        )
        out = io.StringIO()
        started = time.monotonic()
        code = run_import_backfill(settings, path, fmt="jsonl", progress=False, out=out, redis_client=client)
        seconds = time.monotonic() - started
        by_route = inspector.call_counts()
        calls = sum(by_route.values())
        loaded = len(inspector.contacts())
    finally:
        client.close()
        emulator.terminate()
        emulator.wait(timeout=10)
    if code != 0 or loaded != contacts:
        raise RuntimeError(f"backfill ended {code} with {loaded} of {contacts} contacts:\n{out.getvalue()[-2000:]}")
    return {"scenario": "(e) backfill via imports, 5 sets", "events": contacts, "seconds": seconds, "calls": calls,
            "calls_per_1000": 1000 * calls / contacts, "by_route": by_route}  # fmt: skip


def main() -> int:
    bootstrap, redis_url = os.environ["KAFKA_BOOTSTRAP_SERVERS"], os.environ["REDIS_URL"]
    selected = set(os.environ.get("BENCH_ROWS", "a,b,b2,ref,c,d,e,f,g,h").replace(" ", "").split(","))
    no_call = int(os.environ.get("BENCH_NO_CALL", "400000"))
    one_call = int(os.environ.get("BENCH_ONE_CALL", "5000"))
    backlog = int(os.environ.get("BENCH_BACKLOG", "1000000"))
    replicas = int(os.environ.get("BENCH_REPLICAS", "2"))
    emulator, url, inspector = start_emulator(API_KEY)
    rows = []
    economy: list[dict[str, Any]] = []
    quota: list[dict[str, Any]] = []
    express: list[dict[str, Any]] = []
    merging: list[dict[str, Any]] = []
    try:
        workdir = Path(tempfile.mkdtemp(prefix="bench-"))
        users = min(one_call, 1000)

        def deployment(name: str) -> Deployment:
            suffix = uuid.uuid4().hex[:6]
            d = Deployment(bootstrap, redis_url, url, API_KEY, topic=f"bench-{name}-{suffix}", group=f"bench-{suffix}",
                           key_prefix=f"bench-{suffix}:")  # fmt: skip
            if "BENCH_IN_FLIGHT" in os.environ:  # the connector's kafka.max_in_flight_contacts
                d.extra_env["RESEND_CONNECTOR_KAFKA__MAX_IN_FLIGHT_CONTACTS"] = os.environ["BENCH_IN_FLIGHT"]
            if os.environ.get("BENCH_EXPRESS") == "0":  # the connector without its express path (#25)
                d.extra_env["RESEND_CONNECTOR_KAFKA__EXPRESS"] = "false"
            if os.environ.get("BENCH_MERGE") == "0":  # one event at a time (#25): (b) as before merging
                d.extra_env["RESEND_CONNECTOR_KAFKA__MERGE_WAITING"] = "false"
            if "BENCH_LOG_EVENT_OUTCOMES" in os.environ:  # the connector's log_event_outcomes (true: a line per event)
                d.extra_env["RESEND_CONNECTOR_LOG_EVENT_OUTCOMES"] = os.environ["BENCH_LOG_EVENT_OUTCOMES"]
            d.create_topics()
            return d

        # (b) identifies that need one call each: users are created first (not measured), then updated.
        d = deployment("one-call")
        run = Run(d, workdir)
        if selected & {"a", "b", "b2"}:
            run.drain("warm-up (creates contacts)", (_identify(i, 0) for i in range(users)), users, inspector)
        if "b" in selected:
            updates = (_identify(i % users, 1 + i // users) for i in range(one_call))
            rows.append(run.drain("(b) identify, 1 call each", updates, one_call, inspector))
        # The same with two replicas in the group (how the connector scales out past one core).
        if replicas > 1 and "b2" in selected:
            updates = (_identify(i % users, 1000 + i // users) for i in range(one_call))
            rows.append(run.drain_replicated(f"(b) {replicas} replicas", updates, one_call, inspector, replicas))
        # (a) events that need no Resend call, for the same known users; (ref) the bare client on them.
        if selected & {"a", "ref"}:
            no_calls = (_no_call(i, users) for i in range(no_call))
            reference_group = run.reference_group()
            if "a" in selected:
                rows.append(run.drain("(a) no call needed", no_calls, no_call, inspector))
            else:
                assert d.produce_events(no_calls) == no_call
            if "ref" in selected:
                rows.append(run.reference(reference_group, no_call))
        # (c) a large backlog of (a)-type events: memory stays bounded while draining.
        if backlog and "c" in selected:
            d2 = deployment("backlog")
            backlog_events = (_no_call(i, users) for i in range(backlog))
            rows.append(Run(d2, workdir).drain("(c) backlog drain", backlog_events, backlog, inspector))
        if "d" in selected:
            economy.append(economy_row(bootstrap, redis_url, workdir))
        if "e" in selected:
            economy.append(backfill_row(redis_url, workdir))
        if "f" in selected:
            quota.extend(quota_rows(bootstrap, redis_url, workdir))
        if "g" in selected:
            merging = merge_rows(bootstrap, redis_url, workdir)
        if "h" in selected:
            express = express_rows(bootstrap, redis_url, workdir)
    finally:
        emulator.terminate()
        emulator.wait(timeout=10)
    _print_rows(rows)
    _print_economy(economy)
    print_quota(quota)
    print_merge(merging)
    print_express(express)
    print(json.dumps(rows + economy + quota + merging + express), file=sys.stderr)
    return 0


def _print_economy(rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    columns = ("events", "seconds", "calls", "fewest", "ratio", "calls/1k", "state ok")
    header = f"{'economy scenario':36} " + " ".join(f"{c:>9}" for c in columns)
    print("\n" + header)
    print("-" * len(header))
    for r in rows:
        fewest = f"{r['fewest']:>9}" if "fewest" in r else f"{'':>9}"
        ratio = f"{r['ratio']:>9.3f}" if "ratio" in r else f"{'':>9}"
        per_1k = f"{r['calls_per_1000']:>9.2f}" if "calls_per_1000" in r else f"{'':>9}"
        same = f"{r['same_state']!s:>9}" if "same_state" in r else f"{'':>9}"
        print(
            f"{r['scenario']:36} {r['events']:>9} {r['seconds']:>9.1f} {r['calls']:>9} {fewest} {ratio} {per_1k} {same}"
        )


def _print_rows(rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    reference = next((r["events_per_s"] for r in rows if r["scenario"].startswith("(ref)")), None)
    for r in rows:
        if reference and r["scenario"][:3] in ("(a)", "(c)"):
            r["ratio_to_ref"] = r["events_per_s"] / reference
    columns = ("events", "seconds", "events/s", "CPU ms/ev", "calls/ev", "RSS MB", "p50 s", "p99 s", "x ref")
    header = f"{'scenario':32} " + " ".join(f"{c:>9}" for c in columns)
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r['scenario']:32} {r['events']:>9} {r['seconds']:>9.1f} {r['events_per_s']:>9.0f} "
            f"{r['cpu_ms_per_event']:>9.3f} {r['calls_per_event']:>9.2f} {r['peak_rss_mb']:>9.0f} "
            f"{r['p50_s']:>9.3f} {r['p99_s']:>9.3f} "
            + (f"{r['ratio_to_ref']:>9.2f}" if "ratio_to_ref" in r else f"{'':>9}")
        )


if __name__ == "__main__":
    sys.exit(main())
