"""The emulator's HTTP side: Resend's routes, auth, rate limit, faults, and the inspection API.

Resend routes answer at the server's root (``POST /contacts`` ...). The inspection API lives under
``/_emulator/`` and never counts against the rate limit or appears in the call log:

- ``GET  /_emulator/state``       contacts (properties, segment names and ids), segments, property definitions, events
- ``GET  /_emulator/calls``       the call log: ``[{t, method, route, status}]`` (newest last)
- ``GET  /_emulator/counts``      ``{"POST /contacts 201": n, ...}``
- ``POST /_emulator/reset``       forget all state, calls and faults
- ``POST /_emulator/faults``      change faults: ``{"error_rate": 0.2, "storm_429": 10, ...}`` (see faults.py)
- ``POST /_emulator/rate-limit``  ``{"limit": 2}``; 0 means unthrottled
- ``POST /_emulator/seed``        run Resend calls without auth, limit or log: ``[{"method", "path", "body"}]``
- ``GET  /_emulator/errors``      emulator bugs: ``{"requests": n, "jobs": n}``; a request whose handler
  raised is answered 500 ``application_error`` (never dropped: a client would retry that forever)
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter, deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from resend_emulator.control import inspection
from resend_emulator.faults import FaultPlan, Faults
from resend_emulator.forms import MAX_BODY_BYTES, FormError, parse_multipart
from resend_emulator.ratewindow import RateWindow
from resend_emulator.resources.domains import add_domain
from resend_emulator.state import ApiError, Resend, route_template

__all__ = ["EmulatorServer"]


class EmulatorServer:
    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        api_keys: tuple[str, ...] = ("re_test_key",),
        restricted_keys: tuple[str, ...] = (),
        unknown_key_status: int = 401,
        rate_limit: int = 0,
        faults: Faults | None = None,
        call_log_size: int = 200_000,
        domains: tuple[str, ...] = (),
    ) -> None:
        self.domains = domains  # verified sending domains, seeded again by reset()
        self.resend = self._account()
        self.api_keys = set(api_keys)
        self.restricted_keys = set(restricted_keys)
        if unknown_key_status not in (400, 401, 403):
            raise ValueError("unknown_key_status must be 400, 401 or 403")
        # Resend has answered an unknown key as 401/403 invalid_api_key and (its current errors page)
        # as 400 validation_error "API key is invalid": each is served on request so the client is
        # tested against every variant.
        self.unknown_key_status = unknown_key_status
        self.rate = RateWindow(rate_limit)
        self.faults = FaultPlan(faults or Faults())
        self.calls: deque[dict[str, Any]] = deque(maxlen=call_log_size)
        self.counts: Counter[str] = Counter()
        self.request_errors = 0  # requests answered 500 because a handler raised (emulator bugs)
        self._log_lock = threading.Lock()
        self._httpd = ThreadingHTTPServer((host, port), _handler_for(self))
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        host = self._httpd.server_address[0]
        return f"http://{host if isinstance(host, str) else host.decode()}:{self.port}"

    def start(self) -> EmulatorServer:
        # A short poll interval: stop() waits up to one interval, and tests start and stop many servers.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="resend-emulator", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._httpd.serve_forever()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self.resend.close()

    def _account(self) -> Resend:
        account = Resend()
        for name in self.domains:
            add_domain(account.world, name, "verified")
        return account

    def record(self, method: str, route: str, status: int) -> None:
        with self._log_lock:
            self.calls.append({"t": time.time(), "method": method, "route": route, "status": status})
            self.counts[f"{method} {route} {status}"] += 1

    def reset(self) -> None:
        self.resend.close()
        self.resend = self._account()
        self.faults = FaultPlan(Faults())
        with self._log_lock:
            self.calls.clear()
            self.counts.clear()
            self.request_errors = 0


def _handler_for(emulator: EmulatorServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, like Resend's API
        # Headers and body leave in two writes; with Nagle on, the body waits for the client's delayed
        # ACK (~40 ms a call on Linux loopback), which would cap a keep-alive connection near 25 calls/s.
        disable_nagle_algorithm = True
        server_version = "resend-emulator"
        _answered = False  # whether the current request's answer has started

        def log_message(self, format: str, *args: object) -> None:
            return

        def _body(self) -> Any:
            length = int(self.headers.get("Content-Length") or 0)
            content_type = self.headers.get("Content-Type", "")
            if content_type.startswith("multipart/form-data"):  # contact imports
                if length > MAX_BODY_BYTES:
                    self.close_connection = True  # the body is left unread
                    raise FormError("the file is larger than 50 MB")
                return parse_multipart(content_type, length, self.rfile)
            raw = self.rfile.read(length) if length else b""
            return json.loads(raw) if raw.strip() else None

        def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
            self._send_bytes(status, json.dumps(body).encode(), "application/json", headers)

        def _send_text(self, status: int, text: str, headers: dict[str, str] | None = None) -> None:
            self._send_bytes(status, text.encode(), "text/plain; charset=UTF-8", headers)

        def _send_bytes(self, status: int, payload: bytes, kind: str, headers: dict[str, str] | None) -> None:
            self._answered = True
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(payload)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":  # a HEAD answer has the headers of the body it does not carry
                self.wfile.write(payload)

        def _handle(self) -> None:
            self._answered = False
            try:
                self._dispatch()
            except Exception:  # noqa: BLE001 - an emulator bug still gets an answer, like Resend's 500
                with emulator._log_lock:
                    emulator.request_errors += 1
                self.close_connection = self._answered  # a half-sent answer: only closing tells the client
                error, path = ApiError(500, "application_error", "Internal server error"), urlsplit(self.path).path
                if self._answered:
                    return
                if path.startswith("/_emulator/"):  # never in the call log
                    self._send(error.status, error.body())
                else:
                    self._answer_error(path, error, {})

        def _dispatch(self) -> None:
            url = urlsplit(self.path)
            if url.path.startswith("/_emulator/"):
                self._inspect(url.path.removeprefix("/_emulator/"))
                return
            allowed, rate_headers = emulator.rate.take()
            try:
                body = self._body()
            except FormError as exc:
                self._answer_error(url.path, ApiError(422, "validation_error", str(exc)), rate_headers)
                return
            except ValueError:
                self._answer_error(url.path, ApiError(400, "validation_error", "Invalid JSON body"), rate_headers)
                return
            if not self.headers.get("User-Agent"):
                # Real Resend: Cloudflare refuses the request before the API, in plain text.
                emulator.record(self.command, self._route_of(url.path), 403)
                self._send_text(403, "error code: 1010", rate_headers)
                return
            auth = self.headers.get("Authorization", "")
            key = auth.removeprefix("Bearer ").strip() if auth.startswith("Bearer ") else ""
            if not key:
                self._answer_error(
                    url.path,
                    ApiError(401, "missing_api_key", "Missing API key in the authorization header"),
                    rate_headers,
                )
                return
            if key in emulator.restricted_keys:
                self._answer_error(
                    url.path,
                    ApiError(401, "restricted_api_key", "This API key is restricted to only send emails"),
                    rate_headers,
                )
                return
            if key not in emulator.api_keys:
                status = emulator.unknown_key_status
                name = "validation_error" if status == 400 else "invalid_api_key"
                self._answer_error(url.path, ApiError(status, name, "API key is invalid"), rate_headers)
                return
            if not allowed:
                self._answer_error(
                    url.path,
                    ApiError(
                        429,
                        "rate_limit_exceeded",
                        "Too many requests. You can only make a limited number of requests per second.",
                    ),
                    rate_headers,
                )
                return
            fault = emulator.faults.decide()
            delay = emulator.faults.latency()
            if delay:
                time.sleep(delay)
            if fault is not None:
                kind, status, name = fault
                if kind == "drop":
                    emulator.record(self.command, self._route_of(url.path), 0)
                    self.close_connection = True
                    return
                headers = dict(rate_headers)
                if status == 429:
                    wait = emulator.faults.faults.retry_after_seconds if name == "rate_limit_exceeded" else 86400
                    headers["retry-after"] = f"{wait:g}"
                self._answer_error(url.path, ApiError(status, name, f"Injected fault: {name}"), headers)
                return
            try:
                status, answer, route = emulator.resend.call(
                    self.command,
                    url.path,
                    dict(parse_qsl(url.query)),
                    body if isinstance(body, dict) else None,
                )
            except ApiError as error:
                self._answer_error(url.path, error, rate_headers)
                return
            emulator.record(self.command, route.split(" ", 1)[1], status)
            self._send(status, answer, rate_headers)

        def _route_of(self, path: str) -> str:
            return route_template(path)

        def _answer_error(self, path: str, error: ApiError, headers: dict[str, str]) -> None:
            emulator.record(self.command, self._route_of(path), error.status)
            self._send(error.status, error.body(), headers)

        def _inspect(self, what: str) -> None:
            try:
                body = self._body()
            except ValueError:
                self._send(400, {"message": "invalid JSON"})
                return
            self._send(*inspection(emulator, self.command, what, body))

        def __getattr__(self, name: str) -> Any:
            # Every method (TRACE, QUERY, ...) reaches the router, so one Resend has no route for
            # answers 405 method_not_allowed in JSON, not the standard library's 501 HTML page.
            if name.startswith("do_"):
                return self._handle
            raise AttributeError(name)

    return Handler
