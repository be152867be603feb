"""``resend-connector status``: what the connector knows about contacts.

Everything comes from the sync records the connector keeps in Redis as it works
(:class:`connector.state.SyncRecord`); Resend is not asked, so the answer costs no rate limit.
Contacts are named one by one (arguments, or a file of emails), or found through the indexes the
state store keeps: every contact whose last event failed (``--failed``), every contact with a sync
record since a time (``--since``).
"""

from __future__ import annotations

import argparse
import json
import sys
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import redis

from connector.errors import ConfigurationError, InvalidEventError
from connector.mapping.email import normalise_email
from connector.settings import Settings
from connector.state import StateStore, SyncRecord
from connector.wiring import Wiring, state_store

__all__ = ["StatusQuery", "format_status", "run_status", "status_json"]


@dataclass(frozen=True, slots=True)
class StatusQuery:
    emails: tuple[str, ...] = ()
    failed: bool = False
    since: datetime | None = None
    limit: int = 1000

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> StatusQuery:
        emails = list(args.emails)
        if args.file is not None:
            emails.extend(_read_emails(args.file))
        since = _parse_time(args.since) if args.since else None
        if not emails and not args.failed and since is None:
            raise ConfigurationError("status needs an EMAIL, --file, --failed or --since")
        if args.limit < 1:
            raise ConfigurationError("--limit must be at least 1")
        return cls(tuple(emails), args.failed, since, args.limit)


def _read_emails(path: Path) -> list[str]:
    if str(path) == "-":
        text = sys.stdin.read()
    else:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigurationError(f"emails file not found: {path}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigurationError(f"cannot read emails file {path}: {type(exc).__name__}") from None
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def _parse_time(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigurationError(f"--since: not an ISO-8601 time: {text!r}") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def format_status(record: SyncRecord, segment_names: dict[str, str]) -> list[str]:
    """The lines ``status`` prints; ``segment_names`` maps segment id -> name (ids show when unknown)."""
    fields = [(label, _text(value, "never" if label == "last sync" else "none"))
              for label, value in _fields(record, segment_names).items()]  # fmt: skip
    return [f"{label + ':':18} {value}" for label, value in fields]


def _fields(record: SyncRecord, segment_names: dict[str, str]) -> dict[str, Any]:
    return {
        "email": record.email,
        "known contact": record.known,
        "last sync": record.last_sync,
        "last outcome": record.last_outcome,
        "last error": record.last_error,
        "managed segments": sorted(segment_names.get(i, i) for i in record.managed),
        "userIds": sorted(record.user_ids),
    }


def _text(value: Any, empty: str) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(value) or empty
    return str(value) if value else empty


def status_json(record: SyncRecord, segment_names: dict[str, str]) -> dict[str, Any]:
    return {label.replace(" ", "_").replace("userIds", "user_ids"): value
            for label, value in _fields(record, segment_names).items()}  # fmt: skip


def _knows_anything(record: SyncRecord) -> bool:
    return record.known or record.last_sync is not None or bool(record.user_ids)


def _select(store: StateStore, query: StatusQuery) -> tuple[list[str], list[str]]:
    """(emails to show, problems): named ones first, then what the indexes find, each email once."""
    chosen: dict[str, None] = {}
    problems: list[str] = []
    for email in query.emails:
        try:
            chosen[normalise_email(email)] = None
        except InvalidEventError as exc:
            problems.append(f"{email}: {exc}")
    if query.failed or query.since is not None:
        found = store.emails_failed(query.limit) if query.failed else []
        if query.since is not None:
            recent = store.emails_since(query.since, query.limit)
            found = [e for e in found if e in set(recent)] if query.failed else recent
        chosen.update(dict.fromkeys(found))
    return list(chosen)[: max(query.limit, len(query.emails))], problems


def _found_by_index(query: StatusQuery, emails: list[str]) -> list[str]:
    """Those of ``emails`` that were not named by the operator (an index found them)."""
    named: set[str] = set()
    for email in query.emails:
        try:
            named.add(normalise_email(email))
        except InvalidEventError:
            continue
    return [e for e in emails if e not in named]


def run_status(
    settings: Settings,
    query: StatusQuery,
    out: TextIO,
    *,
    as_json: bool = False,
    redis_client: redis.Redis | None = None,
) -> int:
    """Prints what is known; exit 1 when a named email is invalid or unknown to the connector."""
    if not query.failed and query.since is None and len(query.emails) == 1:
        try:
            normalise_email(query.emails[0])
        except InvalidEventError as exc:  # refused before any server is reached
            print(f"status: {exc}", file=out)
            return 1
    with ExitStack() as stack:
        store = state_store(settings, redis_client) if redis_client is not None else Wiring(settings, stack).store
        emails, problems = _select(store, query)
        records = [store.sync_record(email) for email in emails]
        names = {segment_id: name for name, segment_id in store.segment_ids()[0].items()}
    named = set(emails) - set(_found_by_index(query, emails))
    unknown = [r.email for r in records if r.email in named and not _knows_anything(r)]
    if as_json:
        body = {"contacts": [status_json(r, names) for r in records], "invalid": problems, "unknown": unknown}
        print(json.dumps(body, indent=2), file=out)
    else:
        for problem in problems:
            print(f"status: {problem}", file=out)
        for index, record in enumerate(records):
            if index:
                print(file=out)
            for line in format_status(record, names):
                print(line, file=out)
        if not records and not problems:
            print("status: no contact matches", file=out)
    return 1 if problems or unknown else 0
