"""The consent rule: a person's unsubscribe is never overridden by an event trait by accident.

A contact known to be unsubscribed in Resend (from a webhook, a read of the contact, or the
connector's own earlier write) is not re-subscribed by ``unsubscribed: false`` unless
``destination.allow_resubscribe`` is set. The event's other fields still sync; the dropped field
becomes a :class:`KeptConsent` command, which the executor logs and counts. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from connector.mapping.state import KnownState
from connector.settings import DestinationSettings

__all__ = ["ConsentDecision", "KeptConsent", "LookupConsent", "RememberConsent", "guard_unsubscribe"]


@dataclass(frozen=True, slots=True)
class LookupConsent:
    """Redis knows the contact but not its flag: read it from Resend once (then Redis knows)."""

    email: str

    def describe(self) -> str:
        return f"GET /contacts/{self.email} (is the contact unsubscribed in Resend?)"


@dataclass(frozen=True, slots=True)
class KeptConsent:
    """``unsubscribed: false`` was dropped: the contact stays unsubscribed (logged and counted)."""

    email: str
    field: str = "unsubscribed"

    def describe(self) -> str:
        return f"keep {self.email} unsubscribed (the event's {self.field}: false is dropped)"


@dataclass(frozen=True, slots=True)
class RememberConsent:
    """Redis learns the flag the connector has just written."""

    email: str
    unsubscribed: bool

    def describe(self) -> str:
        return f"remember {self.email}: unsubscribed={self.unsubscribed}"


@dataclass(frozen=True, slots=True)
class ConsentDecision:
    fields: tuple[tuple[str, Any], ...]  # the contact fields to write, the dropped one removed
    prerequisites: tuple[LookupConsent | Any, ...] = ()  # what must be known before deciding
    before: tuple[KeptConsent, ...] = ()  # carried out with the plan (also when nothing else is written)
    after: tuple[RememberConsent, ...] = ()  # carried out after the write


def guard_unsubscribe(
    email: str,
    fields: Sequence[tuple[str, Any]],
    state: KnownState,
    settings: DestinationSettings,
    *,
    lookup: Any,
) -> ConsentDecision:
    """Decide the ``unsubscribed`` field of a contact write.

    ``lookup`` is the prerequisite that tells whether Redis knows the contact (the planner's
    LookupContact), asked for when the contact is unknown and the event would re-subscribe it.
    """
    fields = tuple(fields)
    wanted = next((v for k, v in fields if k == "unsubscribed"), None)
    if wanted is None:
        return ConsentDecision(fields)
    contact = state.contact
    if contact is not None and not contact.exists:
        return ConsentDecision(fields)  # a new contact: nothing to override; its creation records the flag
    known = None if contact is None else contact.unsubscribed
    remember = () if known is wanted else (RememberConsent(email, wanted),)
    if wanted is True or settings.allow_resubscribe:
        return ConsentDecision(fields, after=remember)
    if contact is None:
        return ConsentDecision(fields, prerequisites=(lookup,))
    if known is None:
        return ConsentDecision(fields, prerequisites=(LookupConsent(email),))
    if known:
        kept = tuple((k, v) for k, v in fields if k != "unsubscribed")
        return ConsentDecision(kept, before=(KeptConsent(email),))
    return ConsentDecision(fields)
