"""What Redis, the email index or Resend say about a contact before an event is planned."""

from __future__ import annotations

from connector.errors import ResendNotFound
from connector.mapping.state import ContactState, parse_managed
from connector.state import EmailIndex, StateStore
from connector.sync.consent_topics import now_ms
from connector.sync.context import EventContext

__all__ = ["lookup_contact"]


def lookup_contact(
    email: str,
    context: EventContext,
    store: StateStore,
    index: EmailIndex | None,
    managed_key: str,
    *,
    trust_cache: bool,
) -> ContactState:
    """The contact's state: Redis's record when it knows what the connector manages; else "new"
    where that is safe (``trust_cache``, or the email index knows the email is absent); else the
    contact as Resend holds it, remembered in ``context.fetched`` (kept by RememberContact, #19)."""
    found, known = context.ahead.take(email) if context.ahead is not None else (False, None)
    if not found:
        known = store.contact(email)
    if known is not None and known.managed is not None:
        return known
    if known is None and trust_cache:
        return ContactState(exists=False, members=frozenset())  # Redis knows every contact: new
    if known is None and index is not None and index.knows_absent(email, context.resend):
        context.fetched[email] = ContactState(exists=False, members=frozenset())
        return context.fetched[email]  # not a contact of the team: one POST creates it
    # Redis does not know the contact, or knows it exists but not what we manage: Resend says.
    try:
        contact = context.resend.get_contact(email)
    except ResendNotFound:
        state = ContactState(exists=False, members=frozenset())
    else:
        # First sight of a contact that exists in Resend (created elsewhere, or by the reference
        # destination): what it says we manage is all we may ever remove.
        managed = parse_managed(contact.properties.get(managed_key))
        state = ContactState(
            exists=True,
            managed=managed,
            members=known.members if known else None,
            unsubscribed=contact.unsubscribed,
        )
        store.remember_unsubscribed(email, contact.unsubscribed, now_ms())
    context.fetched[email] = state
    return state
