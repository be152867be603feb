"""``/contacts/{id}/segments[/{segment_id}]``: which segments a contact belongs to."""

from __future__ import annotations

from resend_emulator.api import Answer, Json, Query, Routes, not_found
from resend_emulator.views import newest_first, page, segment_view
from resend_emulator.world import World

__all__ = ["routes"]

routes = Routes()


@routes.add("GET", "/contacts/{id}/segments")
def contact_segments(world: World, id_or_email: str, *, query: Query, body: Json) -> Answer:
    contact = world.contact(id_or_email)
    return 200, page([segment_view(world.segment(s)) for s in newest_first(contact.segments)], query)


@routes.add("POST", "/contacts/{id}/segments/{segment_id}")
def add_member(world: World, id_or_email: str, segment_id: str, *, query: Query, body: Json) -> Answer:
    contact, segment = world.contact(id_or_email), world.segment(segment_id)
    if segment.id not in contact.segments:  # already a member: success, nothing changes
        contact.segments.append(segment.id)
    # The body and the 200 (not 201) as resend-openapi.yaml describes them (contacts/add-segment).
    return 200, {"object": "contact_segment", "contact_id": contact.id, "segment_id": segment.id}


@routes.add("DELETE", "/contacts/{id}/segments/{segment_id}")
def remove_member(world: World, id_or_email: str, segment_id: str, *, query: Query, body: Json) -> Answer:
    contact, segment = world.contact(id_or_email), world.segment(segment_id)
    if segment.id not in contact.segments:
        raise not_found("Contact in segment")
    contact.segments.remove(segment.id)
    return 200, {"object": "contact_segment", "contact_id": contact.id, "segment_id": segment.id, "deleted": True}
