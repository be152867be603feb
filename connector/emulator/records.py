"""The tables of the newer resources (imports, webhooks; topics, broadcasts, suppressions), held by ``World``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from connector.emulator.api import Json, now
from connector.emulator.import_rows import ColumnMap

__all__ = ["ContactImport", "Topic", "Webhook"]


@dataclass
class ContactImport:
    id: str
    header: list[str]
    rows: list[list[str]]
    column_map: ColumnMap
    on_conflict: str
    segments: list[str]
    topics: list[Json]
    status: str = "queued"
    created_at: str = field(default_factory=now)
    completed_at: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    failed_rows: list[Json] = field(default_factory=list)


@dataclass
class Webhook:
    id: str
    endpoint: str
    events: list[str]
    signing_secret: str = field(repr=False)
    status: str = "enabled"
    created_at: str = field(default_factory=now)

    def view(self) -> dict[str, Any]:
        """As listed (the secret only in ``GET /webhooks/{id}``)."""
        return {"id": self.id, "endpoint": self.endpoint, "events": list(self.events), "status": self.status,
                "created_at": self.created_at}  # fmt: skip


@dataclass
class Topic:
    id: str
    name: str
    default_subscription: str  # opt_in / opt_out, fixed at creation
    description: str | None = None
    visibility: str = "private"
    created_at: str = field(default_factory=now)
