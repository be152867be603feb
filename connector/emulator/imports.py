"""Contact imports: ``POST /contacts/imports`` (multipart CSV), ``GET /contacts/imports[/{id}]``.

Asynchronous as in Resend: the POST checks the request and answers 201 ``{object: contact_import, id}``
with the import ``queued``; a background thread takes imports in order (``in_progress``, counts growing
row by row) and ends each ``completed`` with ``completed_at`` (``failed`` only when the import could not
run at all). Rows become contact writes through the emulator's own contact calls, so every rule and
webhook of ``POST/PATCH /contacts`` applies: a new email is created (with the import's segments and
topics), an existing one is skipped (``on_conflict: skip``, the default) or updated and added to the
segments (``upsert``). Row rules: import_rows.py.

Which rows failed: Resend's API gives only ``counts.failed`` (the OpenAPI ``ContactImport`` has no
row-level detail), so the emulator offers no more on its API; ``/_emulator/state`` lists each failed
row's number and reason under ``imports`` for tests. ``POST /_emulator/imports`` with ``{"paused": true}``
holds imports in ``queued``; ``{"rows_per_second": 50}`` slows them down (0 = as fast as possible).
"""

from __future__ import annotations

import json
import threading
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from connector.emulator import core
from connector.emulator.core import ApiError
from connector.emulator.extensions import Extensions, Json, rest_now
from connector.emulator.import_rows import BadRow, ColumnMap, parse_column_map, plan_row, read_csv

__all__ = ["MAX_FILE_BYTES", "ContactImports"]

# "Maximum size is 50MB" (OpenAPI CreateContactImportOptions.file): read as 50,000,000 bytes, the
# stricter of the two readings, so a client that splits files for the emulator also fits Resend.
MAX_FILE_BYTES = 50_000_000
_STATUSES = ("queued", "in_progress", "completed", "failed")


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
    created_at: str = field(default_factory=rest_now)
    completed_at: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    failed_rows: list[Json] = field(default_factory=list)

    def view(self) -> Json:
        return {
            "object": "contact_import",
            "id": self.id,
            "status": self.status,
            "created_at": self.created_at,
            "completed_at": self.completed_at,
            "counts": dict(self.counts),
        }


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


