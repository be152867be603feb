"""Which email an event is about (Resend's only stable key), normalised and validated."""

from __future__ import annotations

import re
from typing import Any

from connector.errors import InvalidEventError
from connector.events import Event

__all__ = ["direct_email", "normalise_email"]

# Pragmatic, not RFC 5322: one @, no spaces, a dot in the domain, sane lengths.
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s.]{2,}$")


def normalise_email(raw: Any) -> str:
    """Trimmed and lower-cased; InvalidEventError for anything that is not a valid email."""
    if not isinstance(raw, str):
        raise InvalidEventError(f"email must be a string, not {type(raw).__name__}")
    email = raw.strip().lower()
    if len(email) > 254 or not _EMAIL.match(email):
        raise InvalidEventError("email is not a valid address")
    return email


def direct_email(event: Event) -> str | None:
    """The email the event itself carries, before any cache lookup.

    identify / track / page / screen: ``traits.email``, else ``context.traits.email``.
    group: only ``context.traits.email``: a group's traits describe the group, and its email is
    the company's, not the person's.
    """
    candidates = (event.context_traits.get("email"),) if event.type == "group" else (
        event.traits.get("email"), event.context_traits.get("email"))  # fmt: skip
    for raw in candidates:
        if raw is not None and raw != "":
            return normalise_email(raw)
    return None
