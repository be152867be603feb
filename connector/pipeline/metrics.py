"""Prometheus metrics and the health endpoints, served on one port.

``/metrics`` is Prometheus text; ``/healthz`` answers 200 while the run loop turns (a loop stuck for
longer than ``stall_seconds`` answers 503); ``/readyz`` answers 200 once the consumer has an
assignment and is not paused for quota or key problems; ``/status`` is JSON (pipeline/status.py).

Label values come from fixed sets, so a producer cannot grow the number of series: an event type
outside the Segment spec's counts as ``other``.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from connector.pipeline.latency import LatencyHistogram
from connector.pipeline.status import StatusBoard

__all__ = ["EVENT_TYPES", "Metrics"]

# The Segment spec's types, plus "none" (a transformation dropped the event) and "unknown" (a record
# dead-lettered before it decoded). Anything else is "other".
EVENT_TYPES = frozenset({"identify", "track", "page", "screen", "group", "alias", "none", "unknown"})


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None, *, status: StatusBoard | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.events = Counter("connector_events", "Events by type and outcome", ["type", "outcome"], registry=r)
        self.resend_calls = Counter(
            "connector_resend_calls", "Resend calls by route and status", ["route", "status"], registry=r
        )
        # scope "request": one HTTP call sent again inside the Resend client; "record": a whole record
        # put back in line for later (after the client gave up, or Redis or Kafka failed).
        self.retries = Counter(
            "connector_retries", "Attempts made again, by error class", ["reason", "scope"], registry=r
        )
        self.pauses = Counter("connector_pauses", "Times consumption stopped", ["reason"], registry=r)
        self.paused = Gauge("connector_paused", "1 while consumption is stopped by a pause error", registry=r)
        self.dead_letters = Counter("connector_dead_letters", "Records dead-lettered", ["stage"], registry=r)
        self.internal_errors = Counter(
            "connector_internal_errors", "Attempts that met an unexpected error (a bug)", ["error"], registry=r
        )
        self.unreadable = Counter(
            "connector_unreadable_records",
            "Records kafka-python could not unpack, skipped past",
            ["partition"],
            registry=r,
        )
        self.express = Counter(  # the express path's events by outcome (#25; fixed set, pipeline/express.py)
            "connector_express_events",
            "Consent and erasure events the express path read ahead",
            ["outcome"],
            registry=r,
        )
        self.lag = Gauge("connector_consumer_lag", "Records behind the end of the partition", ["partition"], registry=r)
        self.latency = LatencyHistogram(
            "connector_processing_seconds",
            "From poll to finished, per record",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=r,
        )
        self.consent_kept = Counter(
            "connector_consent_kept", "unsubscribed: false dropped by the consent rule", ["field"], registry=r
        )
        self.in_flight = Gauge("connector_buffered_records", "Records polled and not yet finished", registry=r)
        self.status = status or StatusBoard()
        self.last_loop = time.monotonic()
        self.ready = False
        self._server: ThreadingHTTPServer | None = None
        self._event_counters: dict[tuple[str, str], Any] = {}  # labelled children, looked up once

    def count_event(self, type_: str, outcome: str, count: int = 1) -> None:
        """``events{type, outcome}`` += count, without prometheus_client's per-call label lookup (hot path)."""
        if type_ not in EVENT_TYPES:
            type_ = "other"
        child = self._event_counters.get((type_, outcome))
        if child is None:
            child = self._event_counters[(type_, outcome)] = self.events.labels(type=type_, outcome=outcome)
        child.inc(count)

    def observe_call(self, route: str, status: int, seconds: float) -> None:
        self.resend_calls.labels(route=route, status=str(status)).inc()

    def count_retry(self, reason: str, scope: str = "record") -> None:
        self.retries.labels(reason=reason, scope=scope).inc()

    def request_retried(self, route: str, error: BaseException) -> None:
        """The Resend client's retry hook: one HTTP call about to be sent again."""
        self.count_retry(type(error).__name__, "request")

    def serve(self, host: str, port: int, *, stall_seconds: float = 120.0) -> int:
        metrics = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.startswith("/metrics"):
                    self._answer(200, generate_latest(metrics.registry), CONTENT_TYPE_LATEST)
                elif self.path == "/healthz":
                    alive = time.monotonic() - metrics.last_loop < stall_seconds
                    self._answer(200 if alive else 503, b"ok\n" if alive else b"stalled\n")
                elif self.path == "/readyz":
                    self._answer(200 if metrics.ready else 503, b"ready\n" if metrics.ready else b"not ready\n")
                elif self.path == "/status":
                    body = json.dumps(metrics.status.snapshot(), indent=2).encode() + b"\n"
                    self._answer(200, body, "application/json")
                else:
                    self._answer(404, b"not found\n")

            def _answer(self, status: int, body: bytes, content_type: str = "text/plain") -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                return  # scrapes are not worth a log line each

        self._server = ThreadingHTTPServer((host, port), Handler)
        threading.Thread(target=self._server.serve_forever, name="metrics", daemon=True).start()
        return int(self._server.server_address[1])

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
