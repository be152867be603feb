"""Resend's HTTP API as the connector uses it: a typed client and a rate limit shared through Redis."""

from connector.resend.client import Observer, ResendClient
from connector.resend.models import (
    Contact,
    ContactImport,
    ContactPage,
    ListedContact,
    PropertyDefinition,
    PropertyValue,
    Segment,
)
from connector.resend.ratelimit import RateLimiter, first_in_line

__all__ = [
    "Contact",
    "ContactImport",
    "ContactPage",
    "ListedContact",
    "Observer",
    "PropertyDefinition",
    "PropertyValue",
    "RateLimiter",
    "ResendClient",
    "Segment",
    "first_in_line",
]
