"""Redis for contacts a bulk backfill loaded: what it knows already, and learning many at once (#14)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from connector.mapping.state import format_managed
from connector.redisio import translated
from connector.state.store import StateStore

__all__ = ["ImportedContact", "known_contacts", "remember_imported"]

_CHUNK = 1000  # contacts per round trip

# (email, managed segment ids, userId -> email mappings, field fingerprints)
ImportedContact = tuple[str, frozenset[str], Sequence[tuple[str, str]], Mapping[str, str]]


def known_contacts(store: StateStore, emails: Sequence[str]) -> set[str]:
    """Which of ``emails`` Redis knows as contacts."""
    known: set[str] = set()
    with translated():
        for start in range(0, len(emails), _CHUNK):
            chunk = emails[start : start + _CHUNK]
            pipe = store.client.pipeline(transaction=False)
            for email in chunk:
                pipe.hget(store.key("contact", email), "exists")
            known.update(e for e, flag in zip(chunk, pipe.execute(), strict=True) if flag == "1")
    return known


def remember_imported(store: StateStore, contacts: Sequence[ImportedContact]) -> None:
    """Contacts an import created, as if each had been identified: exists, managed (and known)
    memberships, the sync record, userId mappings and field fingerprints."""
    now = datetime.now(UTC).isoformat(timespec="seconds")
    ttl = store.fields_ttl_seconds
    with translated():
        for start in range(0, len(contacts), _CHUNK):
            pipe = store.client.pipeline(transaction=False)
            for email, managed, users, written in contacts[start : start + _CHUNK]:
                store.queue_users(pipe, users)
                record: dict[Any, Any] = {"exists": "1", "managed": format_managed(managed),
                                          "members": format_managed(managed), "last_sync": now,
                                          "last_outcome": "synced", "last_error": ""}  # fmt: skip
                pipe.hset(store.key("contact", email), mapping=record)
                if written and ttl > 0:
                    fields: dict[Any, Any] = dict(written)
                    pipe.hset(store.key("fields", email), mapping=fields)
                    pipe.expire(store.key("fields", email), ttl)
            pipe.execute()
