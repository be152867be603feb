"""What the planner knows before it decides: assembled by the executor from Redis (and lookups)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["ContactState", "KnownState", "format_managed", "parse_managed"]


@dataclass(frozen=True, slots=True)
class ContactState:
    exists: bool
    # Segment ids the connector added; None = not known (Redis holds only "exists"): read from the
    # contact's record in Resend before reconciling, never taken for "manages nothing" (issue #19).
    managed: frozenset[str] | None = frozenset()
    members: frozenset[str] | None = None  # memberships known to exist; None = not known


@dataclass(frozen=True, slots=True)
class KnownState:
    cached_email: str | None = None  # for the event's userId (alias: its previousId)
    cache_checked: bool = False  # whether cached_email was looked up
    contact: ContactState | None = None  # None: Redis does not know this email
    segment_ids: Mapping[str, str] = field(default_factory=dict)  # name -> id
    property_types: Mapping[str, str] = field(default_factory=dict)  # defined key -> "string" | "number"
    refused: frozenset[str] = frozenset()  # keys Resend refused to define, for a while


def format_managed(ids: frozenset[str]) -> str:
    """The managed-audiences property value: ``[id1,id2]``, sorted so equal sets write equal text."""
    return "[" + ",".join(sorted(ids)) + "]"


def parse_managed(raw: object) -> frozenset[str]:
    """Read our format and the reference's (``[id1,id2]``, JSON lists, spaces and quotes allowed)."""
    if isinstance(raw, list):
        return frozenset(str(x).strip() for x in raw if str(x).strip())
    if not isinstance(raw, str):
        return frozenset()
    text = raw.strip().removeprefix("[").removesuffix("]")
    return frozenset(part.strip().strip("'\"").strip() for part in text.split(",") if part.strip().strip("'\""))
