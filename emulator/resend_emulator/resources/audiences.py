"""The legacy ``/audiences`` paths, which real Resend still answers (deprecated; same ids as segments).

Audiences became segments and contacts became global (November 2025): an audience is a segment
answered with ``object: "audience"``, and ``/audiences/{audience_id}/contacts/...`` acts on the global
contact (creating one there also adds it to the segment). The connector itself uses ``/segments``.
"""

from __future__ import annotations

from resend_emulator.api import Answer, Json, Query, Routes
from resend_emulator.resources import contacts, segments
from resend_emulator.views import contact_view, newest_first, segment_view
from resend_emulator.world import World

__all__ = ["routes"]

routes = Routes()


def _as_audience(answer: Answer) -> Answer:
    status, body = answer
    return status, {**body, "object": "audience"} if "object" in body else body


@routes.add("POST", "/audiences")
def create_audience(world: World, *, query: Query, body: Json) -> Answer:
    return _as_audience(segments.create_segment(world, query=query, body=body))


@routes.add("GET", "/audiences")
def list_audiences(world: World, *, query: Query, body: Json) -> Answer:
    # As described (ListAudiencesResponseSuccess): every audience, no pagination, no has_more.
    return 200, {"object": "list", "data": [segment_view(s) for s in newest_first(world.segments.values())]}


@routes.add("GET", "/audiences/{id}")
def get_audience(world: World, audience_id: str, *, query: Query, body: Json) -> Answer:
    return _as_audience(segments.get_segment(world, audience_id, query=query, body=body))


@routes.add("DELETE", "/audiences/{id}")
def delete_audience(world: World, audience_id: str, *, query: Query, body: Json) -> Answer:
    return _as_audience(segments.delete_segment(world, audience_id, query=query, body=body))


@routes.add("POST", "/audiences/{id}/contacts")
def create_audience_contact(world: World, audience_id: str, *, query: Query, body: Json) -> Answer:
    segment = world.segment(audience_id)
    status, answer = contacts.create_contact(world, query=query, body={**body, "segments": [segment.id]})
    contact = world.contacts[answer["id"]]
    if segment.id not in contact.segments:  # the email existed already: it joins the audience
        contact.segments.append(segment.id)
    return status, answer


@routes.add("GET", "/audiences/{id}/contacts")
def list_audience_contacts(world: World, audience_id: str, *, query: Query, body: Json) -> Answer:
    return segments.segment_contacts(world, audience_id, query=query, body=body)


@routes.add("GET", "/audiences/{id}/contacts/{contact_id}")
def get_audience_contact(world: World, audience_id: str, id_or_email: str, *, query: Query, body: Json) -> Answer:
    # Recorded (2025-11-30): the global contact, with its properties; the audience is not checked.
    return 200, contact_view(world.contact(id_or_email))


@routes.add("PATCH", "/audiences/{id}/contacts/{contact_id}")
def update_audience_contact(world: World, audience_id: str, id_or_email: str, *, query: Query, body: Json) -> Answer:
    return contacts.update_contact(world, id_or_email, query=query, body=body)


@routes.add("DELETE", "/audiences/{id}/contacts/{contact_id}")
def delete_audience_contact(world: World, audience_id: str, id_or_email: str, *, query: Query, body: Json) -> Answer:
    # Recorded: answered 200 even after the audience itself was deleted and for unknown contacts, and
    # (unlike DELETE /contacts/{id}) the answer echoes the id or email as given.
    contacts.forget_contact(world, id_or_email)
    return 200, {"object": "contact", "contact": id_or_email, "deleted": True}
