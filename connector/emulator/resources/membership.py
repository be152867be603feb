"""``/contacts/{id}/segments[/{segment_id}]``: which segments a contact belongs to."""

from __future__ import annotations

from connector.emulator.api import Answer, Json, Query, Routes, not_found
from connector.emulator.views import page, segment_view
from connector.emulator.world import World

__all__ = ["routes"]

routes = Routes()


@routes.add("GET", "/contacts/{id}/segments")
def contact_segments(world: World, id_or_email: str, *, query: Query, body: Json) -> Answer:
    contact = world.contact(id_or_email)
    return 200, page([segment_view(world.segment(s)) for s in contact.segments], query)


@routes.add("POST", "/contacts/{id}/segments/{segment_id}")
def add_member(world: World, id_or_email: str, segment_id: str, *, query: Query, body: Json) -> Answer:
    contact, segment = world.contact(id_or_email), world.segment(segment_id)
    if segment.id not in contact.segments:  # already a member: success, nothing changes
        contact.segments.append(segment.id)
    return 201, {"id": segment.id}


@routes.add("DELETE", "/contacts/{id}/segments/{segment_id}")
def remove_member(world: World, id_or_email: str, segment_id: str, *, query: Query, body: Json) -> Answer:
    contact, segment = world.contact(id_or_email), world.segment(segment_id)
    if segment.id not in contact.segments:
        raise not_found("Contact in segment")
    contact.segments.remove(segment.id)
    return 200, {"id": segment.id, "deleted": True}
