"""``/events/send``: automation events."""

from __future__ import annotations

import uuid

from resend_emulator.api import Answer, ApiError, Json, Query, Routes
from resend_emulator.resources.contacts import EMAIL
from resend_emulator.world import World

__all__ = ["routes"]

routes = Routes()


@routes.add("POST", "/events/send")
def send_event(world: World, *, query: Query, body: Json) -> Answer:
    name = body.get("event")
    if not name:
        raise ApiError(422, "missing_required_field", "Missing `event` field.")
    if not isinstance(name, str):
        raise ApiError(422, "validation_error", "`event` must be a string")
    if name.startswith("resend:"):
        raise ApiError(422, "validation_error", "Event names starting with `resend:` are reserved")
    if not body.get("email") and not body.get("contact_id"):
        raise ApiError(422, "missing_required_field", "Missing `email` or `contact_id` field.")
    if body.get("email") and body.get("contact_id"):
        raise ApiError(422, "validation_error", "Exactly one of `email` or `contact_id` must be provided.")
    email, contact_id = body.get("email"), body.get("contact_id")
    if email and (not isinstance(email, str) or not EMAIL.match(email.strip())):
        raise ApiError(422, "validation_error", "Invalid `email` field.")
    if contact_id and not isinstance(contact_id, str):
        raise ApiError(422, "validation_error", "`contact_id` must be a string")
    payload = body.get("payload")
    if payload is not None and not isinstance(payload, dict):
        raise ApiError(422, "validation_error", "`payload` must be an object")
    world.events.append({"id": str(uuid.uuid4()), "event": name, "email": body.get("email"),
                         "contact_id": body.get("contact_id"), "payload": payload or {}})  # fmt: skip
    # The answer as resend-openapi.yaml describes it (SendEventResponse): the event's name, no id.
    return 202, {"object": "event", "event": name}


@routes.snapshot("events")
def _events_state(world: World) -> list[Json]:
    return list(world.events)
