"""The emulated account's data and the lookups every resource shares."""

from __future__ import annotations

from dataclasses import dataclass, field

from resend_emulator.api import Json, not_found, now
from resend_emulator.records import Broadcast, ContactImport, Domain, Suppression, Topic, Webhook
from resend_emulator.runtime import Runtime

__all__ = ["Contact", "Property", "Segment", "World"]


@dataclass
class Contact:
    id: str
    email: str
    first_name: str | None = None
    last_name: str | None = None
    unsubscribed: bool = False
    properties: dict[str, str | int | float] = field(default_factory=dict)
    segments: list[str] = field(default_factory=list)  # ids, in the order added
    topics: dict[str, str] = field(default_factory=dict)  # topic id -> opt_in / opt_out, where set explicitly
    created_at: str = field(default_factory=now)


@dataclass
class Segment:
    id: str
    name: str
    created_at: str = field(default_factory=now)


@dataclass
class Property:
    id: str
    key: str
    type: str
    fallback_value: str | int | float | None = None
    created_at: str = field(default_factory=now)


@dataclass
class World:
    """Everything the account holds. A new resource adds its table here (one field)."""

    contacts: dict[str, Contact] = field(default_factory=dict)  # by id, oldest first
    by_email: dict[str, str] = field(default_factory=dict)  # lower-cased email -> id
    segments: dict[str, Segment] = field(default_factory=dict)
    properties: dict[str, Property] = field(default_factory=dict)  # by key
    events: list[Json] = field(default_factory=list)
    imports: dict[str, ContactImport] = field(default_factory=dict)  # oldest first
    webhooks: dict[str, Webhook] = field(default_factory=dict)
    topics: dict[str, Topic] = field(default_factory=dict)  # oldest first
    suppressions: dict[str, Suppression] = field(default_factory=dict)  # by lower-cased email, oldest first
    broadcasts: dict[str, Broadcast] = field(default_factory=dict)  # oldest first
    domains: dict[str, Domain] = field(default_factory=dict)  # oldest first
    # Background work (webhook delivery, import jobs); bound to the account by Resend.
    runtime: Runtime = field(default_factory=Runtime, repr=False, compare=False)

    def contact(self, id_or_email: str) -> Contact:
        key = self.by_email.get(id_or_email.strip().lower(), id_or_email)
        contact = self.contacts.get(key)
        if contact is None:
            raise not_found("Contact")
        return contact

    def segment(self, segment_id: str) -> Segment:
        segment = self.segments.get(segment_id)
        if segment is None:
            raise not_found("Segment")
        return segment

    def property_by_id(self, prop_id: str) -> Property:
        for prop in self.properties.values():
            if prop.id == prop_id:
                return prop
        raise not_found("Contact property")
