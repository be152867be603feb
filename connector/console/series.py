"""The Overview's charts over time: a small series the console keeps in Redis.

The connector keeps counters (each replica's Prometheus ``/metrics``), not their history; the
console samples them every ``SAMPLE_SECONDS`` while it runs (a thread, :class:`Sampler`) and keeps
the last hour in one Redis hash under the key prefix, ``<prefix>console:series``: a field per
10-second slot, a JSON sample of the totals summed over replicas (events by outcome, Resend calls by
status class, dead letters by stage) and the request rate the shared limit enforces. About 250
bytes a sample, ``KEEP`` samples: under 100 kB. Two consoles write the same slot (the same totals),
not two. The hash expires an hour after the last sample. Rates are differences between consecutive
samples; a counter that went down (a replica restarted) counts as 0 for that step.
"""

from __future__ import annotations

import json
import threading
import time
from itertools import pairwise
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from connector.console.backend import Backend, replica_get
from connector.logs import get_logger
from connector.redisio import REDIS_ERRORS

__all__ = ["KEEP", "SAMPLE_SECONDS", "Sampler", "counters", "rates", "read", "record", "sample"]

log = get_logger(__name__)

SAMPLE_SECONDS = 10
KEEP = 360  # an hour of samples
_COUNTERS = {"connector_events": "events", "connector_resend_calls": "calls", "connector_dead_letters": "dead"}
_LABEL = {"events": "outcome", "calls": "status", "dead": "stage"}


def counters(urls: list[str]) -> dict[str, dict[str, float]]:
    """Summed over replicas: events by outcome, Resend calls by status class, dead letters by stage."""
    totals: dict[str, dict[str, float]] = {"events": {}, "calls": {}, "dead": {}}
    for url in urls:
        try:
            text = replica_get(url.removesuffix("/status") + "/metrics").decode("utf-8", "replace")
        except (OSError, ValueError):
            continue
        for family in text_string_to_metric_families(text):
            kind = _COUNTERS.get(family.name)
            if kind is None:
                continue
            for item in family.samples:
                if not item.name.endswith("_total"):
                    continue
                label = item.labels.get(_LABEL[kind], "?")
                label = label[:1] + "xx" if kind == "calls" else label
                totals[kind][label] = totals[kind].get(label, 0.0) + item.value
    return totals


def sample(backend: Backend, replicas: list[dict[str, Any]] | None = None,
           totals: dict[str, dict[str, float]] | None = None) -> dict[str, Any]:  # fmt: skip
    """Now: the replicas' totals and the rate their shared limit enforces (as they report it in
    /status; the console's own reading without one: its resend settings may differ)."""
    replicas = backend.replica_status() if replicas is None else replicas
    if totals is None:
        totals = counters([r["url"] for r in replicas if r.get("state") != "unreachable"])
    rates = [r["rate_limit"].get("requests_per_second") for r in replicas if isinstance(r.get("rate_limit"), dict)]
    known = [float(rate) for rate in rates if isinstance(rate, int | float)]
    quota = max(known) if known else (backend.resend.rate_limit() or {}).get("requests_per_second")
    return {"t": time.time(), **totals, "quota": quota}


def _key(backend: Backend) -> str:
    return backend.store.key("console", "series")


def record(backend: Backend, taken: dict[str, Any]) -> None:
    key = _key(backend)
    slot = int(taken["t"] // SAMPLE_SECONDS)
    pipe = backend.redis.pipeline(transaction=False)
    pipe.hset(key, str(slot), json.dumps(taken, separators=(",", ":")))
    pipe.expire(key, KEEP * SAMPLE_SECONDS)
    pipe.hkeys(key)
    slots = pipe.execute()[2]
    old = [s for s in slots if int(s) <= slot - KEEP]
    if old:
        backend.redis.hdel(key, *old)


def read(backend: Backend) -> list[dict[str, Any]]:
    """The samples kept, oldest first."""
    found = backend.redis.hgetall(_key(backend)) or {}
    samples = []
    for _, raw in sorted(found.items(), key=lambda item: int(item[0])):
        try:
            samples.append(json.loads(raw))
        except ValueError:
            continue
    return samples


def rates(samples: list[dict[str, Any]]) -> dict[str, dict[str, list[tuple[float, float]]]]:
    """Per kind and label, ``[(t, per second)]`` between consecutive samples; ``quota``: the limit."""
    found: dict[str, dict[str, list[tuple[float, float]]]] = {"events": {}, "calls": {}, "dead": {}, "quota": {}}
    for before, after in pairwise(samples):
        seconds = float(after["t"]) - float(before["t"])
        if seconds <= 0 or seconds > 3 * SAMPLE_SECONDS:
            continue  # a gap (no console ran): no step drawn across it
        for kind in ("events", "calls", "dead"):
            labels = set(after.get(kind) or {}) | set(before.get(kind) or {})
            for label in labels:
                step = (after.get(kind) or {}).get(label, 0.0) - (before.get(kind) or {}).get(label, 0.0)
                found[kind].setdefault(label, []).append((float(after["t"]), max(0.0, step) / seconds))
        if after.get("quota") is not None:
            found["quota"].setdefault("limit in force", []).append((float(after["t"]), float(after["quota"])))
    return found


class Sampler:
    """Samples every ``SAMPLE_SECONDS`` on a daemon thread until :meth:`stop`; best effort (a
    replica or Redis that does not answer costs that sample only)."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="console-series", daemon=True)

    def start(self) -> Sampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                record(self._backend, sample(self._backend))
            except REDIS_ERRORS as exc:
                log.debug("console.series_not_written", error=type(exc).__name__)
            except Exception as exc:  # noqa: BLE001 - never end the thread; the chart shows the gap
                log.warning("console.series_failed", error=type(exc).__name__)
            self._stop.wait(SAMPLE_SECONDS - time.time() % SAMPLE_SECONDS)
