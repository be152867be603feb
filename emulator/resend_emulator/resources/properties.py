"""``/contact-properties[/{id}]``: the account's property definitions."""

from __future__ import annotations

import re
import uuid

from resend_emulator.api import Answer, ApiError, Json, Query, Routes
from resend_emulator.views import newest_first, page
from resend_emulator.world import Property, World

__all__ = ["routes"]

routes = Routes()

_KEY = re.compile(r"^[A-Za-z0-9_]{1,50}$")
_RESERVED = {"FIRST_NAME", "LAST_NAME", "EMAIL", "UNSUBSCRIBE_URL"}


def _view(p: Property) -> Json:
    return {"id": p.id, "key": p.key, "type": p.type, "fallback_value": p.fallback_value, "created_at": p.created_at}


def _check_fallback(value: object, kind: str) -> None:
    if value is None:
        return
    fits = (
        isinstance(value, str) if kind == "string" else isinstance(value, int | float) and not isinstance(value, bool)
    )
    if not fits:
        raise ApiError(422, "validation_error", f"`fallback_value` must be a {kind}")


@routes.add("GET", "/contact-properties")
def list_properties(world: World, *, query: Query, body: Json) -> Answer:
    return 200, page([_view(p) for p in newest_first(world.properties.values())], query)


@routes.add("POST", "/contact-properties")
def create_property(world: World, *, query: Query, body: Json) -> Answer:
    key, kind = body.get("key"), body.get("type")
    if not key:
        raise ApiError(422, "missing_required_field", "Missing `key` field.")
    if not kind:
        raise ApiError(422, "missing_required_field", "Missing `type` field.")
    if not isinstance(key, str) or not _KEY.match(key):
        raise ApiError(422, "validation_error", "`key` must be at most 50 letters, digits or underscores")
    if key.upper() in _RESERVED:
        raise ApiError(422, "validation_error", f"`{key}` is a reserved key")
    if kind not in ("string", "number"):
        raise ApiError(422, "validation_error", "`type` must be string or number")
    _check_fallback(body.get("fallback_value"), kind)
    if key in world.properties:
        raise ApiError(409, "invalid_parameter", f"Contact property '{key}' already exists")
    prop = Property(id=str(uuid.uuid4()), key=key, type=kind, fallback_value=body.get("fallback_value"))
    world.properties[key] = prop
    return 201, {"object": "contact_property", "id": prop.id}


@routes.add("GET", "/contact-properties/{id}")
def get_property(world: World, prop_id: str, *, query: Query, body: Json) -> Answer:
    return 200, {"object": "contact_property", **_view(world.property_by_id(prop_id))}


@routes.add("PATCH", "/contact-properties/{id}")
def update_property(world: World, prop_id: str, *, query: Query, body: Json) -> Answer:
    prop = world.property_by_id(prop_id)
    if "key" in body or "type" in body:
        raise ApiError(422, "validation_error", "`key` and `type` cannot be changed")
    _check_fallback(body.get("fallback_value"), prop.type)
    prop.fallback_value = body.get("fallback_value")
    return 200, {"object": "contact_property", "id": prop.id}


@routes.add("DELETE", "/contact-properties/{id}")
def delete_property(world: World, prop_id: str, *, query: Query, body: Json) -> Answer:
    prop = world.property_by_id(prop_id)
    del world.properties[prop.key]
    for contact in world.contacts.values():
        contact.properties.pop(prop.key, None)
    return 200, {"object": "contact_property", "id": prop.id, "deleted": True}


@routes.snapshot("properties")
def _properties_state(world: World) -> list[Json]:
    return [{"id": p.id, "key": p.key, "type": p.type} for p in world.properties.values()]
