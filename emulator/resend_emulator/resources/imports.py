"""Contact imports: ``POST /contacts/imports`` (multipart CSV), ``GET /contacts/imports[/{id}]``.

Asynchronous as in Resend: the POST checks the request and answers 201 ``{object: contact_import, id}``
with the import ``queued``; the account's job thread takes imports in order (``in_progress``, counts
growing row by row) and ends each ``completed`` with ``completed_at`` (``failed`` only when the import
could not run at all). Rows become contact writes through the emulator's own contact calls, so every
rule and webhook of ``POST/PATCH /contacts`` applies: a new email is created (with the import's
segments and topics), an existing one is skipped (``on_conflict: skip``, the default) or updated and
added to the segments (``upsert``). Row rules: import_rows.py.

Which rows failed: Resend's API gives only ``counts.failed`` (the OpenAPI ``ContactImport`` has no
row-level detail), so the emulator's API offers no more; ``/_emulator/state`` lists each failed row's
number and reason under ``imports`` for tests, and every mapped cell an import left empty
(``empty_cells``: what an empty cell does to an existing contact is documented nowhere, so tests
assert a client never sends one). ``POST /_emulator/imports`` with ``{"paused": true}`` holds
imports in ``queued``; ``{"rows_per_second": 50}`` slows them down (0 = as fast as possible);
``{"available": false}`` makes the account a team without the contact imports beta: every imports
route answers 403 ``invalid_permission``. Resend's sources say only that such a team gets a 4xx
(resend-api.md, Contact imports; the OpenAPI lists no error answers): 403 is the status of the
error table that means "this key may not do this" without being a key problem, and the body has
Resend's error shape ``{statusCode, name, message}``.
"""

from __future__ import annotations

import json
import uuid
from typing import Any
from urllib.parse import quote

from resend_emulator.api import Answer, ApiError, Json, Query, Routes, not_found, now
from resend_emulator.import_rows import BadRow, Row, empty_cells, parse_column_map, plan_row, read_csv
from resend_emulator.records import ContactImport
from resend_emulator.resources.topics import checked_topics
from resend_emulator.views import page
from resend_emulator.world import World

__all__ = ["MAX_FILE_BYTES", "routes"]

routes = Routes()

# "Maximum size is 50MB" (OpenAPI CreateContactImportOptions.file): read as 50,000,000 bytes, the
# stricter of the two readings, so a client that splits files for the emulator also fits Resend.
MAX_FILE_BYTES = 50_000_000
_STATUSES = ("queued", "in_progress", "completed", "failed")


def _view(i: ContactImport) -> Json:
    return {"object": "contact_import", "id": i.id, "status": i.status, "created_at": i.created_at,
            "completed_at": i.completed_at, "counts": dict(i.counts)}  # fmt: skip


def _json_list(body: Json, name: str) -> list[Any]:
    raw = body.get(name)
    if raw is None or raw == "":
        return []
    try:
        value = json.loads(raw) if isinstance(raw, str | bytes) else raw
    except ValueError:
        raise ApiError(422, "validation_error", f"`{name}` must be a JSON array") from None
    if not isinstance(value, list):
        raise ApiError(422, "validation_error", f"`{name}` must be a JSON array")
    return value


def _mapped_keys(body: Json) -> list[str]:
    try:
        raw = json.loads(body.get("column_map") or "{}")
        return [str(k) for k in (raw.get("properties") or {})] if isinstance(raw, dict) else []
    except (ValueError, AttributeError):
        return []  # parse_column_map reports it


def _available(world: World) -> None:
    if not world.runtime.imports_available:
        raise ApiError(403, "invalid_permission", "Contact imports are in beta and not available to this team")


def _types(world: World, keys: Any) -> dict[str, str | None]:
    return {key: (world.properties[key].type if key in world.properties else None) for key in keys}


@routes.add("POST", "/contacts/imports")
def create_import(world: World, *, query: Query, body: Json) -> Answer:
    _available(world)
    data = body.get("file")
    if data is None:
        raise ApiError(422, "missing_required_field", "Missing `file` field.")
    if isinstance(data, str):  # sent as a plain form field rather than a file part
        data = data.encode()
    if len(data) > MAX_FILE_BYTES:
        raise ApiError(422, "validation_error", "The file is larger than the 50MB limit")
    on_conflict = body.get("on_conflict") or "skip"
    if on_conflict not in ("upsert", "skip"):
        raise ApiError(422, "validation_error", "`on_conflict` must be upsert or skip")
    header, rows = read_csv(data)
    column_map = parse_column_map(body.get("column_map"), header, _types(world, _mapped_keys(body)))
    segments = [s["id"] if isinstance(s, dict) else str(s) for s in _json_list(body, "segments")]
    for segment_id in segments:
        world.segment(segment_id)
    topics = _json_list(body, "topics")
    checked_topics(world, topics)
    imp = ContactImport(str(uuid.uuid4()), header, rows, column_map, on_conflict, segments, topics)
    imp.counts = {"total": len(rows), "created": 0, "updated": 0, "skipped": 0, "failed": 0}
    world.imports[imp.id] = imp
    world.runtime.jobs.submit(lambda: _run(world, imp))
    return 201, {"object": "contact_import", "id": imp.id}


