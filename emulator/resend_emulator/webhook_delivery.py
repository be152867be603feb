"""Delivering webhook events as Svix does: signed POSTs, retried on failure with the same ``svix-id``.

Each event is one message per subscribed endpoint, with a stable ``svix-id`` (the receiver's dedupe
key). Every attempt is signed afresh with the ``svix`` library (headers ``svix-id``, ``svix-timestamp``,
``svix-signature``; the timestamp is the attempt's, so a late retry still passes a 5-minute tolerance,
as with Svix). An answer outside 2xx, a timeout or a refused connection schedules the next attempt
after the next of ``retry_delays``; when they are spent the message is ``failed``. One background
thread sends, in due order; pending messages are bounded (the oldest beyond ``max_pending`` is dropped
and logged as such). The attempts log (``GET /_emulator/deliveries``) holds ids, types, attempt numbers
and statuses, never secrets or bodies.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from svix.webhooks import Webhook

__all__ = ["DEFAULT_RETRY_DELAYS", "Deliverer", "Message"]

# Svix retries after 5 s, 5 min, 30 min, 2 h, ...; an emulator that serves tests compresses the schedule
# to about a minute in all, enough for a receiver that restarts (issue #16: kill it between receipt and
# the Kafka write, the retry must deliver again).
DEFAULT_RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0)


@dataclass
class Message:
    svix_id: str
    webhook_id: str
    endpoint: str
    event_type: str
    body: bytes
    secret: str = field(repr=False)
    attempts: int = 0
    state: str = "pending"  # pending, delivered, failed, dropped


class Deliverer:
    def __init__(
        self,
        *,
        retry_delays: tuple[float, ...] = DEFAULT_RETRY_DELAYS,
        timeout: float = 5.0,
        max_pending: int = 100_000,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.retry_delays = retry_delays
        self.timeout = timeout
        self.max_pending = max_pending
        self._transport = transport
        self._http: httpx.Client | None = None  # made on the first attempt: a client costs an SSL context
        self._due: list[tuple[float, int, Message]] = []
        self._order = itertools.count()
        self._wake = threading.Condition()
        self._closed = False
        self._thread: threading.Thread | None = None
        self.log: deque[dict[str, Any]] = deque(maxlen=100_000)

    def submit(self, message: Message) -> None:
        with self._wake:
            if self._closed:
                return
            if len(self._due) >= self.max_pending:
                _, _, oldest = heapq.heappop(self._due)
                oldest.state = "dropped"
                self._record(oldest, -1)
            heapq.heappush(self._due, (time.monotonic(), next(self._order), message))
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name="emulator-webhooks", daemon=True)
                self._thread.start()
            self._wake.notify_all()

    def configure(self, *, retry_delays: tuple[float, ...] | None = None, timeout: float | None = None) -> None:
        with self._wake:
            if retry_delays is not None:
                self.retry_delays = retry_delays
            if timeout is not None:
                self.timeout = timeout

    def _work(self) -> None:
        while True:
            with self._wake:
                while not self._closed and (not self._due or self._due[0][0] > time.monotonic()):
                    self._wake.wait(timeout=self._due[0][0] - time.monotonic() if self._due else None)
                if self._closed:
                    return
                _, _, message = heapq.heappop(self._due)
            status = self.attempt(message)
            with self._wake:
                self._record(message, status)
                if 200 <= status < 300:
                    message.state = "delivered"
                elif message.attempts <= len(self.retry_delays) and not self._closed:
                    due = time.monotonic() + self.retry_delays[message.attempts - 1]
                    heapq.heappush(self._due, (due, next(self._order), message))
                else:
                    message.state = "failed"

    def attempt(self, message: Message) -> int:
        """One signed POST; the HTTP status, or 0 when no answer came."""
        message.attempts += 1
        now = datetime.now(UTC)
        signature = Webhook(message.secret).sign(message.svix_id, now, message.body.decode())
        headers = {
            "svix-id": message.svix_id,
            "svix-timestamp": str(int(now.timestamp())),
            "svix-signature": signature,
            "content-type": "application/json",
            "user-agent": "Svix-Webhooks/1.0 (resend-emulator)",
        }
        if self._http is None:
            self._http = httpx.Client(transport=self._transport, timeout=self.timeout, follow_redirects=False)
        try:
            return self._http.post(
                message.endpoint, content=message.body, headers=headers, timeout=self.timeout
            ).status_code
        except (httpx.HTTPError, httpx.InvalidURL):  # InvalidURL is no HTTPError: it would end the thread
            return 0

    def _record(self, message: Message, status: int) -> None:
        self.log.append({"t": time.time(), "svix_id": message.svix_id, "webhook_id": message.webhook_id,
                         "type": message.event_type, "attempt": message.attempts, "status": status})  # fmt: skip

    def attempts(self) -> list[dict[str, Any]]:
        with self._wake:
            return list(self.log)

    def pending(self) -> int:
        with self._wake:
            return len(self._due)

    def close(self) -> None:
        with self._wake:
            self._closed = True
            self._wake.notify_all()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=self.timeout + 1)
        if self._http is not None:
            self._http.close()
