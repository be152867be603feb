"""Webhooks: ``/webhooks`` management, the events the emulator emits, and an inspection call to cause them.

Management follows the OpenAPI description: ``POST /webhooks`` {endpoint, events} answers 201
``{object: webhook, id, signing_secret}`` (``whsec_`` + base64 of 24 random bytes, Svix's form);
``GET /webhooks`` lists (newest first, no secrets), ``GET /webhooks/{id}`` includes the secret,
``PATCH`` changes endpoint, events or status (enabled/disabled), ``DELETE`` removes. Secrets stay out
of reprs, logs and ``/_emulator/state``.

Events (payloads per the OpenAPI ``*Event`` schemas, ``{type, created_at, data}``): ``contact.created``,
``contact.updated`` and ``contact.deleted`` on every contact write (API, import or inspection), and the
email events that ``POST /_emulator/contact-event`` causes for an address:

- ``{"email": e, "action": "unsubscribe"}``: the person clicked "unsubscribe": the contact becomes
  unsubscribed (``contact.updated``); ``"resubscribe"`` undoes it;
- ``"bounce"`` (``bounce_type`` Permanent (default), Transient or Undetermined): ``email.bounced``; a
  permanent bounce puts the address on the suppression list (origin bounce);
- ``"complaint"``: ``email.complained``, and the address is suppressed (origin complaint);
- ``"suppressed"``: ``email.suppressed``, as when a send to a suppressed address is dropped.

The answer lists ``{type, svix_ids}`` per event. Delivery: webhook_delivery.py.
``POST /_emulator/webhooks`` {retry_delays: [s, ...], timeout_seconds} changes the retry schedule;
``GET /_emulator/deliveries`` is the attempts log.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

from connector.emulator import core
from connector.emulator.core import ApiError
from connector.emulator.extensions import Extensions, Json, iso_now, iso_of_rest, rest_now
from connector.emulator.webhook_delivery import Deliverer, Message

__all__ = ["EVENT_TYPES", "Webhooks"]

# The event types of the OpenAPI description's ``webhooks`` section.
_EMAIL_EVENTS = ("sent", "delivered", "delivery_delayed", "bounced", "complained", "opened", "clicked", "failed",
                 "scheduled", "suppressed", "received")  # fmt: skip
EVENT_TYPES = frozenset(
    [f"email.{e}" for e in _EMAIL_EVENTS]
    + [f"{thing}.{change}" for thing in ("contact", "domain") for change in ("created", "updated", "deleted")]
)
_BOUNCE_TYPES = ("Permanent", "Transient", "Undetermined")


@dataclass
class Webhook:
    id: str
    endpoint: str
    events: list[str]
    signing_secret: str = field(repr=False)
    status: str = "enabled"
    created_at: str = field(default_factory=rest_now)

    def view(self) -> Json:
        return {"id": self.id, "endpoint": self.endpoint, "events": list(self.events), "status": self.status,
                "created_at": self.created_at}  # fmt: skip


def _endpoint(value: Any) -> str:
    if not isinstance(value, str) or urlsplit(value).scheme not in ("http", "https") or not urlsplit(value).netloc:
        raise ApiError(422, "validation_error", "`endpoint` must be an http or https URL")
    return value


def _events(value: Any) -> list[str]:
    if not isinstance(value, list) or not value:
        raise ApiError(422, "validation_error", "`events` must be a non-empty array of event types")
    unknown = [e for e in value if e not in EVENT_TYPES]
    if unknown:
        raise ApiError(422, "validation_error", f"Unknown event types: {', '.join(map(str, unknown))}")
    return list(dict.fromkeys(value))


def contact_data(contact: Any) -> Json:
    """``ContactEventData``: names are left out when unset (the schema types them as strings)."""
    data: Json = {"id": contact.id, "segment_ids": list(contact.segments), "email": contact.email,
                  "created_at": iso_of_rest(contact.created_at), "updated_at": iso_now(),
                  "unsubscribed": contact.unsubscribed}  # fmt: skip
    for name in ("first_name", "last_name"):
        if getattr(contact, name) is not None:
            data[name] = getattr(contact, name)
    return data


class Webhooks:
    def __init__(self, resend: core.Resend, deliverer: Deliverer | None = None) -> None:
        self._resend = resend
        self._hooks: dict[str, Webhook] = {}
        self.deliverer = deliverer or Deliverer()
        self._capture = threading.local()

    def register(self, ext: Extensions) -> None:
        ext.resources["webhooks"] = self
        ext.route("POST", "/webhooks", self._create)
        ext.route("GET", "/webhooks", self._list)
        ext.route("GET", "/webhooks/{id}", self._get)
        ext.route("PATCH", "/webhooks/{id}", self._update)
        ext.route("DELETE", "/webhooks/{id}", self._delete)
        ext.observers.append(self._contact_changed)
        ext.inspections[("POST", "contact-event")] = self._contact_event
        ext.inspections[("POST", "webhooks")] = self._configure
        ext.inspections[("GET", "deliveries")] = lambda body: (200, list(self.deliverer.log))
        ext.snapshots["webhooks"] = lambda: [h.view() for h in self._hooks.values()]
        ext.closers.append(self.close)

    # -- management (under the team's lock) -------------------------------------------------------

    def _hook(self, webhook_id: str) -> Webhook:
        hook = self._hooks.get(webhook_id)
        if hook is None:
            raise ApiError(404, "not_found", "Webhook not found")
        return hook

    def _create(self, *, query: dict[str, str], body: Json) -> tuple[int, Json]:
        for name in ("endpoint", "events"):
            if name not in body:
                raise ApiError(422, "missing_required_field", f"Missing `{name}` field.")
        secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
        hook = Webhook(str(uuid.uuid4()), _endpoint(body["endpoint"]), _events(body["events"]), secret)
        self._hooks[hook.id] = hook
        return 201, {"object": "webhook", "id": hook.id, "signing_secret": hook.signing_secret}

    def _list(self, *, query: dict[str, str], body: Json) -> tuple[int, Json]:
        return 200, core.page([h.view() for h in reversed(self._hooks.values())], query)

    def _get(self, webhook_id: str, *, query: dict[str, str], body: Json) -> tuple[int, Json]:
        hook = self._hook(webhook_id)
        return 200, {"object": "webhook", **hook.view(), "signing_secret": hook.signing_secret}

    def _update(self, webhook_id: str, *, query: dict[str, str], body: Json) -> tuple[int, Json]:
        hook = self._hook(webhook_id)
        endpoint = _endpoint(body["endpoint"]) if "endpoint" in body else hook.endpoint
        events = _events(body["events"]) if "events" in body else hook.events
        status = body.get("status", hook.status)
        if status not in ("enabled", "disabled"):
            raise ApiError(422, "validation_error", "`status` must be enabled or disabled")
        hook.endpoint, hook.events, hook.status = endpoint, events, status
        return 200, {"object": "webhook", "id": hook.id}

    def _delete(self, webhook_id: str, *, query: dict[str, str], body: Json) -> tuple[int, Json]:
        hook = self._hooks.pop(self._hook(webhook_id).id)
        return 200, {"object": "webhook", "id": hook.id, "deleted": True}

    def _contact_changed(self, event_type: str, contact: Any) -> None:
        self.emit(event_type, contact_data(contact))

    # -- events -----------------------------------------------------------------------------------------

    def emit(self, event_type: str, data: Json) -> list[str]:
        """Queues the event for every enabled webhook subscribed to it; the messages' svix-ids."""
        body = json.dumps({"type": event_type, "created_at": iso_now(), "data": data}, separators=(",", ":"))
        ids = []
        for hook in list(self._hooks.values()):
            if hook.status != "enabled" or event_type not in hook.events:
                continue
            svix_id = "msg_" + secrets.token_urlsafe(20).replace("-", "").replace("_", "")[:27]
            self.deliverer.submit(
                Message(svix_id, hook.id, hook.endpoint, event_type, body.encode(), hook.signing_secret)
            )
            ids.append(svix_id)
        captured = getattr(self._capture, "events", None)
        if captured is not None:
            captured.append({"type": event_type, "svix_ids": ids})
        return ids

    @staticmethod
    def email_data(email: str, body: Json) -> Json:
        return {"email_id": str(uuid.uuid4()), "created_at": iso_now(),
                "from": str(body.get("from") or "Acme <onboarding@resend.dev>"), "to": [email],
                "subject": str(body.get("subject") or "Hello from the emulator")}  # fmt: skip

    def _contact_event(self, body: Any) -> tuple[int, Any]:
        """``POST /_emulator/contact-event``: what a person or a mail server did (outside the lock)."""
        body = body if isinstance(body, dict) else {}
        email, action = body.get("email"), body.get("action")
        if not isinstance(email, str) or not core.valid_email(email):
            return 400, {"message": "`email` must be an email address"}
        self._capture.events = []
        try:
            status, answer = self._act(email, str(action), body)
            return status, answer if status != 200 else {"events": self._capture.events}
        finally:
            self._capture.events = None

    def _act(self, email: str, action: str, body: Json) -> tuple[int, Json]:
        suppressions = self._resend.extensions.resources.get("suppressions")
        if action in ("unsubscribe", "resubscribe"):
            try:
                self._resend.call(
                    "PATCH", "/contacts/" + quote(email, safe=""), {}, {"unsubscribed": action == "unsubscribe"}
                )
            except ApiError as error:
                return error.status, error.body()
        elif action == "bounce":
            kind = body.get("bounce_type", "Permanent")
            if kind not in _BOUNCE_TYPES:
                return 400, {"message": "`bounce_type` must be Permanent, Transient or Undetermined"}
            data = self.email_data(email, body)
            data["bounce"] = {
                "diagnosticCode": ["smtp; 550 5.1.1 user unknown"],
                "message": "The recipient's mail server rejected the message.",
                "subType": "General" if kind == "Permanent" else "Undetermined",
                "type": kind,
            }
            with self._resend.lock:
                self.emit("email.bounced", data)
                if kind == "Permanent" and suppressions is not None:
                    suppressions.suppress(email, "bounce", data["email_id"])
        elif action == "complaint":
            data = self.email_data(email, body)
            with self._resend.lock:
                self.emit("email.complained", data)
                if suppressions is not None:
                    suppressions.suppress(email, "complaint", data["email_id"])
        elif action == "suppressed":
            with self._resend.lock:
                origin = suppressions.origin_of(email) if suppressions is not None else None
                self.emit("email.suppressed", self.suppressed_data(email, origin, body))
        else:
            return 400, {"message": "`action` must be unsubscribe, resubscribe, bounce, complaint or suppressed"}
        return 200, {}

    def suppressed_data(self, email: str, origin: str | None, body: Json) -> Json:
        data = self.email_data(email, body)
        data["suppressed"] = {"diagnosticCode": [], "message": "The address is on the suppression list.",
                              "reason": "previous_complaint" if origin == "complaint" else "previous_bounce",
                              "type": "OnAccountSuppressionList"}  # fmt: skip
        return data

    def close(self) -> None:
        self.deliverer.close()

    def _configure(self, body: Any) -> tuple[int, Json]:
        body = body if isinstance(body, dict) else {}
        try:
            delays = tuple(float(d) for d in body["retry_delays"]) if "retry_delays" in body else None
            timeout = float(body["timeout_seconds"]) if "timeout_seconds" in body else None
        except (TypeError, ValueError):
            return 400, {"message": "retry_delays must be a list of seconds, timeout_seconds a number"}
        self.deliverer.configure(retry_delays=delays, timeout=timeout)
        return 200, {"retry_delays": list(self.deliverer.retry_delays), "timeout_seconds": self.deliverer.timeout}
