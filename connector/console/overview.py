"""Overview: the replicas (state, partitions, lag, pause, recent errors), events and Resend calls per
second (from each replica's Prometheus counters, between two views of this page), dead letters by
stage and reason, and the Resume action that ends a quota or key pause on every replica."""

from __future__ import annotations

import time
from typing import Any

from prometheus_client.parser import text_string_to_metric_families
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from connector.console import topics
from connector.console.backend import Backend, replica_get
from connector.console.web import action, backend_of, operator_of, render
from connector.pipeline.pause import request_resume

__all__ = ["overview_page", "resume"]

_COUNTERS = {"connector_events": ("type", "outcome"), "connector_resend_calls": ("route", "status")}


_RESUMED = "Resume requested: paused replicas try Resend again within a second."


def _counters(urls: list[str]) -> dict[str, dict[str, float]]:
    """Summed over replicas: events by outcome, Resend calls by status class."""
    totals: dict[str, dict[str, float]] = {"events": {}, "calls": {}}
    for url in urls:
        try:
            text = replica_get(url.removesuffix("/status") + "/metrics").decode("utf-8", "replace")
        except (OSError, ValueError):
            continue
        for family in text_string_to_metric_families(text):
            if family.name not in _COUNTERS:
                continue
            for sample in family.samples:
                if not sample.name.endswith("_total"):
                    continue
                if family.name == "connector_events":
                    bucket, label = totals["events"], sample.labels.get("outcome", "?")
                else:
                    bucket, label = totals["calls"], sample.labels.get("status", "?")[:1] + "xx"
                bucket[label] = bucket.get(label, 0.0) + sample.value
    return totals


def _rates(backend: Backend, totals: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    """Per second since the previous view of the page (none on the first)."""
    now = time.monotonic()
    previous, backend.last_counters = backend.last_counters, (now, totals)
    if previous is None or now - previous[0] < 0.5:
        return {}
    seconds = now - previous[0]
    return {kind: {label: max(0.0, (value - previous[1].get(kind, {}).get(label, 0.0)) / seconds)
                   for label, value in values.items()} for kind, values in totals.items()}  # fmt: skip


def _overview(backend: Backend) -> dict[str, Any]:
    replicas = backend.replica_status()
    totals = _counters([r["url"] for r in replicas if r.get("state") != "unreachable"])
    kafka = backend.settings.kafka
    problem: str | None = None
    try:
        _, counts = topics.read_letters(kafka, kafka.dead_letter_topic, newest=500)
    except Exception as exc:  # noqa: BLE001 - the page still shows the rest
        counts, problem = topics.LetterCounts(), type(exc).__name__
    failed = int(backend.redis.zcard(backend.store.key("index", "failed")))
    return {"replicas": replicas, "totals": totals, "rates": _rates(backend, totals), "letters": counts,
            "letters_problem": problem, "failed": failed}  # fmt: skip


async def overview_page(request: Request) -> Response:
    operator_of(request)
    found = await run_in_threadpool(_overview, backend_of(request))
    note = _RESUMED if "resumed" in request.query_params else None
    return render(request, "overview.html", note=note, **found)


async def resume(request: Request) -> Response:
    operator, _ = await action(request)
    backend = backend_of(request)
    await run_in_threadpool(request_resume, backend.redis, backend.settings.redis.key_prefix)
    backend.audit(operator, "resume")
    return RedirectResponse("/?resumed=1", status_code=303)
