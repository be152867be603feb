"""How resources look in answers, and Resend's cursor pagination."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from resend_emulator.api import ApiError, Json, Query
from resend_emulator.world import Contact, Segment

__all__ = ["contact_view", "newest_first", "page", "segment_view"]

T = TypeVar("T")


def contact_view(c: Contact, *, with_properties: bool = True) -> Json:
    """A contact as ``GET /contacts/{id}`` shows it; list items (``with_properties=False``) carry
    neither ``object`` nor ``properties`` (recordings: GET /contacts, GET /segments/{id}/contacts)."""
    view: Json = {"id": c.id, "email": c.email, "first_name": c.first_name, "last_name": c.last_name,
                  "created_at": c.created_at, "unsubscribed": c.unsubscribed}  # fmt: skip
    if with_properties:
        view = {"object": "contact", **view}
        # The live answer wraps each value with its type (docs, Node and Rust SDKs).
        view["properties"] = {
            k: {"type": "number" if isinstance(v, int | float) else "string", "value": v}
            for k, v in c.properties.items()
        }
    return view


def segment_view(s: Segment) -> Json:
    return {"id": s.id, "name": s.name, "created_at": s.created_at}


def newest_first(items: Iterable[T]) -> list[T]:
    """Resend lists newest first (every list in the recordings); the tables keep creation order."""
    return list(reversed(list(items)))


def page(items: list[Json], query: Query, *, everything_by_default: bool = False) -> Json:
    """One page of ``items`` (already newest first); ``after``/``before`` are ids within them."""
    if everything_by_default and not query.keys() & {"limit", "after", "before"}:
        return {"object": "list", "has_more": False, "data": items}
    try:
        limit = int(query.get("limit", "20"))
    except ValueError:
        raise ApiError(422, "invalid_parameter", "limit must be a number") from None
    if not 1 <= limit <= 100:
        raise ApiError(422, "invalid_parameter", "limit must be between 1 and 100")
    if "after" in query and "before" in query:
        raise ApiError(422, "invalid_parameter", "use either after or before, not both")
    ids = [item["id"] for item in items]
    start, end = 0, len(items)
    if "after" in query:
        start = ids.index(query["after"]) + 1 if query["after"] in ids else len(items)
        end = start + limit
    elif "before" in query:
        end = ids.index(query["before"]) if query["before"] in ids else 0
        start = max(0, end - limit)
    else:
        end = limit
    has_more = end < len(items) if "before" not in query else start > 0
    return {"object": "list", "has_more": has_more, "data": items[start:end]}
