"""A tiny stand-in for ResendClient that keeps Resend's state in dicts and records every call."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import redis

from connector.errors import ResendNotFound, ResendRejected
from connector.events import Event
from connector.resend import Contact, ContactPage, ListedContact, PropertyDefinition, ResendClient, Segment
from connector.resend.topics import Topic
from connector.settings import load_settings
from connector.sync import EventSync
from connector.wiring import state_store

_RESERVED = {"FIRST_NAME", "LAST_NAME", "EMAIL", "UNSUBSCRIBE_URL"}


@dataclass
class StoredContact:
    id: str
    first_name: str | None = None
    last_name: str | None = None
    unsubscribed: bool = False
    properties: dict[str, Any] = field(default_factory=dict)
    segments: set[str] = field(default_factory=set)
    topics: dict[str, str] = field(default_factory=dict)  # topic id -> opt_in | opt_out


class FakeResend:
    def __init__(self) -> None:
        self.contacts: dict[str, StoredContact] = {}
        self.segments: dict[str, str] = {}  # id -> name
        self.properties: dict[str, str] = {}  # key -> type
        self.events: list[tuple[str, str, dict[str, Any]]] = []
        self.topics: dict[str, tuple[str, str]] = {}  # id -> (name, default subscription)
        self.calls: list[str] = []
        self.failures: dict[str, list[Exception]] = {}  # method -> errors raised by its next calls
        self._ids = (str(n) for n in itertools.count(1))

    def observed(self, observer: Callable[[str, int, float], None]) -> Any:
        """As ResendClient.observed: this fake, telling ``observer`` of every call it is asked."""
        return _Observed(self, observer)

    # -- test helpers ----------------------------------------------------------------------------

    def fail_next(self, method: str, error: Exception) -> None:
        self.failures.setdefault(method, []).append(error)

    def segment_names(self, email: str) -> set[str]:
        return {self.segments[s] for s in self.contacts[email].segments}

    def _call(self, method: str) -> None:
        self.calls.append(method)
        pending = self.failures.get(method)
        if pending:
            raise pending.pop(0)

    def _contact(self, email: str) -> StoredContact:
        if email not in self.contacts:
            raise ResendNotFound("Contact not found", status=404, name="not_found")
        return self.contacts[email]

    def _segment(self, segment_id: str) -> str:
        if segment_id not in self.segments:
            raise ResendNotFound("Segment not found", status=404, name="not_found")
        return segment_id

    def _properties(self, target: dict[str, Any], properties: Mapping[str, Any]) -> None:
        for key, value in properties.items():
            if key not in self.properties:
                raise ResendRejected(f"property {key} is not defined", status=422, name="validation_error")
            if value is None:
                target.pop(key, None)
            else:
                target[key] = value

    # -- the ResendClient surface the executor uses ----------------------------------------------

    def create_contact(
        self,
        email: str,
        *,
        first_name: str | None = None,
        last_name: str | None = None,
        unsubscribed: bool | None = None,
        properties: Mapping[str, Any] | None = None,
        segment_ids: Sequence[str] = (),
        topics: Sequence[tuple[str, str]] = (),
    ) -> str:
        self._call("create_contact")
        if email in self.contacts:  # Resend: 201 with the existing id, stored contact unchanged
            return self.contacts[email].id
        for segment_id in segment_ids:
            self._segment(segment_id)
        contact = StoredContact(next(self._ids), first_name, last_name, bool(unsubscribed), {}, set(segment_ids))
        for topic_id, _ in topics:
            self._topic(topic_id)
        contact.topics = dict(topics)
        self._properties(contact.properties, properties or {})
        self.contacts[email] = contact
        return contact.id

    def get_contact(self, id_or_email: str) -> Contact:
        self._call("get_contact")
        c = self._contact(id_or_email)
        return Contact(c.id, id_or_email, c.first_name, c.last_name, c.unsubscribed, dict(c.properties))

    def list_contacts_page(self, *, after: str | None = None, limit: int = 100) -> ContactPage:
        """Newest first, as Resend lists them."""
        self._call("list_contacts_page")
        listed = [ListedContact(c.id, email) for email, c in reversed(self.contacts.items())]
        ids = [c.id for c in listed]
        start = ids.index(after) + 1 if after in ids else (len(ids) if after else 0)
        return ContactPage(tuple(listed[start : start + limit]), start + limit < len(listed))

    def update_contact(self, id_or_email: str, *, fields: Mapping[str, object], properties: Mapping[str, Any]) -> str:
        self._call("update_contact")
        contact = self._contact(id_or_email)
        for name, value in fields.items():
            setattr(contact, name, value)
        self._properties(contact.properties, properties)
        return contact.id

    def delete_contact(self, id_or_email: str) -> None:
        self._call("delete_contact")
        self._contact(id_or_email)
        del self.contacts[id_or_email]

    def list_segments(self) -> list[Segment]:
        self._call("list_segments")
        return [Segment(i, n) for i, n in self.segments.items()]

    def create_segment(self, name: str) -> Segment:
        self._call("create_segment")
        segment = Segment(next(self._ids), name)
        self.segments[segment.id] = name
        return segment

    def add_contact_to_segment(self, id_or_email: str, segment_id: str) -> None:
        self._call("add_contact_to_segment")
        self._contact(id_or_email).segments.add(self._segment(segment_id))

    def remove_contact_from_segment(self, id_or_email: str, segment_id: str) -> None:
        self._call("remove_contact_from_segment")
        segments = self._contact(id_or_email).segments
        if segment_id not in segments:
            raise ResendNotFound("not a member", status=404, name="not_found")
        segments.discard(segment_id)

    def list_contact_segments(self, id_or_email: str) -> list[Segment]:
        self._call("list_contact_segments")
        return [Segment(s, self.segments[s]) for s in self._contact(id_or_email).segments]

    def list_contact_properties(self) -> list[PropertyDefinition]:
        self._call("list_contact_properties")
        return [PropertyDefinition(k, k, "number" if t == "number" else "string") for k, t in self.properties.items()]

    def create_contact_property(self, key: str, type: str = "string", fallback_value: object = None) -> str:
        self._call("create_contact_property")
        if not key:
            raise ResendRejected("Missing `key` field.", status=422, name="missing_required_field")
        if key.upper() in _RESERVED:
            raise ResendRejected(f"{key} is reserved", status=422, name="validation_error")
        if key in self.properties:
            raise ResendRejected(f"{key} exists", status=409, name="invalid_parameter")
        self.properties[key] = type
        return key

    def _topic(self, topic_id: str) -> str:
        if topic_id not in self.topics:
            raise ResendNotFound("Topic not found", status=404, name="not_found")
        return topic_id

    def list_topics(self) -> list[Topic]:
        self._call("list_topics")
        return [Topic(i, name, default) for i, (name, default) in self.topics.items()]

    def create_topic(self, name: str, default_subscription: str) -> Topic:
        self._call("create_topic")
        topic_id = f"topic-{next(self._ids)}"
        self.topics[topic_id] = (name, default_subscription)
        return Topic(topic_id, name, default_subscription)

    def update_contact_topics(self, id_or_email: str, topics: Sequence[tuple[str, str]]) -> None:
        self._call("update_contact_topics")
        contact = self._contact(id_or_email)
        for topic_id, subscription in topics:
            contact.topics[self._topic(topic_id)] = subscription

    def topic_subscriptions(self, email: str) -> dict[str, str]:
        """name -> subscription of the contact's topics."""
        return {self.topics[t][0]: s for t, s in self.contacts[email].topics.items()}

    def send_event(self, event: str, *, email: str, payload: Mapping[str, object]) -> None:
        self._call("send_event")
        self.events.append((event, email, dict(payload)))


