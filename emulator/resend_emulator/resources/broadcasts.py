"""Broadcasts: ``/broadcasts`` create, list, get, update, delete, ``/broadcasts/{id}/send``, ``/recipients``.

Per the OpenAPI description: create takes ``segment_id`` (or the deprecated ``audience_id``), ``from``
and ``subject`` (required), ``name``, ``html``, ``text``, ``reply_to``, ``preview_text``, ``topic_id``,
``send`` (default false: a draft) and ``scheduled_at`` (only with ``send``). Only drafts are updated or
sent; drafts and scheduled broadcasts can be deleted (deleting a scheduled one cancels it).

Sending is asynchronous: ``queued`` at once, then on the account's job thread ``sent`` with ``sent_at``.
Recipients are the segment's members that are not unsubscribed, and, for a broadcast scoped to a
topic, whose subscription to it is opt_in (explicit or the topic's default). A suppressed address is
skipped with an ``email.suppressed`` event; every recipient gets ``email.sent`` and ``email.delivered``
(to the webhooks subscribed to them). A scheduled broadcast stays ``scheduled``: the emulator keeps no
clock for it. ``GET /broadcasts/{id}/recipients?type=sent|delivered|suppressed`` lists who; the other
types (opened, clicked, bounced, ...) answer an empty list.
"""

from __future__ import annotations

import uuid
from typing import Any

from resend_emulator.api import Answer, ApiError, Json, Query, Routes, found, invalid, not_found, now
from resend_emulator.records import Broadcast
from resend_emulator.resources.suppressions import suppression_of
from resend_emulator.resources.topics import subscription_of
from resend_emulator.resources.webhooks import email_data, emit, suppressed_data
from resend_emulator.views import page
from resend_emulator.world import World

__all__ = ["routes"]

routes = Routes()

_RECIPIENT_TYPES = ("sent", "delivered", "opened", "clicked", "bounced", "complained", "unsubscribed", "suppressed")
_EDITABLE = ("name", "from", "subject", "reply_to", "preview_text", "html", "text", "topic_id", "segment_id")


def _summary(b: Broadcast) -> Json:
    return {
        "id": b.id,
        "name": b.name,
        "audience_id": b.segment_id,
        "segment_id": b.segment_id,
        "status": b.status,
        "created_at": b.created_at,
        "scheduled_at": b.scheduled_at,
        "sent_at": b.sent_at,
        "topic_id": b.topic_id,
    }


def _unset_left_out(view: Json, *, nullable: tuple[str, ...]) -> Json:
    """Unset fields the OpenAPI schema types as plain strings are left out; the ``[string, null]`` ones stay null."""
    return {k: v for k, v in view.items() if v is not None or k in nullable}


def _set_fields(world: World, b: Broadcast, body: Json) -> None:
    """Checks, then sets, the editable fields present in ``body``."""
    segment_id = body.get("segment_id") or body.get("audience_id")
    if segment_id is not None:
        b.segment_id = world.segment(str(segment_id)).id
    if body.get("topic_id") is not None and body["topic_id"] not in world.topics:
        raise not_found("Topic")
    for name in ("from", "subject"):
        if name in body and (not isinstance(body[name], str) or not body[name]):
            raise invalid(f"`{name}` must be a non-empty string")
    reply_to = body.get("reply_to", b.reply_to)
    if isinstance(reply_to, str):
        reply_to = [reply_to]
    if not isinstance(reply_to, list):
        raise invalid("`reply_to` must be an array of addresses")
    b.reply_to = [str(r) for r in reply_to]
    b.sender = body.get("from", b.sender)
    for name in ("name", "subject", "preview_text", "html", "text", "topic_id"):
        if name in body:
            setattr(b, name, body[name])


@routes.add("POST", "/broadcasts")
def create_broadcast(world: World, *, query: Query, body: Json) -> Answer:
    if not (body.get("segment_id") or body.get("audience_id")):
        raise ApiError(422, "missing_required_field", "Missing `segment_id` field.")
    for name in ("from", "subject"):
        if not body.get(name):
            raise ApiError(422, "missing_required_field", f"Missing `{name}` field.")
    if body.get("scheduled_at") and not body.get("send"):
        raise invalid("`scheduled_at` can only be used when `send` is true")
    broadcast = Broadcast(str(uuid.uuid4()), "", str(body["from"]), str(body["subject"]))
    _set_fields(world, broadcast, body)
    world.broadcasts[broadcast.id] = broadcast
    if body.get("send"):
        _send(world, broadcast, body.get("scheduled_at"))
    return 201, {"id": broadcast.id, "object": "broadcast"}


