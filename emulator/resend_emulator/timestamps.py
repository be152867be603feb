"""Webhook payload timestamps: ISO-8601 (the OpenAPI ``*Event`` schemas), unlike REST's ``... 20:39:59.540771+00``."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["iso_now", "iso_of_rest"]


def iso_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def iso_of_rest(stamp: str) -> str:
    """``2025-11-30 20:39:59.540771+00`` -> ``2025-11-30T20:39:59.540Z`` (a contact's created_at in an event)."""
    try:
        parsed = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S.%f+00")
    except ValueError:
        return stamp
    return parsed.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
