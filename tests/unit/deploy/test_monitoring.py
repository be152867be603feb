"""The dashboard and alert rules in deploy/monitoring name only metrics (and labels) the code exports."""

from __future__ import annotations

import json
import re
from pathlib import Path

import fakeredis
import yaml
from prometheus_client.metrics_core import Metric

from connector.pipeline.metrics import Metrics
from connector.resend.ratelimit import RateLimiter

MONITORING = Path(__file__).resolve().parents[3] / "deploy" / "monitoring"
_SERIES = re.compile(r"\b(connector_[a-z_]+)(\{[^}]*\})?")
_MATCHER = re.compile(r"(\w+)\s*(?:=~|!~|!=|=)")
_GROUPING = re.compile(r"\b(?:by|without)\s*\(([^)]*)\)")
_SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}


def in_force() -> dict[str, float | None]:
    """What the shared rate limit reports at a scrape (the measures of connector_resend_quota)."""
    return RateLimiter(fakeredis.FakeRedis(), team="t", prefix="p:", cap=4.0).in_force()


def exported() -> dict[str, set[str]]:
    """Every series name the metrics module exports (as ``run`` wires it, with the quota) -> its label
    names (le for histogram buckets)."""
    series: dict[str, set[str]] = {}
    metrics = Metrics(quota=in_force)
    families: list[Metric] = list(metrics.registry.collect())
    collectors = {c._name: c for c in metrics.registry._names_to_collectors.values() if hasattr(c, "_name")}  # type: ignore[attr-defined]
    for family in families:
        labels = set(getattr(collectors.get(family.name), "_labelnames", ()))
        labels |= {label for sample in family.samples for label in sample.labels}  # a collector's own
        for suffix in _SUFFIXES[family.type]:
            series[family.name + suffix] = labels | ({"le"} if suffix == "_bucket" else set())
    return series


def expressions() -> list[str]:
    rules = yaml.safe_load((MONITORING / "alerts.yaml").read_text())
    found = [rule["expr"] for group in rules["groups"] for rule in group["rules"]]
    dashboard = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    found += [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    return found


def test_every_metric_the_dashboard_and_alerts_name_exists_with_its_labels() -> None:
    series = exported()
    unknown: list[str] = []
    for expr in expressions():
        names = [match.group(1) for match in _SERIES.finditer(expr)]
        assert names, expr
        allowed = set().union(*(series.get(name, set()) for name in names))
        unknown += [f"{name} in {expr}" for name in names if name not in series]
        for match in _SERIES.finditer(expr):
            unknown += [f"label {label} in {expr}" for label in _MATCHER.findall(match.group(2) or "")
                        if label not in series.get(match.group(1), set())]  # fmt: skip
        for group in _GROUPING.findall(expr):
            unknown += [f"label {label} in {expr}" for label in re.findall(r"\w+", group) if label not in allowed]
    assert unknown == []


def test_the_alerts_cover_pauses_dead_letters_lag_429s_and_retries() -> None:
    joined = "\n".join(expressions()[:5])
    for metric in ("connector_paused", "connector_dead_letters_total", "connector_consumer_lag",
                   'connector_resend_calls_total{status="429"}', "connector_retries_total"):  # fmt: skip
        assert metric in joined


def test_the_check_can_fail() -> None:
    series = exported()
    assert "connector_events_total" in series
    assert "connector_events" not in series  # a counter is scraped with its _total
    assert series["connector_retries_total"] == {"reason", "scope"}


def test_the_dashboard_shows_the_quota_follower_and_the_express_path() -> None:
    dashboard = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    joined = "\n".join(target["expr"] for panel in dashboard["panels"] for target in panel["targets"])
    for measure in in_force():  # announced, share, cap, other traffic, in force: every one on a panel
        assert f'connector_resend_quota{{measure="{measure}"}}' in joined
    assert set(re.findall(r'measure="(\w+)"', joined)) <= set(in_force())  # no measure the code does not report
    for metric in ("connector_express_events_total", "connector_consent_kept_total"):
        assert metric in joined
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))


def test_a_quota_measure_the_code_does_not_report_fails_the_check() -> None:
    series = exported()
    assert series["connector_resend_quota"] == {"measure"}
    assert "connector_resend_quota_total" not in series
