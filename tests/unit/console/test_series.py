"""The Overview's charts: the console's bounded series in Redis, rates between samples, and the SVG."""

from __future__ import annotations

import re
from types import SimpleNamespace
from typing import Any

import fakeredis

from connector.console import series
from connector.console.charts import bar_chart, line_chart
from connector.console.web import _templates
from connector.state import StateStore


def backend() -> Any:
    redis = fakeredis.FakeRedis(decode_responses=True)
    store = StateStore(redis, prefix="t:", user_ttl_seconds=60, refused_ttl_seconds=60, fields_ttl_seconds=60)
    return SimpleNamespace(redis=redis, store=store)


def at(t: float, applied: float, calls: float, dead: float = 0.0, quota: float | None = 8.0) -> dict[str, Any]:
    return {
        "t": t,
        "events": {"applied": applied},
        "calls": {"2xx": calls},
        "dead": {"transform": dead},
        "quota": quota,
    }


def test_samples_are_kept_one_per_slot_for_an_hour_under_the_prefix() -> None:
    b = backend()
    start = 1_000_000.0
    for n in range(series.KEEP + 20):
        series.record(b, at(start + n * series.SAMPLE_SECONDS, n, n))
    series.record(b, at(start + (series.KEEP + 19) * series.SAMPLE_SECONDS + 1, 0, 0))  # same slot: replaced
    kept = series.read(b)
    assert len(kept) == series.KEEP  # bounded: the oldest slots are dropped
    assert kept[0]["t"] == start + 20 * series.SAMPLE_SECONDS
    assert b.redis.keys("*") == ["t:console:series"]
    assert 0 < b.redis.ttl("t:console:series") <= series.KEEP * series.SAMPLE_SECONDS


def test_rates_are_steps_between_samples_without_negative_steps_or_steps_over_gaps() -> None:
    samples = [at(0, 0, 0), at(10, 50, 20, 1), at(20, 10, 40, 1), at(200, 20, 50, 1)]  # restart, then a gap
    steps = series.rates(samples)
    assert steps["events"]["applied"] == [(10.0, 5.0), (20.0, 0.0)]
    assert steps["calls"]["2xx"] == [(10.0, 2.0), (20.0, 2.0)]
    assert steps["dead"]["transform"] == [(10.0, 0.1), (20.0, 0.0)]
    assert steps["quota"]["limit in force"] == [(10.0, 8.0), (20.0, 8.0)]


def test_charts_render_as_inline_svg_with_escaped_labels() -> None:
    lines = line_chart("Calls", "/s", {"<b>x</b>": [(0.0, 1.0), (10.0, 3.0)]}, [(0.0, 8.0), (10.0, 8.0)])
    assert lines.top == 10.0
    assert lines.lines[0].points == "44.0,128.6 554.0,101.8"  # 1/s and 3/s of 10/s over a 134-pixel plot
    assert lines.lines[1].css == "limit"
    bars = bar_chart("Dead letters", "", {"2026-12-05 13:00": 2, "2026-12-05 14:00": 5})
    assert [bar.value for bar in bars.bars] == [2, 5]
    html = _templates.from_string('{% from "chart.html" import chart %}{{ chart(a, "a") }}{{ chart(b, "b") }}').render(
        a=lines, b=bars
    )
    assert html.count("<svg") == 2
    assert "&lt;b&gt;x&lt;/b&gt;" in html
    assert "<b>" not in html
    assert not re.search(r"<script|style=|on\w+=", html)  # nothing the CSP would refuse
    empty = _templates.from_string('{% from "chart.html" import chart %}{{ chart(c, "c") }}').render(
        c=line_chart("Events", "/s", {})
    )
    assert "No data yet" in empty


def test_the_limit_in_force_is_the_replicas_own_and_the_consoles_only_without_them() -> None:
    b = backend()
    b.resend = SimpleNamespace(rate_limit=lambda: {"requests_per_second": 500.0})  # the console's own settings
    replicas = [{"url": "http://r1/status", "rate_limit": {"requests_per_second": 4.0}},
                {"url": "http://r2/status", "state": "unreachable"}]  # fmt: skip
    totals = {"events": {}, "calls": {}, "dead": {}}
    assert series.sample(b, replicas, totals)["quota"] == 4.0
    assert series.sample(b, [], totals)["quota"] == 500.0
