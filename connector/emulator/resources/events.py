"""``/events/send``: automation events."""

from __future__ import annotations

import uuid

from connector.emulator.api import Answer, ApiError, Json, Query, Routes
from connector.emulator.world import World

__all__ = ["routes"]

routes = Routes()


@routes.add("POST", "/events/send")
def send_event(world: World, *, query: Query, body: Json) -> Answer:
    name = body.get("event")
    if not name:
        raise ApiError(422, "missing_required_field", "Missing `event` field.")
    if str(name).startswith("resend:"):
        raise ApiError(422, "validation_error", "Event names starting with `resend:` are reserved")
    if not body.get("email") and not body.get("contact_id"):
        raise ApiError(422, "missing_required_field", "Missing `email` or `contact_id` field.")
    event_id = str(uuid.uuid4())
    world.events.append({"id": event_id, "event": name, "email": body.get("email"),
                         "contact_id": body.get("contact_id"), "payload": body.get("payload") or {}})  # fmt: skip
    return 202, {"object": "event", "id": event_id}


@routes.snapshot("events")
def _events_state(world: World) -> list[Json]:
    return list(world.events)
