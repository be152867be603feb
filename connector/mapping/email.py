"""Which email an event is about (Resend's only stable key), normalised and validated.

Validity is the syntax of RFC 5322 / 5321 as a sending service accepts it, checked by
``email-validator`` (the library behind pydantic's EmailStr), not by a hand-written pattern: control
characters (NUL, BEL, ...), spaces, invisible and bidirectional-override characters, quoted local
parts, IP-literal domains, consecutive dots and reserved domains (``.test``, ``.local``, ...) are all
refused. A lone surrogate (valid JSON, ``"\\ud800"``, but not Unicode text) is refused by name. The
reasons name characters by code point and never quote them, so they are safe in dead-letter headers.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from email_validator import EmailNotValidError, validate_email

from connector.errors import InvalidEventError
from connector.events import Event
from connector.text import lone_surrogate

__all__ = ["direct_email", "normalise_email"]

_MAX_LOCAL = 64  # RFC 5321 4.5.3.1.1
_MAX_ADDRESS = 254  # RFC 5321 4.5.3.1.3 (a 256-octet path less its angle brackets)


def normalise_email(raw: Any) -> str:
    """Trimmed and lower-cased; InvalidEventError (saying why) for anything that is not a valid email."""
    if not isinstance(raw, str):
        raise InvalidEventError(f"email must be a string, not {type(raw).__name__}")
    return _checked(raw.strip().lower())


@lru_cache(maxsize=16_384)  # the library costs ~20 us a call; a contact's events come close together
def _checked(email: str) -> str:
    if (surrogate := lone_surrogate(email)) is not None:
        raise InvalidEventError(f"email is not valid text: it holds a lone surrogate {surrogate}")
    local, _, domain = email.rpartition("@")
    if len(email) > _MAX_ADDRESS:
        raise InvalidEventError(f"email is not a valid address: longer than {_MAX_ADDRESS} characters")
    if len(local) > _MAX_LOCAL:
        raise InvalidEventError(f"email is not a valid address: more than {_MAX_LOCAL} characters before the @")
    try:
        validate_email(email, check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidEventError(f"email is not a valid address: {exc}") from None
    if len(domain.rsplit(".", 1)[-1]) < 2:  # no top-level domain has one letter; the library allows it
        raise InvalidEventError("email is not a valid address: its top-level domain has one character")
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
