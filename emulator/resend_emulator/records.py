"""The tables of the newer resources (imports, webhooks; topics, broadcasts, suppressions), held by ``World``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from resend_emulator.api import Json, now
from resend_emulator.import_rows import ColumnMap

__all__ = ["Broadcast", "ContactImport", "Domain", "Suppression", "Topic", "Webhook"]


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
    empty_cells: list[Json] = field(default_factory=list)  # {row, columns}: mapped cells the file left empty


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


@dataclass
class Suppression:
    id: str
    email: str
    origin: str  # bounce, complaint, manual
    source_id: str | None = None  # the email that bounced or complained
    created_at: str = field(default_factory=now)

    def view(self) -> dict[str, Any]:
        view = {"id": self.id, "email": self.email, "origin": self.origin, "created_at": self.created_at}
        # ``source_id`` is "nullable: true" in the description, a 3.0 keyword its 3.1 schema checks ignore:
        # a manual entry leaves it out rather than answer a null that a contract check refuses.
        return view if self.source_id is None else {**view, "source_id": self.source_id}


@dataclass
class Broadcast:
    id: str
    segment_id: str
    sender: str  # "from"
    subject: str
    name: str | None = None
    reply_to: list[str] = field(default_factory=list)
    preview_text: str | None = None
    html: str | None = None
    text: str | None = None
    topic_id: str | None = None
    status: str = "draft"  # draft, scheduled, queued, sent
    created_at: str = field(default_factory=now)
    scheduled_at: str | None = None
    sent_at: str | None = None
    # Once sent: [{id, contact_id, email}] who got it, and who was skipped as suppressed.
    recipients: list[Json] = field(default_factory=list)
    suppressed: list[Json] = field(default_factory=list)


@dataclass
class Domain:
    id: str
    name: str
    status: str  # not_started, pending, verified, failed, partially_verified, partially_failed
    region: str = "us-east-1"
    open_tracking: bool = False
    click_tracking: bool = False
    created_at: str = field(default_factory=now)
