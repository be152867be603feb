"""The suppression list: ``/suppressions``, ``/suppressions/batch/add|remove``, ``/suppressions/{id_or_email}``.

Per the OpenAPI description: an entry has an ``email``, an ``origin`` (bounce, complaint or manual;
the API adds manual ones, ``POST /_emulator/contact-event`` adds the others) and a ``source_id`` (the
email that bounced or complained). One entry per address: suppressing a suppressed address answers
its existing id. Batches take 1 to 100 addresses (``remove`` takes ``emails`` or ``ids``, not both)
and refuse the whole batch for one invalid address. Suppression does not change the contact; sending
a broadcast skips suppressed addresses (``email.suppressed``).
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from resend_emulator.api import Answer, ApiError, Json, Query, Routes, not_found
from resend_emulator.records import Suppression
from resend_emulator.views import page
from resend_emulator.world import World

__all__ = ["routes", "suppress", "suppression_of"]

routes = Routes()

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")  # the rule of POST /contacts
_ORIGINS = ("bounce", "complaint", "manual")
_BATCH = 100


def _email(value: Any) -> str:
    if not isinstance(value, str) or not _EMAIL.match(value.strip()):
        raise ApiError(422, "validation_error", "Invalid `email` field.")
    return value.strip()


def suppression_of(world: World, id_or_email: str) -> Suppression | None:
    found = world.suppressions.get(id_or_email.strip().lower())
    return found or next((s for s in world.suppressions.values() if s.id == id_or_email), None)


def suppress(world: World, email: str, origin: str, source_id: str | None = None) -> Suppression:
    """Adds the address (or answers its entry, unchanged)."""
    existing = world.suppressions.get(email.lower())
    if existing is not None:
        return existing
    entry = Suppression(str(uuid.uuid4()), email, origin, source_id)
    world.suppressions[email.lower()] = entry
    return entry


def _batch(body: Json, name: str) -> list[Any]:
    values = body.get(name)
    if not isinstance(values, list) or not 1 <= len(values) <= _BATCH:
        raise ApiError(422, "validation_error", f"`{name}` must be an array of 1 to {_BATCH} items")
    return values


@routes.add("POST", "/suppressions")
def add_suppression(world: World, *, query: Query, body: Json) -> Answer:
    if not body.get("email"):
        raise ApiError(422, "missing_required_field", "Missing `email` field.")
    return 201, {"object": "suppression", "id": suppress(world, _email(body["email"]), "manual").id}


@routes.add("GET", "/suppressions")
def list_suppressions(world: World, *, query: Query, body: Json) -> Answer:
    origin = query.get("origin")
    if origin is not None and origin not in _ORIGINS:
        raise ApiError(422, "invalid_parameter", "`origin` must be bounce, complaint or manual")
    items = [s.view() for s in reversed(world.suppressions.values()) if origin in (None, s.origin)]  # newest first
    return 200, page(items, query)


@routes.add("POST", "/suppressions/batch/add")
def add_batch(world: World, *, query: Query, body: Json) -> Answer:
    emails = [_email(e) for e in _batch(body, "emails")]  # one bad address refuses the batch
    return 201, {"data": [{"object": "suppression", "id": suppress(world, e, "manual").id} for e in emails]}


@routes.add("POST", "/suppressions/batch/remove")
def remove_batch(world: World, *, query: Query, body: Json) -> Answer:
    if ("emails" in body) == ("ids" in body):
        raise ApiError(422, "validation_error", "Provide either `emails` or `ids`, not both")
    keys = _batch(body, "emails" if "emails" in body else "ids")
    removed = []
    for key in keys:
        entry = suppression_of(world, str(key))
        if entry is not None:
            del world.suppressions[entry.email.lower()]
            removed.append({"object": "suppression", "id": entry.id, "deleted": True})
    return 200, {"data": removed}


@routes.add("GET", "/suppressions/{suppression}")
def get_suppression(world: World, id_or_email: str, *, query: Query, body: Json) -> Answer:
    entry = suppression_of(world, id_or_email)
    if entry is None:
        raise not_found("Suppression")
    return 200, {"object": "suppression", **entry.view()}


@routes.add("DELETE", "/suppressions/{suppression}")
def remove_suppression(world: World, id_or_email: str, *, query: Query, body: Json) -> Answer:
    entry = suppression_of(world, id_or_email)
    if entry is None:
        raise not_found("Suppression")
    del world.suppressions[entry.email.lower()]
    return 200, {"object": "suppression", "id": entry.id, "deleted": True}


@routes.snapshot("suppressions")
def _suppressions_state(world: World) -> list[Json]:
    return [s.view() for s in world.suppressions.values()]
