"""What the newer resource modules read from the emulator's core (state.py), in one place.

Handlers run under the team's lock, so they cannot go through ``Resend.call``; they read the core's
records through these few functions instead (when the core's layout changes, only this file does).
Work done outside the lock (imports, the inspection calls) goes through ``Resend.call`` like a client.
"""

from __future__ import annotations

from typing import Any

from connector.emulator.state import _EMAIL, ApiError, Contact, Resend

__all__ = ["ApiError", "Contact", "Resend", "contact_of", "page", "property_type", "segment_exists", "valid_email"]


def contact_of(resend: Resend, id_or_email: str) -> Contact:
    """The contact (404 ``not_found`` when there is none)."""
    return resend._contact(id_or_email)


def segment_exists(resend: Resend, segment_id: str) -> bool:
    return segment_id in resend.segments


def property_type(resend: Resend, key: str) -> str | None:
    """``string`` / ``number`` for a defined contact property, None when it is not defined."""
    prop = resend.properties.get(key)
    return prop.type if prop is not None else None


def page(items: list[dict[str, Any]], query: dict[str, str]) -> dict[str, Any]:
    """A ``{object: list, has_more, data}`` page with Resend's ``limit``/``after``/``before`` rules."""
    return Resend._page(items, query)


def valid_email(email: str) -> bool:
    """The same rule as ``POST /contacts``."""
    return bool(_EMAIL.match(email.strip()))
