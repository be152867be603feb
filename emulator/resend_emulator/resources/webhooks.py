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
``GET /_emulator/deliveries`` is the attempts log. Contact writes report to :func:`contact_changed`.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import uuid
from typing import Any
from urllib.parse import quote

import httpx

from resend_emulator.api import Answer, ApiError, Json, Query, Routes, not_found
from resend_emulator.records import Webhook
from resend_emulator.resources.suppressions import suppress, suppression_of
from resend_emulator.timestamps import iso_now, iso_of_rest
from resend_emulator.views import page
from resend_emulator.webhook_delivery import Message
from resend_emulator.world import Contact, World

__all__ = ["EVENT_TYPES", "contact_changed", "emit", "routes"]

routes = Routes()

_EMAIL_EVENTS = ("sent", "delivered", "delivery_delayed", "bounced", "complained", "opened", "clicked", "failed",
                 "scheduled", "suppressed", "received")  # fmt: skip
# The event types of the OpenAPI description's ``webhooks`` section.
EVENT_TYPES = frozenset(
    [f"email.{e}" for e in _EMAIL_EVENTS]
    + [f"{thing}.{change}" for thing in ("contact", "domain") for change in ("created", "updated", "deleted")]
)
_BOUNCE_TYPES = ("Permanent", "Transient", "Undetermined")
_capture = threading.local()  # the events one inspection call emitted, for its answer


def _endpoint(value: Any) -> str:
    """An http(s) URL with a host, read as the deliverer's HTTP client reads it (one it cannot parse
    would fail every delivery)."""
    try:
        url = httpx.URL(value) if isinstance(value, str) else None
    except httpx.InvalidURL:
        url = None
    if url is None or url.scheme not in ("http", "https") or not url.host:
        raise ApiError(422, "validation_error", "`endpoint` must be an http or https URL")
    return str(value)


def _events(value: Any) -> list[str]:
    if not isinstance(value, list) or not value:
        raise ApiError(422, "validation_error", "`events` must be a non-empty array of event types")
    unknown = [e for e in value if e not in EVENT_TYPES]
    if unknown:
        raise ApiError(422, "validation_error", f"Unknown event types: {', '.join(map(str, unknown))}")
    return list(dict.fromkeys(value))


def _hook(world: World, webhook_id: str) -> Webhook:
    hook = world.webhooks.get(webhook_id)
    if hook is None:
        raise not_found("Webhook")
    return hook


@routes.add("POST", "/webhooks")
def create_webhook(world: World, *, query: Query, body: Json) -> Answer:
    for name in ("endpoint", "events"):
        if name not in body:
            raise ApiError(422, "missing_required_field", f"Missing `{name}` field.")
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()  # Svix's form: 24 random bytes
    hook = Webhook(str(uuid.uuid4()), _endpoint(body["endpoint"]), _events(body["events"]), secret)
    world.webhooks[hook.id] = hook
    return 201, {"object": "webhook", "id": hook.id, "signing_secret": hook.signing_secret}


@routes.add("GET", "/webhooks")
def list_webhooks(world: World, *, query: Query, body: Json) -> Answer:
    return 200, page([h.view() for h in reversed(world.webhooks.values())], query)


@routes.add("GET", "/webhooks/{id}")
def get_webhook(world: World, webhook_id: str, *, query: Query, body: Json) -> Answer:
    hook = _hook(world, webhook_id)
    return 200, {"object": "webhook", **hook.view(), "signing_secret": hook.signing_secret}


@routes.add("PATCH", "/webhooks/{id}")
def update_webhook(world: World, webhook_id: str, *, query: Query, body: Json) -> Answer:
    hook = _hook(world, webhook_id)
    endpoint = _endpoint(body["endpoint"]) if "endpoint" in body else hook.endpoint
    events = _events(body["events"]) if "events" in body else hook.events
    status = body.get("status", hook.status)
    if status not in ("enabled", "disabled"):
        raise ApiError(422, "validation_error", "`status` must be enabled or disabled")
    hook.endpoint, hook.events, hook.status = endpoint, events, status
    return 200, {"object": "webhook", "id": hook.id}


@routes.add("DELETE", "/webhooks/{id}")
def delete_webhook(world: World, webhook_id: str, *, query: Query, body: Json) -> Answer:
    hook = world.webhooks.pop(_hook(world, webhook_id).id)
    return 200, {"object": "webhook", "id": hook.id, "deleted": True}


@routes.snapshot("webhooks")
def _webhooks_state(world: World) -> list[Json]:
    return [h.view() for h in world.webhooks.values()]  # never the secrets


# -- events (under the lock) --------------------------------------------------------------------------


