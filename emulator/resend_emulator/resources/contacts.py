"""``/contacts`` and ``/contacts/{id}``: contacts by id or email, their properties."""

from __future__ import annotations

import re
import uuid
from typing import Any

from resend_emulator.api import Answer, ApiError, Json, Query, Routes
from resend_emulator.resources.topics import checked_topics
from resend_emulator.resources.webhooks import contact_changed
from resend_emulator.views import contact_view, newest_first, page
from resend_emulator.world import Contact, World

__all__ = ["EMAIL", "forget_contact", "routes"]

routes = Routes()

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _checked_properties(world: World, raw: Any, *, allow_null: bool) -> dict[str, str | int | float | None]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ApiError(422, "validation_error", "properties must be an object")
    out: dict[str, str | int | float | None] = {}
    for key, value in raw.items():
        prop = world.properties.get(key)
        if prop is None:
            raise ApiError(422, "validation_error", f"Contact property '{key}' does not exist")
        if value is None:
            if not allow_null:
                continue
        elif prop.type == "number":
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ApiError(422, "validation_error", f"Contact property '{key}' must be a number")
        elif not isinstance(value, str):
            raise ApiError(422, "validation_error", f"Contact property '{key}' must be a string")
        out[key] = value
    return out


def _names(body: Json) -> None:
    for name in ("first_name", "last_name"):
        if body.get(name) is not None and not isinstance(body[name], str):
            raise ApiError(422, "validation_error", f"`{name}` must be a string")
    if "unsubscribed" in body and not isinstance(body["unsubscribed"], bool):
        raise ApiError(422, "validation_error", "`unsubscribed` must be a boolean")


@routes.add("POST", "/contacts")
def create_contact(world: World, *, query: Query, body: Json) -> Answer:
    email = body.get("email")
    if not email:
        raise ApiError(422, "missing_required_field", "Missing `email` field.")
    if not isinstance(email, str) or not EMAIL.match(email.strip()):
        raise ApiError(422, "validation_error", "Invalid `email` field.")
    _names(body)
    existing = world.by_email.get(email.strip().lower())
    if existing is not None:
        # Live behaviour: 201 with the existing id, the stored contact left unchanged.
        return 201, {"object": "contact", "id": existing}
    properties = _checked_properties(world, body.get("properties"), allow_null=False)
    segment_ids = [str(s["id"] if isinstance(s, dict) else s) for s in body.get("segments") or []]
    for segment_id in segment_ids:
        world.segment(segment_id)
    topics = checked_topics(world, body.get("topics"))
    contact = Contact(
        id=str(uuid.uuid4()),
        email=email.strip(),
        first_name=body.get("first_name"),
        last_name=body.get("last_name"),
        unsubscribed=bool(body.get("unsubscribed", False)),
        properties={k: v for k, v in properties.items() if v is not None},
        segments=list(dict.fromkeys(segment_ids)),
        topics=topics,
    )
    world.contacts[contact.id] = contact
    world.by_email[contact.email.lower()] = contact.id
    contact_changed(world, "contact.created", contact)
    return 201, {"object": "contact", "id": contact.id}


@routes.add("GET", "/contacts")
def list_contacts(world: World, *, query: Query, body: Json) -> Answer:
    contacts = newest_first(world.contacts.values())
    if "segment_id" in query:  # the filter the OpenAPI description documents
        segment = world.segment(query["segment_id"])
        contacts = [c for c in contacts if segment.id in c.segments]
    items = [contact_view(c, with_properties=False) for c in contacts]
    # An older list endpoint: without a limit it answers every contact (resend-api.md, Pagination).
    return 200, page(items, query, everything_by_default=True)


@routes.add("GET", "/contacts/{id}")
def get_contact(world: World, id_or_email: str, *, query: Query, body: Json) -> Answer:
    return 200, contact_view(world.contact(id_or_email))


@routes.add("PATCH", "/contacts/{id}")
def update_contact(world: World, id_or_email: str, *, query: Query, body: Json) -> Answer:
    contact = world.contact(id_or_email)
    _names(body)
    properties = _checked_properties(world, body.get("properties"), allow_null=True)
    topics = checked_topics(world, body.get("topics"))  # not in the spec's update body; accepted like create's
    for name in ("first_name", "last_name"):
        if name in body:
            setattr(contact, name, body[name])
    if "unsubscribed" in body:
        contact.unsubscribed = body["unsubscribed"]
    for key, value in properties.items():
        if value is None:
            contact.properties.pop(key, None)
        else:
            contact.properties[key] = value
    contact.topics.update(topics)
    contact_changed(world, "contact.updated", contact)
    return 200, {"object": "contact", "id": contact.id}


@routes.add("DELETE", "/contacts/{id}")
def delete_contact(world: World, id_or_email: str, *, query: Query, body: Json) -> Answer:
    # Recorded: the answer names the contact's id, and an unknown contact is "deleted" too (200, not
    # 404: "appears to remove a contact that never existed"), answered with the identifier given.
    return 200, {"object": "contact", "contact": forget_contact(world, id_or_email) or id_or_email, "deleted": True}


def forget_contact(world: World, id_or_email: str) -> str | None:
    """Removes the contact if it exists; its id, else None."""
    contact = world.contacts.pop(world.by_email.get(id_or_email.strip().lower(), id_or_email), None)
    if contact is None:
        return None
    del world.by_email[contact.email.lower()]
    contact_changed(world, "contact.deleted", contact)
    return contact.id


@routes.snapshot("contacts")
def _contacts_state(world: World) -> list[Json]:
    names = {s.id: s.name for s in world.segments.values()}
    return [
        {"id": c.id, "email": c.email, "first_name": c.first_name, "last_name": c.last_name,
         "unsubscribed": c.unsubscribed, "properties": dict(c.properties),
         "segments": [names[s] for s in c.segments if s in names], "segment_ids": list(c.segments),
         "topics": {world.topics[t].name: sub for t, sub in c.topics.items() if t in world.topics}}
        for c in world.contacts.values()
    ]  # fmt: skip
