"""The emulator's Resend: contacts, segments, memberships, property definitions, automation events.

Pure state and rules, no HTTP: ``Resend.call(method, path, query, body)`` returns ``(status, body)``.
The rules follow the contract in shared/design/resend-api.md, answering with the variant marked
"live" where sources disagree.
"""

from __future__ import annotations

import re
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from connector.emulator.extensions import Extensions

__all__ = ["ApiError", "Resend", "route_template"]

_KEY = re.compile(r"^[A-Za-z0-9_]{1,50}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_RESERVED = {"FIRST_NAME", "LAST_NAME", "EMAIL", "UNSUBSCRIBE_URL"}

Json = dict[str, Any]


def route_template(path: str) -> str:
    """``/contacts/a@b.c/segments/s1`` -> ``/contacts/{id}/segments/{segment_id}`` (no emails in logs)."""
    parts = path.strip("/").split("/")
    if parts[:1] != ["events"]:
        if len(parts) > 1:
            parts[1] = "{id}"
        if len(parts) > 3:
            parts[3] = "{segment_id}"
    return "/" + "/".join(parts)


class ApiError(Exception):
    def __init__(self, status: int, name: str, message: str) -> None:
        super().__init__(message)
        self.status, self.name, self.message = status, name, message

    def body(self) -> Json:
        return {"statusCode": self.status, "name": self.name, "message": self.message}


def _now() -> str:
    # REST timestamps look like "2025-11-30 20:39:59.540771+00", not ISO-8601 with a "T".
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f+00")


def _not_found(what: str) -> ApiError:
    return ApiError(404, "not_found", f"{what} not found")


@dataclass
class Contact:
    id: str
    email: str
    first_name: str | None = None
    last_name: str | None = None
    unsubscribed: bool = False
    properties: dict[str, str | int | float] = field(default_factory=dict)
    segments: list[str] = field(default_factory=list)  # ids, in the order added
    created_at: str = field(default_factory=_now)


@dataclass
class Segment:
    id: str
    name: str
    created_at: str = field(default_factory=_now)


@dataclass
class Property:
    id: str
    key: str
    type: str
    fallback_value: str | int | float | None = None
    created_at: str = field(default_factory=_now)


class Resend:
    """Thread-safe: every call runs under one lock (calls are tiny)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.contacts: dict[str, Contact] = {}
        self.by_email: dict[str, str] = {}
        self.segments: dict[str, Segment] = {}
        self.properties: dict[str, Property] = {}  # by key
        self.events: list[Json] = []
        # Newer resources (imports, topics, webhooks, broadcasts, suppressions) plug in here.
        from connector.emulator.resources import install

        self.extensions = Extensions()
        install(self)

    def close(self) -> None:
        """Stops the resources' background threads (webhook delivery, imports)."""
        self.extensions.close()

    # -- dispatch ------------------------------------------------------------------------------

    def call(self, method: str, path: str, query: dict[str, str], body: Json | None) -> tuple[int, Json, str]:
        """Returns (status, body, route template)."""
        parts = [unquote(p) for p in path.strip("/").split("/")]
        route, handler, args = self.extensions.match(method, parts) or self._route(method, parts)
        if handler is None:
            raise ApiError(405 if route else 404, "method_not_allowed" if route else "not_found",
                           "Method not allowed" if route else "Route not found")  # fmt: skip
        with self.lock:
            try:
                status, answer = handler(*args, query=query, body=body or {})
            except (KeyError, TypeError, AttributeError) as exc:
                # A body of the wrong shape (e.g. "segments": [{"name": ...}]): Resend rejects it.
                raise ApiError(422, "validation_error", f"Invalid request body: {type(exc).__name__}") from None
        return status, answer, route

    def _route(self, method: str, p: list[str]) -> tuple[str, Any, tuple[str, ...]]:
        n = len(p)
        table: dict[tuple[str, ...], dict[str, Any]] = {}
        if n == 1 and p[0] == "contacts":
            table = {("/contacts",): {"POST": self._create_contact, "GET": self._list_contacts}}
        elif n == 2 and p[0] == "contacts":
            table = {("/contacts/{id}",): {"GET": self._get_contact, "PATCH": self._update_contact,
                                            "DELETE": self._delete_contact}}  # fmt: skip
        elif n == 3 and p[0] == "contacts" and p[2] == "segments":
            table = {("/contacts/{id}/segments",): {"GET": self._contact_segments}}
        elif n == 4 and p[0] == "contacts" and p[2] == "segments":
            table = {
                ("/contacts/{id}/segments/{segment_id}",): {
                    "POST": self._add_member,
                    "DELETE": self._remove_member,
                }
            }
        elif n == 1 and p[0] == "segments":
            table = {("/segments",): {"GET": self._list_segments, "POST": self._create_segment}}
        elif n == 2 and p[0] == "segments":
            table = {("/segments/{id}",): {"GET": self._get_segment, "DELETE": self._delete_segment}}
        elif n == 3 and p[0] == "segments" and p[2] == "contacts":
            table = {("/segments/{id}/contacts",): {"GET": self._segment_contacts}}
        elif n == 1 and p[0] == "contact-properties":
            table = {("/contact-properties",): {"GET": self._list_properties, "POST": self._create_property}}
        elif n == 2 and p[0] == "contact-properties":
            table = {
                ("/contact-properties/{id}",): {
                    "GET": self._get_property,
                    "PATCH": self._update_property,
                    "DELETE": self._delete_property,
                }
            }
        elif n == 2 and p == ["events", "send"]:
            table = {("/events/send",): {"POST": self._send_event}}
        if not table:
            return "", None, ()
        (route,), handlers = next(iter(table.items()))
        args = () if p[0] == "events" else tuple(p[i] for i in (1, 3) if i < n)
        return f"{method} {route}", handlers.get(method), args

    # -- helpers ---------------------------------------------------------------------------------

    def _contact(self, id_or_email: str) -> Contact:
        key = self.by_email.get(id_or_email.strip().lower(), id_or_email)
        contact = self.contacts.get(key)
        if contact is None:
            raise _not_found("Contact")
        return contact

    def _segment(self, segment_id: str) -> Segment:
        segment = self.segments.get(segment_id)
        if segment is None:
            raise _not_found("Segment")
        return segment

    def _checked_properties(self, raw: Any, *, allow_null: bool) -> dict[str, str | int | float | None]:
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            raise ApiError(422, "validation_error", "properties must be an object")
        out: dict[str, str | int | float | None] = {}
        for key, value in raw.items():
            prop = self.properties.get(key)
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

    @staticmethod
    def _page(items: list[Json], query: dict[str, str], *, everything_by_default: bool = False) -> Json:
        if everything_by_default and not query.keys() & {"limit", "after", "before"}:
            return {"object": "list", "has_more": False, "data": items}
        try:
            limit = int(query.get("limit", "20"))
        except ValueError:
            raise ApiError(422, "invalid_parameter", "limit must be a number") from None
        if not 1 <= limit <= 100:
            raise ApiError(422, "invalid_parameter", "limit must be between 1 and 100")
        if "after" in query and "before" in query:
            raise ApiError(422, "invalid_parameter", "use either after or before, not both")
        ids = [item["id"] for item in items]
        start, end = 0, len(items)
        if "after" in query:
            start = ids.index(query["after"]) + 1 if query["after"] in ids else len(items)
            end = start + limit
        elif "before" in query:
            end = ids.index(query["before"]) if query["before"] in ids else 0
            start = max(0, end - limit)
        else:
            end = limit
        page = items[start:end]
        has_more = end < len(items) if "before" not in query else start > 0
        return {"object": "list", "has_more": has_more, "data": page}

    @staticmethod
    def _contact_view(c: Contact, *, with_properties: bool = True) -> Json:
        view: Json = {"object": "contact", "id": c.id, "email": c.email, "first_name": c.first_name,
                      "last_name": c.last_name, "created_at": c.created_at, "unsubscribed": c.unsubscribed}  # fmt: skip
        if with_properties:
            # The live answer wraps each value with its type (docs, Node and Rust SDKs).
            view["properties"] = {
                k: {"type": "number" if isinstance(v, int | float) else "string", "value": v}
                for k, v in c.properties.items()
            }
        return view

    # -- contacts --------------------------------------------------------------------------------

    def _create_contact(self, *, query: dict[str, str], body: Json) -> tuple[int, Json]:
        email = body.get("email")
        if not email:
            raise ApiError(422, "missing_required_field", "Missing `email` field.")
        if not isinstance(email, str) or not _EMAIL.match(email.strip()):
            raise ApiError(422, "validation_error", "Invalid `email` field.")
        existing = self.by_email.get(email.strip().lower())
        if existing is not None:
            # Live behaviour: 201 with the existing id, the stored contact left unchanged.
            return 201, {"object": "contact", "id": existing}
        properties = self._checked_properties(body.get("properties"), allow_null=False)
        segment_ids = [s["id"] if isinstance(s, dict) else s for s in body.get("segments") or []]
        for segment_id in segment_ids:
            self._segment(segment_id)
        contact = Contact(
            id=str(uuid.uuid4()),
            email=email.strip(),
            first_name=body.get("first_name"),
            last_name=body.get("last_name"),
            unsubscribed=bool(body.get("unsubscribed", False)),
            properties={k: v for k, v in properties.items() if v is not None},
            segments=list(dict.fromkeys(segment_ids)),
        )
        self.extensions.after_contact_write(contact, body, created=True)  # may refuse (e.g. an unknown topic)
        self.contacts[contact.id] = contact
        self.by_email[contact.email.lower()] = contact.id
        self.extensions.notify("contact.created", contact)
        return 201, {"object": "contact", "id": contact.id}

    def _list_contacts(self, *, query: dict[str, str], body: Json) -> tuple[int, Json]:
        items = [self._contact_view(c, with_properties=False) for c in self.contacts.values()]
        # An older list endpoint: without a limit it answers every contact (resend-api.md, Pagination).
        return 200, self._page(items, query, everything_by_default=True)

    def _get_contact(self, id_or_email: str, *, query: dict[str, str], body: Json) -> tuple[int, Json]:
        return 200, self._contact_view(self._contact(id_or_email))

    def _update_contact(self, id_or_email: str, *, query: dict[str, str], body: Json) -> tuple[int, Json]:
        contact = self._contact(id_or_email)
        properties = self._checked_properties(body.get("properties"), allow_null=True)
        self.extensions.after_contact_write(contact, body, created=False)
        for name in ("first_name", "last_name"):
            if name in body:
                setattr(contact, name, body[name])
        if "unsubscribed" in body:
            if not isinstance(body["unsubscribed"], bool):
                raise ApiError(422, "validation_error", "`unsubscribed` must be a boolean")
            contact.unsubscribed = body["unsubscribed"]
        for key, value in properties.items():
            if value is None:
                contact.properties.pop(key, None)
            else:
                contact.properties[key] = value
        self.extensions.notify("contact.updated", contact)
        return 200, {"object": "contact", "id": contact.id}

    def _delete_contact(self, id_or_email: str, *, query: dict[str, str], body: Json) -> tuple[int, Json]:
        contact = self._contact(id_or_email)
        del self.contacts[contact.id]
        del self.by_email[contact.email.lower()]
        self.extensions.notify("contact.deleted", contact)
        return 200, {"object": "contact", "contact": contact.id, "deleted": True}

    # -- membership ------------------------------------------------------------------------------

    def _contact_segments(self, id_or_email: str, *, query: dict[str, str], body: Json) -> tuple[int, Json]:
        contact = self._contact(id_or_email)
        items = [{"id": s.id, "name": s.name, "created_at": s.created_at} for s in map(self._segment, contact.segments)]
        return 200, self._page(items, query)

    def _add_member(self, id_or_email: str, segment_id: str, *, query: dict[str, str], body: Json) -> tuple[int, Json]:
        contact, segment = self._contact(id_or_email), self._segment(segment_id)
        if segment.id not in contact.segments:  # already a member: success, nothing changes
            contact.segments.append(segment.id)
        return 201, {"id": segment.id}

    def _remove_member(
        self, id_or_email: str, segment_id: str, *, query: dict[str, str], body: Json
    ) -> tuple[int, Json]:
        contact, segment = self._contact(id_or_email), self._segment(segment_id)
        if segment.id not in contact.segments:
            raise _not_found("Contact in segment")
        contact.segments.remove(segment.id)
        return 200, {"id": segment.id, "deleted": True}

    # -- segments --------------------------------------------------------------------------------

    def _list_segments(self, *, query: dict[str, str], body: Json) -> tuple[int, Json]:
        items = [{"id": s.id, "name": s.name, "created_at": s.created_at} for s in self.segments.values()]
        return 200, self._page(items, query)

    def _create_segment(self, *, query: dict[str, str], body: Json) -> tuple[int, Json]:
        name = body.get("name")
        if not name:
            raise ApiError(422, "missing_required_field", "Missing `name` field.")
        segment = Segment(id=str(uuid.uuid4()), name=str(name))
        self.segments[segment.id] = segment
        return 201, {"object": "segment", "id": segment.id, "name": segment.name}

    def _get_segment(self, segment_id: str, *, query: dict[str, str], body: Json) -> tuple[int, Json]:
        s = self._segment(segment_id)
        return 200, {"object": "segment", "id": s.id, "name": s.name, "created_at": s.created_at}

    def _delete_segment(self, segment_id: str, *, query: dict[str, str], body: Json) -> tuple[int, Json]:
        segment = self._segment(segment_id)
        del self.segments[segment.id]
        for contact in self.contacts.values():
            if segment.id in contact.segments:
                contact.segments.remove(segment.id)
        return 200, {"object": "segment", "id": segment.id, "deleted": True}

    def _segment_contacts(self, segment_id: str, *, query: dict[str, str], body: Json) -> tuple[int, Json]:
        segment = self._segment(segment_id)
        items = [
            self._contact_view(c, with_properties=False) for c in self.contacts.values() if segment.id in c.segments
        ]
        return 200, self._page(items, query, everything_by_default=True)

    # -- contact properties ----------------------------------------------------------------------

    def _list_properties(self, *, query: dict[str, str], body: Json) -> tuple[int, Json]:
        items = [{"id": p.id, "key": p.key, "type": p.type, "fallback_value": p.fallback_value,
                  "created_at": p.created_at} for p in self.properties.values()]  # fmt: skip
        return 200, self._page(items, query)

    def _create_property(self, *, query: dict[str, str], body: Json) -> tuple[int, Json]:
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
        if key in self.properties:
            raise ApiError(409, "invalid_parameter", f"Contact property '{key}' already exists")
        prop = Property(id=str(uuid.uuid4()), key=key, type=kind, fallback_value=body.get("fallback_value"))
        self.properties[key] = prop
        return 201, {"object": "contact_property", "id": prop.id}

    def _property_by_id(self, prop_id: str) -> Property:
        for prop in self.properties.values():
            if prop.id == prop_id:
                return prop
        raise _not_found("Contact property")

    def _get_property(self, prop_id: str, *, query: dict[str, str], body: Json) -> tuple[int, Json]:
        p = self._property_by_id(prop_id)
        return 200, {"object": "contact_property", "id": p.id, "key": p.key, "type": p.type,
                     "fallback_value": p.fallback_value, "created_at": p.created_at}  # fmt: skip

    def _update_property(self, prop_id: str, *, query: dict[str, str], body: Json) -> tuple[int, Json]:
        prop = self._property_by_id(prop_id)
        if "key" in body or "type" in body:
            raise ApiError(422, "validation_error", "`key` and `type` cannot be changed")
        prop.fallback_value = body.get("fallback_value")
        return 200, {"object": "contact_property", "id": prop.id}

    def _delete_property(self, prop_id: str, *, query: dict[str, str], body: Json) -> tuple[int, Json]:
        prop = self._property_by_id(prop_id)
        del self.properties[prop.key]
        for contact in self.contacts.values():
            contact.properties.pop(prop.key, None)
        return 200, {"object": "contact_property", "id": prop.id, "deleted": True}

    # -- automation events -----------------------------------------------------------------------

    def _send_event(self, *, query: dict[str, str], body: Json) -> tuple[int, Json]:
        name = body.get("event")
        if not name:
            raise ApiError(422, "missing_required_field", "Missing `event` field.")
        if str(name).startswith("resend:"):
            raise ApiError(422, "validation_error", "Event names starting with `resend:` are reserved")
        if not body.get("email") and not body.get("contact_id"):
            raise ApiError(422, "missing_required_field", "Missing `email` or `contact_id` field.")
        event_id = str(uuid.uuid4())
        self.events.append({"id": event_id, "event": name, "email": body.get("email"),
                            "contact_id": body.get("contact_id"), "payload": body.get("payload") or {}})  # fmt: skip
        return 202, {"object": "event", "id": event_id}

    # -- inspection --------------------------------------------------------------------------------

    def snapshot(self) -> Json:
        with self.lock:
            names = {s.id: s.name for s in self.segments.values()}
            return {
                "contacts": [
                    {"id": c.id, "email": c.email, "first_name": c.first_name, "last_name": c.last_name,
                     "unsubscribed": c.unsubscribed, "properties": dict(c.properties),
                     "segments": [names[s] for s in c.segments if s in names], "segment_ids": list(c.segments)}
                    for c in self.contacts.values()
                ],
                "segments": [{"id": s.id, "name": s.name} for s in self.segments.values()],
                "properties": [{"id": p.id, "key": p.key, "type": p.type} for p in self.properties.values()],
                "events": list(self.events),
                **self.extensions.snapshot(),
            }  # fmt: skip