class ContactImports:
    def __init__(self, resend: core.Resend) -> None:
        self._resend = resend
        self._imports: dict[str, ContactImport] = {}
        self._queue: deque[str] = deque()
        self._wake = threading.Condition()
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None
        self.paused = False
        self.rows_per_second = 0.0

    def register(self, ext: Extensions) -> None:
        ext.resources["imports"] = self
        ext.route("POST", "/contacts/imports", self._create)
        ext.route("GET", "/contacts/imports", self._list)
        ext.route("GET", "/contacts/imports/{id}", self._get)
        ext.inspections[("POST", "imports")] = self._control
        ext.snapshots["imports"] = self._snapshot
        ext.closers.append(self.close)

    # -- the API (under the team's lock) --------------------------------------------------------

    def _create(self, *, query: dict[str, str], body: Json) -> tuple[int, Json]:
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
        types = {key: core.property_type(self._resend, key) for key in self._mapped_keys(body)}
        column_map = parse_column_map(body.get("column_map"), header, types)
        segments = [s["id"] if isinstance(s, dict) else str(s) for s in _json_list(body, "segments")]
        for segment_id in segments:
            if not core.segment_exists(self._resend, segment_id):
                raise ApiError(404, "not_found", "Segment not found")
        topics = _json_list(body, "topics")
        if "topics" in self._resend.extensions.resources:
            self._resend.extensions.resources["topics"].check_subscriptions(topics)
        imp = ContactImport(str(uuid.uuid4()), header, rows, column_map, on_conflict, segments, topics)
        imp.counts = {"total": len(rows), "created": 0, "updated": 0, "skipped": 0, "failed": 0}
        self._imports[imp.id] = imp
        with self._wake:
            self._queue.append(imp.id)
            self._wake.notify_all()
        self._start()
        return 201, {"object": "contact_import", "id": imp.id}

    @staticmethod
    def _mapped_keys(body: Json) -> list[str]:
        try:
            raw = json.loads(body.get("column_map") or "{}")
            return [str(k) for k in (raw.get("properties") or {})] if isinstance(raw, dict) else []
        except (ValueError, AttributeError):
            return []  # parse_column_map reports it

    def _list(self, *, query: dict[str, str], body: Json) -> tuple[int, Json]:
        status = query.get("status")
        if status is not None and status not in _STATUSES:
            raise ApiError(422, "invalid_parameter", "`status` must be queued, in_progress, completed or failed")
        items = [i.view() for i in reversed(self._imports.values()) if status in (None, i.status)]  # newest first
        return 200, core.page(items, query)

    def _get(self, import_id: str, *, query: dict[str, str], body: Json) -> tuple[int, Json]:
        imp = self._imports.get(import_id)
        if imp is None:
            raise ApiError(404, "not_found", "Contact import not found")
        return 200, imp.view()

    # -- processing (outside the lock; contact writes go through Resend.call) ---------------------

    def _start(self) -> None:
        if self._thread is None and not self._closed.is_set():
            self._thread = threading.Thread(target=self._work, name="emulator-imports", daemon=True)
            self._thread.start()

    def _work(self) -> None:
        while not self._closed.is_set():
            with self._wake:
                self._wake.wait_for(lambda: self._closed.is_set() or (self._queue and not self.paused))
            self.run_pending()

    def run_pending(self) -> None:
        """Runs every queued import to its end (the worker's loop; tests may call it while paused)."""
        while not self._closed.is_set():
            with self._wake:
                if not self._queue:
                    return
                import_id = self._queue.popleft()
            imp = self._imports[import_id]
            try:
                self._run(imp)
            except Exception:  # noqa: BLE001 - an emulator bug must show as a failed import, not a dead thread
                with self._resend.lock:
                    imp.status, imp.completed_at = "failed", rest_now()

    def _run(self, imp: ContactImport) -> None:
        with self._resend.lock:
            imp.status = "in_progress"
            types = {key: core.property_type(self._resend, key) for key in imp.column_map.properties}
        for number, cells in enumerate(imp.rows, start=1):
            if self.rows_per_second > 0 and self._closed.wait(1 / self.rows_per_second):
                return
            planned = plan_row(number, cells, imp.header, imp.column_map, types)
            outcome, reason = ("failed", planned.reason) if isinstance(planned, BadRow) else self._apply(imp, planned)
            with self._resend.lock:
                imp.counts[outcome] += 1
                if reason:
                    imp.failed_rows.append({"row": number, "reason": reason})
        with self._resend.lock:
            imp.status, imp.completed_at = "completed", rest_now()

    def _apply(self, imp: ContactImport, row: Any) -> tuple[str, str]:
        call = self._resend.call
        path = "/contacts/" + quote(row.email, safe="")
        try:
            try:
                _, existing, _ = call("GET", path, {}, None)
            except ApiError as error:
                if error.status != 404:
                    raise
                body = {"email": row.email, **row.fields, "segments": [{"id": s} for s in imp.segments]}
                if row.properties:
                    body["properties"] = row.properties
                if imp.topics:
                    body["topics"] = imp.topics
                call("POST", "/contacts", {}, body)
                return "created", ""
            if imp.on_conflict == "skip":
                return "skipped", ""
            patch: Json = {**row.fields, **({"properties": row.properties} if row.properties else {})}
            if imp.topics:
                patch["topics"] = imp.topics
            call("PATCH", f"/contacts/{existing['id']}", {}, patch)
            for segment_id in imp.segments:
                call("POST", f"/contacts/{existing['id']}/segments/{segment_id}", {}, None)
            return "updated", ""
        except ApiError as error:
            return "failed", f"{error.name}: {error.message}"

    # -- inspection ---------------------------------------------------------------------------------

    def _control(self, body: Any) -> tuple[int, Json]:
        body = body or {}
        try:
            rate = max(0.0, float(body.get("rows_per_second", self.rows_per_second)))
        except (TypeError, ValueError):
            return 400, {"message": "rows_per_second must be a number"}
        self.paused, self.rows_per_second = bool(body.get("paused", self.paused)), rate
        with self._wake:
            self._wake.notify_all()
        return 200, {"paused": self.paused, "rows_per_second": self.rows_per_second}

    def _snapshot(self) -> list[Json]:
        return [
            {**i.view(), "on_conflict": i.on_conflict, "failed_rows": list(i.failed_rows)}
            for i in self._imports.values()
        ]

    def close(self) -> None:
        self._closed.set()
        with self._wake:
            self._wake.notify_all()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