@routes.add("GET", "/contacts/imports")
def list_imports(world: World, *, query: Query, body: Json) -> Answer:
    _available(world)
    status = query.get("status")
    if status is not None and status not in _STATUSES:
        raise ApiError(422, "invalid_parameter", "`status` must be queued, in_progress, completed or failed")
    items = [_view(i) for i in reversed(world.imports.values()) if status in (None, i.status)]  # newest first
    return 200, page(items, query)


@routes.add("GET", "/contacts/imports/{id}")
def get_import(world: World, import_id: str, *, query: Query, body: Json) -> Answer:
    _available(world)
    imp = world.imports.get(import_id)
    if imp is None:
        raise not_found("Contact import")
    return 200, _view(imp)


# -- processing, on the job thread (outside the lock; contact writes go through Resend's calls) ------


def _run(world: World, imp: ContactImport) -> None:
    runtime = world.runtime
    try:
        with runtime.lock:
            imp.status = "in_progress"
            types = _types(world, imp.column_map.properties)
        for number, cells in enumerate(imp.rows, start=1):
            rate = runtime.import_rows_per_second
            if rate > 0 and runtime.jobs.wait(1 / rate):
                return
            planned = plan_row(number, cells, imp.header, imp.column_map, types)
            outcome, reason = ("failed", planned.reason) if isinstance(planned, BadRow) else _apply(world, imp, planned)
            empty = empty_cells(cells, imp.header, imp.column_map)
            with runtime.lock:
                imp.counts[outcome] += 1
                if empty:
                    imp.empty_cells.append({"row": number, "columns": empty})
                if reason:
                    imp.failed_rows.append({"row": number, "reason": reason})
        with runtime.lock:
            imp.status, imp.completed_at = "completed", now()
    except Exception:  # noqa: BLE001 - an emulator bug must show as a failed import, not a dead job thread
        with runtime.lock:
            imp.status, imp.completed_at = "failed", now()


def _apply(world: World, imp: ContactImport, row: Row) -> tuple[str, str]:
    call = world.runtime.call
    try:
        try:
            _, existing = call("GET", "/contacts/" + quote(row.email, safe=""))
        except ApiError as error:
            if error.status != 404:
                raise
            new: Json = {"email": row.email, **row.fields, "segments": [{"id": s} for s in imp.segments]}
            if row.properties:
                new["properties"] = row.properties
            if imp.topics:
                new["topics"] = imp.topics
            call("POST", "/contacts", new)
            return "created", ""
        if imp.on_conflict == "skip":
            return "skipped", ""
        patch: Json = dict(row.fields)
        if row.properties:
            patch["properties"] = row.properties
        if imp.topics:
            patch["topics"] = imp.topics
        call("PATCH", f"/contacts/{existing['id']}", patch)
        for segment_id in imp.segments:
            call("POST", f"/contacts/{existing['id']}/segments/{segment_id}")
        return "updated", ""
    except ApiError as error:
        return "failed", f"{error.name}: {error.message}"


# -- inspection -----------------------------------------------------------------------------------------


@routes.inspect("POST", "imports")
def control(world: World, body: Any) -> tuple[int, Json]:
    body = body if isinstance(body, dict) else {}
    try:
        rate = max(0.0, float(body.get("rows_per_second", world.runtime.import_rows_per_second)))
    except (TypeError, ValueError):
        return 400, {"message": "rows_per_second must be a number"}
    world.runtime.import_rows_per_second = rate
    if "paused" in body:
        world.runtime.jobs.set_paused(bool(body["paused"]))
    if "available" in body:
        world.runtime.imports_available = bool(body["available"])
    return 200, {"paused": world.runtime.jobs.paused, "rows_per_second": rate,
                 "available": world.runtime.imports_available}  # fmt: skip


@routes.snapshot("imports")
def _imports_state(world: World) -> list[Json]:
    return [{**_view(i), "on_conflict": i.on_conflict, "failed_rows": list(i.failed_rows),
             "empty_cells": list(i.empty_cells)} for i in world.imports.values()]  # fmt: skip
