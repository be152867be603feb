"""Deciding what an event means for Resend: pure functions from event + settings + known state to a plan."""

from connector.mapping.audiences import desired_audiences
from connector.mapping.commands import (
    AddToSegment,
    CacheUserEmail,
    Command,
    CopyUserEmail,
    CreateContact,
    DefineProperty,
    DeleteContact,
    EnsureSegment,
    LinkAlias,
    LookupContact,
    LookupMemberships,
    LookupUserEmail,
    Plan,
    Prerequisite,
    RememberContact,
    RemoveFromSegment,
    SendAutomationEvent,
    UpdateContact,
    Write,
)
from connector.mapping.consent import KeptConsent, LookupConsent, RememberConsent
from connector.mapping.keys import property_key
from connector.mapping.planner import plan_event
from connector.mapping.state import ContactState, KnownState, format_managed, parse_managed
from connector.mapping.topics import EnsureTopic, SetTopics, creation_only_topics

__all__ = [
    "AddToSegment",
    "CacheUserEmail",
    "Command",
    "ContactState",
    "CopyUserEmail",
    "CreateContact",
    "DefineProperty",
    "DeleteContact",
    "EnsureSegment",
    "EnsureTopic",
    "KeptConsent",
    "KnownState",
    "LinkAlias",
    "LookupConsent",
    "LookupContact",
    "LookupMemberships",
    "LookupUserEmail",
    "Plan",
    "Prerequisite",
    "RememberConsent",
    "RememberContact",
    "RemoveFromSegment",
    "SendAutomationEvent",
    "SetTopics",
    "UpdateContact",
    "Write",
    "creation_only_topics",
    "desired_audiences",
    "format_managed",
    "parse_managed",
    "plan_event",
    "property_key",
]