class _Observed:
    def __init__(self, fake: FakeResend, observer: Callable[[str, int, float], None]) -> None:
        self._fake = fake
        self._observer = observer

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._fake, name)
        if not callable(attribute) or name.startswith("_"):
            return attribute

        def observed(*args: Any, **kwargs: Any) -> Any:
            self._observer(name, 200, 0.0)
            return attribute(*args, **kwargs)

        return observed


def make_sync(
    resend: FakeResend,
    client: redis.Redis,
    *,
    on_consent_kept: Callable[[str], None] | None = None,
    **destination: Any,
) -> EventSync:
    """The real EventSync on a fake Resend and the given Redis, with these destination settings."""
    settings = load_settings(
        redis={"key_prefix": "t:"}, resend={"base_url": "http://127.0.0.1:9"}, destination=destination
    )
    return EventSync(
        settings, cast(ResendClient, resend), state_store(settings, client), on_consent_kept=on_consent_kept
    )


def identify(email: str, **traits: Any) -> Event:
    """An identify event for ``email`` with these traits."""
    return Event.from_dict({"type": "identify", "traits": {"email": email, **traits}})


def managed_record(resend: FakeResend, email: str) -> set[str]:
    """The segment names the contact's managed-audiences property lists, as Resend holds it."""
    raw = resend.contacts[email].properties.get("cdp_managed_audiences", "[]")
    return {resend.segments[i] for i in raw.strip("[]").split(",") if i}