def emit(world: World, event_type: str, data: Json) -> list[str]:
    """Queues the event for every enabled webhook subscribed to it; the messages' svix-ids."""
    if not world.webhooks and getattr(_capture, "events", None) is None:
        return []  # every contact write calls this: without webhooks it costs nothing (make bench)
    body = json.dumps({"type": event_type, "created_at": iso_now(), "data": data}, separators=(",", ":")).encode()
    ids = []
    for hook in list(world.webhooks.values()):
        if hook.status != "enabled" or event_type not in hook.events:
            continue
        svix_id = "msg_" + uuid.uuid4().hex[:27]
        world.runtime.deliverer.submit(Message(svix_id, hook.id, hook.endpoint, event_type, body, hook.signing_secret))
        ids.append(svix_id)
    captured = getattr(_capture, "events", None)
    if captured is not None:
        captured.append({"type": event_type, "svix_ids": ids})
    return ids


def contact_data(contact: Contact) -> Json:
    """``ContactEventData``; names are left out when unset (the schema types them as strings)."""
    data: Json = {"id": contact.id, "segment_ids": list(contact.segments), "email": contact.email,
                  "created_at": iso_of_rest(contact.created_at), "updated_at": iso_now(),
                  "unsubscribed": contact.unsubscribed}  # fmt: skip
    for name in ("first_name", "last_name"):
        if getattr(contact, name) is not None:
            data[name] = getattr(contact, name)
    return data


def contact_changed(world: World, event_type: str, contact: Contact) -> None:
    """``contact.created`` / ``contact.updated`` / ``contact.deleted``, from every contact write."""
    emit(world, event_type, contact_data(contact))


def email_data(email: str, body: Json) -> Json:
    """``OutboundEmailEventData`` for an email the emulator pretends it sent to ``email``."""
    return {"email_id": str(uuid.uuid4()), "created_at": iso_now(),
            "from": str(body.get("from") or "Acme <onboarding@resend.dev>"), "to": [email],
            "subject": str(body.get("subject") or "Hello from the emulator")}  # fmt: skip


def suppressed_data(email: str, origin: str | None, body: Json) -> Json:
    data = email_data(email, body)
    data["suppressed"] = {"diagnosticCode": [], "message": "The address is on the suppression list.",
                          "reason": "previous_complaint" if origin == "complaint" else "previous_bounce",
                          "type": "OnAccountSuppressionList"}  # fmt: skip
    return data


# -- inspection (outside the lock) ------------------------------------------------------------------


@routes.inspect("POST", "contact-event")
def contact_event(world: World, body: Any) -> tuple[int, Any]:
    """What a person or their mail server did to an address; the answer lists the events emitted."""
    body = body if isinstance(body, dict) else {}
    email, action = body.get("email"), str(body.get("action"))
    if not isinstance(email, str) or "@" not in email:
        return 400, {"message": "`email` must be an email address"}
    _capture.events = []
    try:
        status, answer = _act(world, email, action, body)
        return (200, {"events": _capture.events}) if status == 200 else (status, answer)
    finally:
        _capture.events = None


def _act(world: World, email: str, action: str, body: Json) -> tuple[int, Json]:
    if action in ("unsubscribe", "resubscribe"):
        try:
            world.runtime.call("PATCH", "/contacts/" + quote(email, safe=""), {"unsubscribed": action == "unsubscribe"})
        except ApiError as error:
            return error.status, error.body()
        return 200, {}
    if action not in ("bounce", "complaint", "suppressed"):
        return 400, {"message": "`action` must be unsubscribe, resubscribe, bounce, complaint or suppressed"}
    kind = body.get("bounce_type", "Permanent")
    if action == "bounce" and kind not in _BOUNCE_TYPES:
        return 400, {"message": "`bounce_type` must be Permanent, Transient or Undetermined"}
    with world.runtime.lock:
        data = email_data(email, body)
        if action == "bounce":
            sub_type = "General" if kind == "Permanent" else "Undetermined"
            data["bounce"] = {"diagnosticCode": ["smtp; 550 5.1.1 user unknown"], "type": kind, "subType": sub_type,
                              "message": "The recipient's mail server rejected the message."}  # fmt: skip
            emit(world, "email.bounced", data)
            if kind == "Permanent":
                suppress(world, email, "bounce", data["email_id"])
        elif action == "complaint":
            emit(world, "email.complained", data)
            suppress(world, email, "complaint", data["email_id"])
        else:
            entry = suppression_of(world, email)
            emit(world, "email.suppressed", suppressed_data(email, entry.origin if entry else None, body))
    return 200, {}


@routes.inspect("POST", "webhooks")
def configure(world: World, body: Any) -> tuple[int, Json]:
    body = body if isinstance(body, dict) else {}
    try:
        delays = tuple(float(d) for d in body["retry_delays"]) if "retry_delays" in body else None
        timeout = float(body["timeout_seconds"]) if "timeout_seconds" in body else None
    except (TypeError, ValueError):
        return 400, {"message": "retry_delays must be a list of seconds, timeout_seconds a number"}
    deliverer = world.runtime.deliverer
    deliverer.configure(retry_delays=delays, timeout=timeout)
    return 200, {"retry_delays": list(deliverer.retry_delays), "timeout_seconds": deliverer.timeout}


@routes.inspect("GET", "deliveries")
def deliveries(world: World, body: Any) -> tuple[int, Any]:
    return 200, world.runtime.deliverer.attempts()