@routes.add("GET", "/broadcasts")
def list_broadcasts(world: World, *, query: Query, body: Json) -> Answer:
    items = [_unset_left_out(_summary(b), nullable=()) for b in reversed(world.broadcasts.values())]
    return 200, page(items, query)  # newest first


@routes.add("GET", "/broadcasts/{id}")
def get_broadcast(world: World, broadcast_id: str, *, query: Query, body: Json) -> Answer:
    b = found(world.broadcasts, broadcast_id, "Broadcast")
    view = {"object": "broadcast", **_summary(b), "from": b.sender, "subject": b.subject, "reply_to": b.reply_to,
            "preview_text": b.preview_text, "html": b.html, "text": b.text}  # fmt: skip
    return 200, _unset_left_out(view, nullable=("audience_id", "segment_id", "html", "text", "topic_id"))


@routes.add("PATCH", "/broadcasts/{id}")
def update_broadcast(world: World, broadcast_id: str, *, query: Query, body: Json) -> Answer:
    broadcast = found(world.broadcasts, broadcast_id, "Broadcast")
    if broadcast.status != "draft":
        raise invalid(f"A broadcast that is {broadcast.status} cannot be updated")
    _set_fields(world, broadcast, {k: v for k, v in body.items() if k in (*_EDITABLE, "audience_id")})
    return 200, {"id": broadcast.id, "object": "broadcast"}


@routes.add("DELETE", "/broadcasts/{id}")
def delete_broadcast(world: World, broadcast_id: str, *, query: Query, body: Json) -> Answer:
    broadcast = found(world.broadcasts, broadcast_id, "Broadcast")
    if broadcast.status not in ("draft", "scheduled"):
        raise invalid(f"A broadcast that is {broadcast.status} cannot be deleted")
    del world.broadcasts[broadcast.id]
    return 200, {"id": broadcast.id, "object": "broadcast", "deleted": True}


@routes.add("POST", "/broadcasts/{id}/send")
def send_broadcast(world: World, broadcast_id: str, *, query: Query, body: Json) -> Answer:
    broadcast = found(world.broadcasts, broadcast_id, "Broadcast")
    if broadcast.status != "draft":
        raise invalid(f"A broadcast that is {broadcast.status} cannot be sent")
    _send(world, broadcast, body.get("scheduled_at"))
    return 200, {"id": broadcast.id}


@routes.add("GET", "/broadcasts/{id}/recipients")
def broadcast_recipients(world: World, broadcast_id: str, *, query: Query, body: Json) -> Answer:
    broadcast = found(world.broadcasts, broadcast_id, "Broadcast")
    kind = query.get("type")
    if kind not in _RECIPIENT_TYPES:
        raise ApiError(422, "invalid_parameter", f"`type` must be one of {', '.join(_RECIPIENT_TYPES)}")
    rows = (
        broadcast.suppressed if kind == "suppressed" else broadcast.recipients if kind in ("sent", "delivered") else []
    )
    return 200, page([dict(r) for r in rows], {k: v for k, v in query.items() if k != "type"})


def _send(world: World, broadcast: Broadcast, scheduled_at: Any) -> None:
    if scheduled_at:
        broadcast.status, broadcast.scheduled_at = "scheduled", str(scheduled_at)
        return
    broadcast.status = "queued"
    world.runtime.jobs.submit(lambda: _deliver(world, broadcast))


def _deliver(world: World, broadcast: Broadcast) -> None:
    """On the job thread: who receives it, the webhook events, ``sent``."""
    with world.runtime.lock:
        topic = world.topics.get(broadcast.topic_id or "")
        for contact in list(world.contacts.values()):
            if broadcast.segment_id not in contact.segments or contact.unsubscribed:
                continue
            if topic is not None and subscription_of(contact, topic) != "opt_in":
                continue
            row = {"id": uuid.uuid4().hex, "contact_id": contact.id, "email": contact.email}
            details = {"from": broadcast.sender, "subject": broadcast.subject}
            entry = suppression_of(world, contact.email)
            if entry is not None:
                broadcast.suppressed.append(row)
                emit(world, "email.suppressed", {**suppressed_data(contact.email, entry.origin, details),
                                                 "broadcast_id": broadcast.id})  # fmt: skip
                continue
            broadcast.recipients.append(row)
            data = {**email_data(contact.email, details), "broadcast_id": broadcast.id}
            emit(world, "email.sent", data)
            emit(world, "email.delivered", data)
        broadcast.status, broadcast.sent_at = "sent", now()


@routes.snapshot("broadcasts")
def _broadcasts_state(world: World) -> list[Json]:
    return [{**_summary(b), "recipients": [r["email"] for r in b.recipients],
             "suppressed": [r["email"] for r in b.suppressed]} for b in world.broadcasts.values()]  # fmt: skip
