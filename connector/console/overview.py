"""Overview: the replicas (state, partitions, lag, pause, recent errors), events and Resend calls per
second (from each replica's Prometheus counters, between two views of this page, and charted over
the last hour from the console's series, series.py), dead letters by stage and reason and over time,
the contacts whose last sync failed with a search box, and the Resume action that ends a quota or
key pause on every replica."""

from __future__ import annotations

import time
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from connector.console import series, topics
from connector.console.backend import Backend
from connector.console.charts import Chart, bar_chart, line_chart
from connector.console.web import action, backend_of, operator_of, render
from connector.pipeline.pause import request_resume
from connector.redisio import REDIS_ERRORS

__all__ = ["overview_page", "resume"]

_RESUMED = "Resume requested: paused replicas try Resend again within a second."


def _rates(backend: Backend, totals: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    """Per second since the previous view of the page (none on the first)."""
    now = time.monotonic()
    previous, backend.last_counters = backend.last_counters, (now, totals)
    if previous is None or now - previous[0] < 0.5:
        return {}
    seconds = now - previous[0]
    return {kind: {label: max(0.0, (value - previous[1].get(kind, {}).get(label, 0.0)) / seconds)
                   for label, value in values.items()} for kind, values in totals.items()}  # fmt: skip


def _charts(backend: Backend, replicas: list[dict[str, Any]], totals: dict[str, dict[str, float]],
            by_hour: dict[str, int]) -> list[Chart]:  # fmt: skip
    """The last hour from the console's series (series.py), this view's sample included; dead
    letters per hour from the dead-letter topic itself."""
    try:
        series.record(backend, series.sample(backend, replicas, totals))
        steps = series.rates(series.read(backend))
    except REDIS_ERRORS:
        steps = series.rates([])
    return [
        line_chart("Events per second by outcome", "/s", steps["events"]),
        line_chart(
            "Resend calls per second by status, and the limit in force",
            "/s",
            steps["calls"],
            steps["quota"].get("limit in force"),
        ),
        line_chart("Dead-lettered per second by stage", "/s", steps["dead"]),
        bar_chart("Dead letters per hour (UTC; the newest 500 records)", "", by_hour),
    ]


def _overview(backend: Backend) -> dict[str, Any]:
    replicas = backend.replica_status()
    totals = series.counters([r["url"] for r in replicas if r.get("state") != "unreachable"])
    kafka = backend.settings.kafka
    problem: str | None = None
    try:
        _, counts = topics.read_letters(kafka, kafka.dead_letter_topic, newest=500)
    except Exception as exc:  # noqa: BLE001 - the page still shows the rest
        counts, problem = topics.LetterCounts(), type(exc).__name__
    failed = int(backend.redis.zcard(backend.store.key("index", "failed")))
    failing = [backend.store.sync_record(email) for email in backend.store.emails_failed(10)]
    return {"replicas": replicas, "totals": totals, "rates": _rates(backend, totals), "letters": counts,
            "letters_problem": problem, "failed": failed, "failing": failing,
            "charts": _charts(backend, replicas, totals, dict(counts.by_hour))}  # fmt: skip


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
