"""Pure questions about a plan that EventSync asks before carrying it out."""

from __future__ import annotations

from connector.mapping import AddToSegment, ContactState, CreateContact, Plan, RememberContact, RemoveFromSegment

__all__ = ["email_of", "fresher", "reconciles"]


def fresher(in_redis: ContactState | None, fetched: ContactState | None) -> ContactState | None:
    """What Redis says now, unless it does not know what we manage and Resend told this event."""
    if in_redis is None or (in_redis.managed is None and fetched is not None):
        return fetched or in_redis
    return in_redis


def reconciles(plan: Plan) -> bool:
    """Whether carrying the plan out creates a contact or changes what the connector manages."""
    return any(
        isinstance(c, CreateContact | AddToSegment | RemoveFromSegment)
        or (isinstance(c, RememberContact) and c.managed is not None)
        for c in plan.commands
    )


def email_of(plan: Plan) -> str | None:
    for command in plan.commands:
        email = getattr(command, "email", None)
        if isinstance(email, str):
            return email
    return None
