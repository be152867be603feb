"""Topics (``/topics[/{id}]``) and a contact's topic subscriptions (``/contacts/{id}/topics``).

Per the OpenAPI description: a topic has a ``name`` (at most 50 characters), a ``default_subscription``
(opt_in / opt_out, fixed at creation: a PATCH that names it is refused), an optional ``description``
(at most 200) and a ``visibility`` (public / private, default private). Deleting a topic drops every
contact's subscription to it (the recorded answer: ``{object: topic, id, deleted: true}``).

A contact holds explicit subscriptions only; where it has none, the topic's default applies.
``GET /contacts/{id}/topics`` lists every topic with the contact's effective subscription;
``PATCH /contacts/{id}/topics`` takes ``{"topics": [{id, subscription}]}`` and so do contact create
and update (``topics``: :func:`checked_topics`, used by resources/contacts.py and contact imports).
"""

from __future__ import annotations

import uuid
from typing import Any

from resend_emulator.api import Answer, ApiError, Json, Query, Routes, found, invalid
from resend_emulator.records import Topic
from resend_emulator.views import page
from resend_emulator.world import Contact, World

__all__ = ["checked_topics", "routes", "subscription_of"]

routes = Routes()

_SUBSCRIPTIONS = ("opt_in", "opt_out")


def _described(view: Json, description: str | None) -> Json:
    # The schemas type ``description`` as a string: a topic without one leaves it out.
    return view if description is None else {**view, "description": description}


def _view(t: Topic) -> Json:
    view = {"id": t.id, "name": t.name, "default_subscription": t.default_subscription, "visibility": t.visibility,
            "created_at": t.created_at}  # fmt: skip
    return _described(view, t.description)


def _text(body: Json, name: str, limit: int) -> str | None:
    value = body.get(name)
    if value is not None and (not isinstance(value, str) or len(value) > limit):
        raise invalid(f"`{name}` must be a string of at most {limit} characters")
    return value


def _visibility(body: Json, default: str) -> str:
    visibility = body.get("visibility", default)
    if visibility not in ("public", "private"):
        raise invalid("`visibility` must be public or private")
    return str(visibility)


def checked_topics(world: World, raw: Any) -> dict[str, str]:
    """``[{id, subscription}]`` -> {topic id: subscription}; 422 for a bad shape, 404 for an unknown topic."""
    if raw is None:
        return {}
    if not isinstance(raw, list):
        raise invalid("`topics` must be an array of {id, subscription}")
    out: dict[str, str] = {}
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            raise invalid("`topics` must be an array of {id, subscription}")
        if item.get("subscription") not in _SUBSCRIPTIONS:
            raise invalid("`subscription` must be opt_in or opt_out")
        out[found(world.topics, item["id"], "Topic").id] = item["subscription"]
    return out


def subscription_of(contact: Contact, topic: Topic) -> str:
    return contact.topics.get(topic.id, topic.default_subscription)


@routes.add("POST", "/topics")
def create_topic(world: World, *, query: Query, body: Json) -> Answer:
    for field in ("name", "default_subscription"):
        if not body.get(field):
            raise ApiError(422, "missing_required_field", f"Missing `{field}` field.")
    name = _text(body, "name", 50)
    if body["default_subscription"] not in _SUBSCRIPTIONS:
        raise invalid("`default_subscription` must be opt_in or opt_out")
    topic = Topic(str(uuid.uuid4()), str(name), body["default_subscription"], _text(body, "description", 200),
                  _visibility(body, "private"))  # fmt: skip
    world.topics[topic.id] = topic
    return 201, {"object": "topic", "id": topic.id}


@routes.add("GET", "/topics")
def list_topics(world: World, *, query: Query, body: Json) -> Answer:
    return 200, page([_view(t) for t in reversed(world.topics.values())], query)  # newest first


@routes.add("GET", "/topics/{id}")
def get_topic(world: World, topic_id: str, *, query: Query, body: Json) -> Answer:
    return 200, {"object": "topic", **_view(found(world.topics, topic_id, "Topic"))}


@routes.add("PATCH", "/topics/{id}")
def update_topic(world: World, topic_id: str, *, query: Query, body: Json) -> Answer:
    topic = found(world.topics, topic_id, "Topic")
    if "default_subscription" in body:
        raise invalid("`default_subscription` cannot be changed after creation")
    if "name" in body:
        name = _text(body, "name", 50)
        if not name:
            raise invalid("`name` cannot be empty")
        topic.name = name
    if "description" in body:
        topic.description = _text(body, "description", 200)
    topic.visibility = _visibility(body, topic.visibility)
    return 200, {"object": "topic", "id": topic.id}


@routes.add("DELETE", "/topics/{id}")
def delete_topic(world: World, topic_id: str, *, query: Query, body: Json) -> Answer:
    topic = world.topics.pop(found(world.topics, topic_id, "Topic").id)
    for contact in world.contacts.values():
        contact.topics.pop(topic.id, None)
    return 200, {"object": "topic", "id": topic.id, "deleted": True}


@routes.add("GET", "/contacts/{id}/topics")
def contact_topics(world: World, id_or_email: str, *, query: Query, body: Json) -> Answer:
    contact = world.contact(id_or_email)
    items = [_described({"id": t.id, "name": t.name, "subscription": subscription_of(contact, t)}, t.description)
             for t in reversed(world.topics.values())]  # fmt: skip
    return 200, page(items, query)


@routes.add("PATCH", "/contacts/{id}/topics")
def update_contact_topics(world: World, id_or_email: str, *, query: Query, body: Json) -> Answer:
    contact = world.contact(id_or_email)
    if "topics" not in body:
        raise ApiError(422, "missing_required_field", "Missing `topics` field.")
    changes = checked_topics(world, body["topics"])
    contact.topics.update(changes)
    topics = [{"id": topic_id, "subscription": subscription} for topic_id, subscription in changes.items()]
    return 200, {"object": "contact_topics", "contact_id": contact.id, "topics": topics}


@routes.snapshot("topics")
def _topics_state(world: World) -> list[Json]:
    return [{"id": t.id, "name": t.name, "default_subscription": t.default_subscription} for t in world.topics.values()]
