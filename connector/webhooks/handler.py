"""One verified delivery, from svix-id and body to an answer. Blocking I/O (Redis, Kafka): the ASGI
app runs it in a worker thread. Nothing is acknowledged (2xx) before the Kafka write is.

    seen before?            -> 200, duplicate, nothing written
    another replica has it  -> 409 (Svix retries)
    not a Resend event      -> 422
    Kafka or Redis down     -> 503 (Svix retries; nothing was acknowledged)
    else                    -> the contact's state followed, the track events written (acks=all),
                               the svix-id marked seen, 200
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from connector.errors import RetryableError
from connector.kafka.event_writer import EventWriter
from connector.logs import get_logger, mask_email
from connector.state import StateStore
from connector.webhooks.dedupe import Dedupe
from connector.webhooks.follow import Follower
from connector.webhooks.metrics import WebhookMetrics
from connector.webhooks.tallies import record_delivery
from connector.webhooks.translate import InvalidWebhook, recipients, translate

__all__ = ["Answer", "WebhookHandler"]

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: dict[str, Any]


class WebhookHandler:
    def __init__(
        self, store: StateStore, dedupe: Dedupe, writer: EventWriter, follower: Follower, metrics: WebhookMetrics
    ) -> None:
        self._store = store
        self._dedupe = dedupe
        self._writer = writer
        self._follower = follower
        self._metrics = metrics

    def handle(self, svix_id: str, payload: Any) -> Answer:
        kind = str(payload.get("type", "")) if isinstance(payload, dict) else ""
        try:
            if self._dedupe.seen(svix_id):
                return self._answer(kind, "duplicate", 200, {"duplicate": True})
            token = self._dedupe.claim(svix_id)
            if token is None:
                return self._answer(kind, "busy", 409, {"error": "this delivery is being handled; retry later"})
            try:
                return self._write(svix_id, kind, payload)
            finally:
                self._dedupe.release(svix_id, token)
        except RetryableError as exc:
            log.warning("webhook.failed", svix_id=svix_id, type=kind, error=type(exc).__name__, detail=str(exc))
            return self._answer(kind, "failed", 503, {"error": "not written; retry later"})

    def _write(self, svix_id: str, kind: str, payload: Any) -> Answer:
        try:
            emails = recipients(payload)
            users = self._store.latest_users(list(emails))
            previous, known_at = self._store.consent(emails[0]) if kind.startswith("contact.") else (None, 0)
            translation = translate(svix_id, payload, users=users, previous_unsubscribed=previous)
            if translation.change is not None and translation.change.at_ms < known_at:
                # Delivered after a later change: what it changed from is not what Redis holds now.
                translation = translate(svix_id, payload, users=users, previous_unsubscribed=None)
        except InvalidWebhook as exc:
            return self._answer(kind, "invalid", 422, {"error": str(exc)})
        if translation.skip is not None:
            self._dedupe.done(svix_id)
            record_delivery(self._store, kind, payload, ())
            log.info("webhook.skipped", svix_id=svix_id, type=kind, reason=translation.skip)
            return self._answer(kind, "skipped", 200, {"skipped": translation.skip})
        # The state follows first: it is idempotent and ordered by Resend's clock, so a failure after it
        # is simply redone by the redelivery, and the Kafka write (then 2xx) comes last.
        if translation.change is not None:
            self._follower.follow(translation.change)
        with self._metrics.write_seconds.time():
            self._writer.write([(e["context"]["traits"]["email"], e) for e in translation.events])
        self._dedupe.done(svix_id)
        record_delivery(self._store, kind, payload, emails)  # the console's broadcast metrics
        for event in translation.events:
            log.info("webhook.written", svix_id=svix_id, name=event["event"],
                     email=mask_email(event["context"]["traits"]["email"]))  # fmt: skip
        return self._answer(kind, "written", 200, {"written": len(translation.events)})

    def _answer(self, kind: str, outcome: str, status: int, body: dict[str, Any]) -> Answer:
        self._metrics.count(kind, outcome)
        return Answer(status, body)
