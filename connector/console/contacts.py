"""Contacts: find one by email or userId; its sync status, last outcomes, segments, consent and ids;
"Sync again"; the contacts whose last event failed. Redis and Kafka only: no Resend call."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, SecretStr
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from connector.console import topics
from connector.console.backend import Backend
from connector.console.web import action, backend_of, operator_of, pathpart, render
from connector.errors import InvalidEventError
from connector.mapping.email import normalise_email
from connector.pipeline.history import HistoryEntry, read_history
from connector.pipeline.places import judged_at, sync_again_header

__all__ = ["contact_page", "contacts_page", "sync_again"]

_NOTES = {
    "queued": "The contact's last event was produced to the events topic again; the connector is applying it, "
    "as of the event's original place: an opt-out or erasure newer than it stays in force.",
    "gone": "The contact's last event is no longer in Kafka (retention): nothing to sync again.",
    "none": "No event of this contact is recorded in the last 14 days: nothing to sync again.",
}


def _find(backend: Backend, query: str) -> str | None:
    """The email a search names: an email as given, or the one a userId resolves to."""
    if "@" in query:
        try:
            return normalise_email(query)
        except InvalidEventError:
            return None
    return backend.store.email_for(query)


def _failed(backend: Backend) -> list[Any]:
    return [backend.store.sync_record(email) for email in backend.store.emails_failed(50)]


async def contacts_page(request: Request) -> Response:
    operator_of(request)
    backend = backend_of(request)
    query = request.query_params.get("q", "").strip()
    if query:
        email = await run_in_threadpool(_find, backend, query)
        if email is not None:
            return RedirectResponse(f"/contacts/{pathpart(email)}", status_code=303)
    failed = await run_in_threadpool(_failed, backend)
    recent = await run_in_threadpool(backend.store.emails_since, datetime.now(UTC) - timedelta(days=1), 20)
    return render(request, "contacts.html", query=query, not_found=bool(query), failed=failed, recent=recent)


def _mask(value: str, on: bool) -> str:
    return value if not on or len(value) <= 1 else value[:1] + "***"


def _consent(backend: Backend, email: str, history: list[HistoryEntry]) -> dict[str, Any]:
    flag, at_ms = backend.store.consent(email)
    source = "Resend (a webhook or a read of the contact)"
    for entry in history:  # an event that wrote the flag (or created the contact) when it was observed
        wrote = "unsubscribed" in entry.fields or "CreateContact" in entry.commands
        if wrote and abs(entry.at * 1000 - at_ms) < 5_000:
            source = f"event {entry.message_id or '(no messageId)'}"
            break
    topics: dict[str, tuple[str, float, str]] = {}  # name -> (subscription, when, event): the newest write
    for entry in history:
        for key, value in entry.fields.items():
            if key.startswith("topic:"):
                topics.setdefault(key.removeprefix("topic:"), (value, entry.at, entry.message_id or "-"))
    return {"unsubscribed": flag, "at": at_ms / 1000 if at_ms else None, "source": source, "topics": topics}


def _secrets(model: BaseModel) -> list[str]:
    """Every secret value of the settings (the API key, the console's token, passwords, ...)."""
    found: list[str] = []
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, SecretStr) and len(value.get_secret_value()) >= 4:
            found.append(value.get_secret_value())
        elif isinstance(value, BaseModel):
            found.extend(_secrets(value))
    return found


def _reason(entry: HistoryEntry, mask: bool, secrets: list[str]) -> str:
    """A dead-lettered event's error as shown: the error's class and, masked like the fields written
    (console.mask_values), its message; a secret value never shows, even if an error quoted one."""
    if entry.outcome != "dead_lettered":
        return entry.reason
    name, colon, message = entry.reason.partition(": ")
    text = f"{name}{colon}{_mask(message, mask)}"
    for secret in secrets:
        text = text.replace(secret, "**********")
    return text


def _contact(backend: Backend, email: str) -> dict[str, Any]:
    record = backend.store.sync_record(email)
    history = read_history(backend.redis, backend.settings.redis.key_prefix, email)
    names = {segment_id: name for name, segment_id in backend.store.segment_ids()[0].items()}
    mask, secrets = backend.settings.console.mask_values, _secrets(backend.settings)
    shown = [entry._replace(fields={k: _mask(v, mask) for k, v in entry.fields.items()},
                            reason=_reason(entry, mask, secrets)) for entry in history]  # fmt: skip
    last_error = record.last_error
    if shown and shown[0].outcome == "dead_lettered":  # the newest outcome: its record was dead-lettered
        status, last_error = "failed", shown[0].reason
    elif record.last_outcome == "failed":
        status = "failed"
    elif record.last_outcome == "synced":
        status = "synced"
    else:
        status = "pending" if history or record.known else "unknown"
    return {
        "record": record,
        "status": status,
        "last_error": last_error,
        "history": shown,
        "segments": sorted(names.get(i, i) for i in record.managed),
        "consent": _consent(backend, email, history),
    }


async def contact_page(request: Request) -> Response:
    operator_of(request)
    email = request.path_params["email"]
    found = await run_in_threadpool(_contact, backend_of(request), email)
    note = _NOTES.get(request.query_params.get("note", ""))
    return render(request, "contact.html", email=email, note=note, **found)


def _sync_again(backend: Backend, email: str) -> str:
    """The contact's last event (a dead-lettered one included) produced to the events topic again."""
    kafka = backend.settings.kafka
    history = read_history(backend.redis, backend.settings.redis.key_prefix, email)
    if not history:
        return "none"
    last = history[0]
    record = topics.read_record(kafka, last.topic, last.partition, last.offset)
    if record is None:
        return "gone"
    # Forced: what the connector remembers having written is forgotten, so the event writes every
    # field again instead of skipping those it trusts Resend to hold (destination.skip_unchanged_seconds).
    backend.store.forget_written(email)
    if last.topic != kafka.topic:  # not a place in the events topic: nothing to be judged at
        topics.produce_again(kafka, kafka.topic, record)
        return "queued"
    # The copy gets a new offset, newer than every opt-out and erasure the express register holds: it
    # names the original's place (the original's original, for a copy of a copy) and goes to the same
    # partition, so both paths judge it there and it undoes none of them (pipeline/places.py).
    at = judged_at(record.partition, record.offset, record.timestamp, record.headers)
    topics.produce_again(kafka, kafka.topic, record, [sync_again_header(at)], partition=at.partition)
    return "queued"


async def sync_again(request: Request) -> Response:
    operator, _ = await action(request)
    backend = backend_of(request)
    email = request.path_params["email"]
    note = await run_in_threadpool(_sync_again, backend, email)
    backend.audit(operator, "sync_again", email=email, result=note)
    return RedirectResponse(f"/contacts/{pathpart(email)}?note={note}", status_code=303)
