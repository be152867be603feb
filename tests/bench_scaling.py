"""``make bench-scaling``: one replica against two in one consumer group, on this machine (issue #27).

Two kinds of events, as tests/bench.py makes them: tracks that need no Resend call, and identifies of
known contacts that need one call each (``destination.skip_unchanged_seconds: 0``, so an identify read
again by a later run is sent again). Each topic (4 partitions) is filled once, in a niced child
process; each run is a new consumer group reading it from the start with 1 or 2 replicas started
together. The clock starts at the group's first commit once it is stable (every replica's last
assignment logged, together covering the partitions once), at the committed lag then, and stops at
the commit that leaves no lag, watched through one long-lived client (tests/bench.py's LagWatch):
events/s = that lag / the time.
The records read before the group was stable are not counted (a replica started alone reads them).

Over each window it also takes the CPU seconds of the replicas, the emulator, redis-server and the
Kafka broker, and of the whole machine (/proc/stat), so what bounds a row shows: the 2 cores (busy),
one of the parts, or other work on the machine ("others" = machine busy time not ours).

Sizes: SCALING_NO_CALL (600,000 events), SCALING_ONE_CALL (8,000 identifies over 1,000 people),
SCALING_REPEATS (3; runs alternate 1, 2, 1, 2 ... replicas so load on the machine spreads over both).
Prints a table and one JSON line on stderr. Not part of ``make test``.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import re
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import redis

from tests.bench import LagWatch, _cpu_seconds, _identify, _no_call
from tests.harness import ConnectorProcess, Deployment, start_emulator, wait_drained

_ASSIGNED = re.compile(
    r'"partitions": \[([\d, ]*)\][^\n]*partitions\.assigned|partitions\.assigned[^\n]*"partitions": \[([\d, ]*)\]'
)


def _machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot (all cores)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    tick = os.sysconf("SC_CLK_TCK")
    return (sum(fields[:8]) - idle) / tick, sum(fields[:8]) / tick


def _servers(redis_url: str) -> dict[str, int]:
    """Pids of redis-server and the Kafka broker that ``connector.local exec`` started for this run."""
    client = redis.Redis.from_url(redis_url)
    pids = {"redis": int(client.info("server")["process_id"])}
    client.close()
    parent = os.getppid()
    for child in Path(f"/proc/{parent}/task/{parent}/children").read_text().split():
        if b"java" in Path(f"/proc/{child}/cmdline").read_bytes():
            pids["kafka"] = int(child)
    return pids


def _last_assignment(process: ConnectorProcess) -> set[int] | None:
    found = _ASSIGNED.findall(process.output())
    if not found:
        return None
    text = found[-1][0] or found[-1][1]
    return {int(p) for p in text.replace(" ", "").split(",") if p}


def _stable(processes: list[ConnectorProcess], partitions: int) -> bool:
    held = [_last_assignment(p) for p in processes]
    if any(not h for h in held):
        return False
    union: set[int] = set().union(*held)  # type: ignore[arg-type]
    return len(union) == partitions and sum(len(h) for h in held if h) == partitions


def _produce(deployment: Deployment, kind: str, count: int, users: int) -> None:
    os.nice(10)  # not the measured thing
    if kind == "no-call":
        events = (_no_call(i, users) for i in range(count))
    else:
        events = (_identify(i % users, 1 + i // users) for i in range(count))
    assert deployment.produce_events(events) == count


def _filled(deployment: Deployment, kind: str, count: int, users: int) -> None:
    child = multiprocessing.get_context("fork").Process(target=_produce, args=(deployment, kind, count, users))
    child.start()
    child.join()
    if child.exitcode != 0:
        raise RuntimeError(f"producing {kind} events failed")


def _run(base: Deployment, replicas: int, workdir: Path, others: dict[str, int], inspector: Any) -> dict[str, Any]:
    d = replace(base, group=f"scale-{uuid.uuid4().hex[:6]}")
    calls = sum(inspector.call_counts().values())
    processes = [ConnectorProcess(d, workdir / f"{d.group}-{i}.log") for i in range(replicas)]
    watch = LagWatch(d, d.group)
    total = sum(watch._ends.values())
    try:
        deadline = time.monotonic() + 120
        while not _stable(processes, d.partitions):
            if time.monotonic() > deadline or any(p.proc.poll() is not None for p in processes):
                raise RuntimeError(f"the group did not settle: {processes[0].output()[-1500:]}")
            time.sleep(0.02)
        pids = {**{f"replica {i}": p.proc.pid for i, p in enumerate(processes)}, **others}
        settled = watch.lag()
        while (lag := watch.lag()) == settled:  # the clock starts at a commit, as it stops at one
            time.sleep(0.02)
        started, cpu, machine = time.monotonic(), {k: _cpu_seconds(v) for k, v in pids.items()}, _machine_busy()
        while watch.lag() > 0:
            if any(p.proc.poll() is not None for p in processes) or time.monotonic() - started > 1800:
                raise RuntimeError("not drained")
            time.sleep(0.05)
        seconds = time.monotonic() - started
        used = {k: (_cpu_seconds(v) - cpu[k]) / seconds for k, v in pids.items()}
        busy, all_ = (b - a for a, b in zip(machine, _machine_busy(), strict=True))
    finally:
        for p in processes:
            p.stop()
        watch.close()
    replicas_cpu = sum(v for k, v in used.items() if k.startswith("replica"))
    return {"replicas": replicas, "events": lag, "read_before_window": total - lag, "seconds": seconds,
            "events_per_s": lag / seconds, "calls_per_event": (sum(inspector.call_counts().values()) - calls) / total,
            "cores_replicas": replicas_cpu, "cores": {k: v for k, v in used.items() if not k.startswith("replica")},
            "cores_machine_busy": busy / seconds, "cores_machine": all_ / seconds,
            "cores_others": busy / seconds - sum(used.values()), "load": os.getloadavg()}  # fmt: skip


def main() -> int:
    bootstrap, redis_url = os.environ["KAFKA_BOOTSTRAP_SERVERS"], os.environ["REDIS_URL"]
    no_call = int(os.environ.get("SCALING_NO_CALL", "600000"))
    one_call = int(os.environ.get("SCALING_ONE_CALL", "8000"))
    repeats = int(os.environ.get("SCALING_REPEATS", "3"))
    users = 1000
    workdir = Path(tempfile.mkdtemp(prefix="bench-scaling-"))
    from tests.bench import API_KEY

    emulator, url, inspector = start_emulator(API_KEY)

    others = {"emulator": emulator.pid, **_servers(redis_url)}
    prefix = f"scale-{uuid.uuid4().hex[:6]}:"
    rows: list[dict[str, Any]] = []
    try:

        def deployment(name: str, **env: str) -> Deployment:
            d = Deployment(bootstrap, redis_url, url, API_KEY, topic=f"scale-{name}-{uuid.uuid4().hex[:6]}",
                           group=f"scale-{name}", key_prefix=prefix, extra_env=dict(env))  # fmt: skip
            d.create_topics()
            return d

        warm = deployment("warm-up")  # the people the identifies update exist first
        _filled(warm, "identify", users, users)
        process = ConnectorProcess(warm, workdir / "warm-up.log")
        wait_drained(warm, process, timeout=600)
        process.stop()
        always_send = {"RESEND_CONNECTOR_DESTINATION__SKIP_UNCHANGED_SECONDS": "0"}
        kinds = {
            "no-call": (deployment("no-call"), no_call),
            "identify": (deployment("identify", **always_send), one_call),
        }
        for kind, (d, count) in kinds.items():
            _filled(d, kind, count, users)
            for _ in range(repeats):
                for replicas in (1, 2):
                    rows.append({"kind": kind, **_run(d, replicas, workdir, others, inspector)})
                    print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    finally:
        emulator.terminate()
        emulator.wait(timeout=10)
    _print(rows)
    print(json.dumps(rows), file=sys.stderr)
    return 0


def _print(rows: list[dict[str, Any]]) -> None:
    columns = ("replicas", "events", "events/s", "calls/ev", "CPU ms/ev", "replicas", "emulator", "redis", "kafka",
               "others", "machine", "load 1m")  # fmt: skip
    print(f"{'kind':9} " + " ".join(f"{c:>9}" for c in columns))
    print(f"{'':60} cores used over the window (of 2); CPU ms/ev: the replicas'")
    for r in rows:
        c = r["cores"]
        values = (r["cores_replicas"], c.get("emulator", 0.0), c.get("redis", 0.0), c.get("kafka", 0.0),
                  r["cores_others"], r["cores_machine_busy"])  # fmt: skip
        head = (
            f"{r['kind']:9} {r['replicas']:>9} {r['events']:>9} {r['events_per_s']:>9.0f} {r['calls_per_event']:>9.2f}"
        )
        head += f" {1000 * r['cores_replicas'] / r['events_per_s']:>9.3f}"
        print(head + "".join(f" {v:>9.2f}" for v in values) + f" {r['load'][0]:>9.1f}")
    for kind in dict.fromkeys(r["kind"] for r in rows):
        rates = {n: [r["events_per_s"] for r in rows if r["kind"] == kind and r["replicas"] == n] for n in (1, 2)}
        if rates[1] and rates[2]:
            one, two = statistics.median(rates[1]), statistics.median(rates[2])
            spread = ", ".join(f"{n} replica(s) {min(v):,.0f}-{max(v):,.0f}" for n, v in rates.items())
            print(f"{kind}: median {one:,.0f} -> {two:,.0f} events/s ({two / one:.2f}x); {spread}")


if __name__ == "__main__":
    sys.exit(main())
