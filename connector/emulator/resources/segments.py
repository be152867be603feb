"""``/segments``, ``/segments/{id}`` and ``/segments/{id}/contacts``."""

from __future__ import annotations

import uuid

from connector.emulator.api import Answer, ApiError, Json, Query, Routes
from connector.emulator.views import contact_view, page, segment_view
from connector.emulator.world import Segment, World

__all__ = ["routes"]

routes = Routes()


@routes.add("GET", "/segments")
def list_segments(world: World, *, query: Query, body: Json) -> Answer:
    return 200, page([segment_view(s) for s in world.segments.values()], query)


@routes.add("POST", "/segments")
def create_segment(world: World, *, query: Query, body: Json) -> Answer:
    name = body.get("name")
    if not name:
        raise ApiError(422, "missing_required_field", "Missing `name` field.")
    segment = Segment(id=str(uuid.uuid4()), name=str(name))
    world.segments[segment.id] = segment
    return 201, {"object": "segment", "id": segment.id, "name": segment.name}


@routes.add("GET", "/segments/{id}")
def get_segment(world: World, segment_id: str, *, query: Query, body: Json) -> Answer:
    return 200, {"object": "segment", **segment_view(world.segment(segment_id))}


@routes.add("DELETE", "/segments/{id}")
def delete_segment(world: World, segment_id: str, *, query: Query, body: Json) -> Answer:
    segment = world.segment(segment_id)
    del world.segments[segment.id]
    for contact in world.contacts.values():
        if segment.id in contact.segments:
            contact.segments.remove(segment.id)
    return 200, {"object": "segment", "id": segment.id, "deleted": True}


@routes.add("GET", "/segments/{id}/contacts")
def segment_contacts(world: World, segment_id: str, *, query: Query, body: Json) -> Answer:
    segment = world.segment(segment_id)
    items = [contact_view(c, with_properties=False) for c in world.contacts.values() if segment.id in c.segments]
    return 200, page(items, query, everything_by_default=True)


@routes.snapshot("segments")
def _segments_state(world: World) -> list[Json]:
    return [{"id": s.id, "name": s.name} for s in world.segments.values()]
