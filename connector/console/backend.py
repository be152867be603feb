"""The console's clients, from the one wiring point every command uses (connector.wiring): Redis, the
state store, the Resend client with the shared rate limit; and the audit log line.

Resend is asked only by the pages that say so (Connection, Broadcasts); everything else is what the
connector keeps in Redis and Kafka.
"""

from __future__ import annotations

import json
import threading
import urllib.request
from contextlib import ExitStack
from typing import Any

from connector.console.auth import Operator
from connector.logs import get_logger, mask_email
from connector.settings import Settings
from connector.wiring import Wiring

__all__ = ["Backend", "replica_get"]

log = get_logger("connector.console.audit")


class Backend:
    def __init__(self, settings: Settings, stack: ExitStack) -> None:
        self.settings = settings
        parts = Wiring(settings, stack)  # the same clients, prefix and rate limit as every command
        self.redis = parts.redis
        self.store = parts.store
        self.resend = parts.resend
        self.last_counters: tuple[float, dict[str, dict[str, float]]] | None = None  # the Overview's rates
        self.replay_lock = threading.Lock()  # one replay at a time (it redirects the report's output)

    def audit(self, operator: Operator, action: str, **fields: Any) -> None:
        """The line every state-changing action leaves: who, how they signed in, what."""
        if "email" in fields and self.settings.destination.mask_emails_in_logs:
            fields["email"] = mask_email(fields["email"])
        log.info("console." + action, operator=operator.name, via=operator.via, **fields)

    def status_urls(self) -> list[str]:
        urls = list(self.settings.console.status_urls)
        if not urls and self.settings.metrics.enabled:
            host = self.settings.metrics.host if self.settings.metrics.host != "0.0.0.0" else "127.0.0.1"  # noqa: S104
            urls.append(f"http://{host}:{self.settings.metrics.port}/status")
        return urls

    def replica_status(self) -> list[dict[str, Any]]:
        """Each replica's /status (pipeline/status.py); an unreachable one says so."""
        found: list[dict[str, Any]] = []
        for url in self.status_urls():
            try:
                body = json.loads(replica_get(url))
                found.append({"url": url, **(body if isinstance(body, dict) else {})})
            except (OSError, ValueError) as exc:
                found.append({"url": url, "state": "unreachable", "error": type(exc).__name__})
        return found


def replica_get(url: str) -> bytes:
    """GET one of the replicas' own endpoints (/status, /metrics): plain HTTP on the metrics port, read
    with the standard library (httpx is the Resend seam's). OSError (URLError) when it does not answer."""
    if not url.startswith(("http://", "https://")):
        raise ValueError("a replica's status URL must be http:// or https://")
    with urllib.request.urlopen(url, timeout=2.0) as answer:  # noqa: S310 - the scheme is checked above
        body: bytes = answer.read(4 * 1024 * 1024)
        return body
