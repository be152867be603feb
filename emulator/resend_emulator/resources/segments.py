"""``/segments``, ``/segments/{id}`` and ``/segments/{id}/contacts``."""

from __future__ import annotations

import uuid

from resend_emulator.api import Answer, ApiError, Json, Query, Routes
from resend_emulator.views import contact_view, newest_first, page, segment_view
from resend_emulator.world import Segment, World

__all__ = ["routes"]

routes = Routes()


@routes.add("GET", "/segments")
def list_segments(world: World, *, query: Query, body: Json) -> Answer:
    return 200, page([segment_view(s) for s in newest_first(world.segments.values())], query)


@routes.add("POST", "/segments")
def create_segment(world: World, *, query: Query, body: Json) -> Answer:
    name = body.get("name")
    if not name:
        raise ApiError(422, "missing_required_field", "Missing `name` field.")
    if not isinstance(name, str):
        raise ApiError(422, "validation_error", "`name` must be a string")
    segment = Segment(id=str(uuid.uuid4()), name=str(name))
    world.segments[segment.id] = segment
    return 201, {"object": "segment", "id": segment.id, "name": segment.name}


@routes.add("GET", "/segments/{id}")
def get_segment(world: World, segment_id: str, *, query: Query, body: Json) -> Answer:
    return 200, {"object": "segment", **segment_view(world.segment(segment_id))}


@routes.add("DELETE", "/segments/{id}")
def delete_segment(world: World, segment_id: str, *, query: Query, body: Json) -> Answer:
    # Recorded: an unknown segment is "deleted" too (200, "appears to remove a segment that never existed").
    if world.segments.pop(segment_id, None) is not None:
        for contact in world.contacts.values():
            if segment_id in contact.segments:
                contact.segments.remove(segment_id)
    return 200, {"object": "segment", "id": segment_id, "deleted": True}


@routes.add("GET", "/segments/{id}/contacts")
def segment_contacts(world: World, segment_id: str, *, query: Query, body: Json) -> Answer:
    segment = world.segment(segment_id)
    members = [c for c in newest_first(world.contacts.values()) if segment.id in c.segments]
    items = [contact_view(c, with_properties=False) for c in members]
    return 200, page(items, query, everything_by_default=True)


@routes.snapshot("segments")
def _segments_state(world: World) -> list[Json]:
    return [{"id": s.id, "name": s.name} for s in world.segments.values()]
