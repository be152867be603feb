"""What the connector decided to do: small frozen commands, carried out by connector.sync.

Two kinds: a ``Prerequisite`` (Lookup*, DefineProperty, EnsureSegment, EnsureTopic) gathers or creates
what the planner needs to know, and the planner is asked again; a ``Write`` is a change itself, carried
out in order. One interpreter (connector.sync.interpreter) carries out both.
Every command describes itself in one line for ``--dry-run``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from connector.mapping.consent import KeptConsent, LookupConsent, RememberConsent
from connector.mapping.topics import EnsureTopic, SetTopics, Subscription

__all__ = [
    "AddToSegment",
    "CacheUserEmail",
    "Command",
    "CopyUserEmail",
    "CreateContact",
    "DefineProperty",
    "DeleteContact",
    "EnsureSegment",
    "LinkAlias",
    "LookupContact",
    "LookupMemberships",
    "LookupUserEmail",
    "Plan",
    "Prerequisite",
    "RememberContact",
    "RemoveFromSegment",
    "SendAutomationEvent",
    "UpdateContact",
    "Write",
]

Properties = tuple[tuple[str, "str | int | float | None"], ...]


def _props(properties: Properties) -> str:
    return "{" + ", ".join(f"{k}={v!r}" for k, v in properties) + "}"


@dataclass(frozen=True, slots=True)
class LookupUserEmail:
    user_id: str

    def describe(self) -> str:
        return f"read the cached email of userId {self.user_id}"


@dataclass(frozen=True, slots=True)
class LookupContact:
    email: str

    def describe(self) -> str:
        return f"GET /contacts/{self.email} (is it in Resend already? what did we manage?)"


@dataclass(frozen=True, slots=True)
class LookupMemberships:
    email: str

    def describe(self) -> str:
        return f"GET /contacts/{self.email}/segments (memberships that exist without us)"


@dataclass(frozen=True, slots=True)
class DefineProperty:
    key: str
    type: str = "string"

    def describe(self) -> str:
        return f"POST /contact-properties key={self.key} type={self.type}"


@dataclass(frozen=True, slots=True)
class EnsureSegment:
    name: str

    def describe(self) -> str:
        return f"resolve segment {self.name!r} (POST /segments when it does not exist)"


@dataclass(frozen=True, slots=True)
class CacheUserEmail:
    user_id: str
    email: str

    def describe(self) -> str:
        return f"cache userId {self.user_id} -> {self.email}"


@dataclass(frozen=True, slots=True)
class CopyUserEmail:
    previous_id: str
    user_id: str
    email: str

    def describe(self) -> str:
        return f"cache userId {self.user_id} -> {self.email} (alias of {self.previous_id})"


@dataclass(frozen=True, slots=True)
class LinkAlias:
    """An alias whose previous id has no email yet: keep the link, so that the new id resolves as
    soon as an identify gives the previous id an email (whatever the order they arrive in)."""

    previous_id: str
    user_id: str

    def describe(self) -> str:
        return f"link userId {self.user_id} to {self.previous_id} until {self.previous_id} has an email"


@dataclass(frozen=True, slots=True)
class CreateContact:
    email: str
    first_name: str | None = None
    last_name: str | None = None
    unsubscribed: bool | None = None
    properties: Properties = ()
    segment_ids: tuple[str, ...] = ()
    topics: tuple[tuple[str, str, Subscription], ...] = ()  # (topic id, name, subscription), in the POST

    def describe(self) -> str:
        topics = ", ".join(f"{name}={sub}" for _, name, sub in self.topics)
        return (
            f"POST /contacts email={self.email} first_name={self.first_name!r} last_name={self.last_name!r} "
            f"unsubscribed={self.unsubscribed!r} properties={_props(self.properties)} "
            f"segments={list(self.segment_ids)}" + (f" topics {topics}" if topics else "")
        )


@dataclass(frozen=True, slots=True)
class UpdateContact:
    email: str
    fields: tuple[tuple[str, Any], ...] = ()
    properties: Properties = ()
    upsert: bool = False  # identify: a 404 means our cache is stale, not "skip"

    def describe(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in self.fields)
        return f"PATCH /contacts/{self.email} {fields} properties={_props(self.properties)}".replace("  ", " ")


@dataclass(frozen=True, slots=True)
class AddToSegment:
    email: str
    segment_id: str
    segment_name: str

    def describe(self) -> str:
        return f"POST /contacts/{self.email}/segments/{self.segment_id} ({self.segment_name})"


@dataclass(frozen=True, slots=True)
class RemoveFromSegment:
    email: str
    segment_id: str
    segment_name: str

    def describe(self) -> str:
        return f"DELETE /contacts/{self.email}/segments/{self.segment_id} ({self.segment_name})"


@dataclass(frozen=True, slots=True)
class RememberContact:
    """Redis learns the contact exists and, unless None (unchanged), which memberships the connector
    manages and which it knows exist."""

    email: str
    managed: frozenset[str] | None = None
    members: frozenset[str] | None = None

    def describe(self) -> str:
        if self.managed is None:
            return f"remember {self.email}: exists"
        return f"remember {self.email}: exists, managed={sorted(self.managed)}"


@dataclass(frozen=True, slots=True)
class DeleteContact:
    email: str

    def describe(self) -> str:
        return f"DELETE /contacts/{self.email} and forget its cache entries"


@dataclass(frozen=True, slots=True)
class SendAutomationEvent:
    event: str
    email: str
    payload: tuple[tuple[str, Any], ...] = ()

    def describe(self) -> str:
        return f"POST /events/send event={self.event!r} email={self.email}"


# What the planner needs before it decides: looked up, or created (definitions, segments, topics).
Prerequisite = (
    LookupUserEmail | LookupContact | LookupMemberships | LookupConsent | DefineProperty | EnsureSegment | EnsureTopic
)

# What a decided plan changes in Resend and Redis, in order.
Write = (
    CacheUserEmail
    | CopyUserEmail
    | LinkAlias
    | CreateContact
    | UpdateContact
    | AddToSegment
    | RemoveFromSegment
    | RememberContact
    | DeleteContact
    | SendAutomationEvent
    | KeptConsent
    | RememberConsent
    | SetTopics
)

Command = Prerequisite | Write  # every command the interpreter (connector.sync.interpreter) carries out


@dataclass(frozen=True, slots=True)
class Plan:
    """``skip`` (a reason) or prerequisites to fulfil and plan again, or the commands to carry out."""

    skip: str | None = None
    prerequisites: tuple[Prerequisite, ...] = ()
    commands: tuple[Write, ...] = field(default_factory=tuple)
