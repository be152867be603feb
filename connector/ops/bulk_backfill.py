"""``resend-connector backfill FILE``: existing contacts loaded through Resend's contact imports (#14).

A backfill of 100,000 contacts through the events topic costs 100,000 to 200,000 calls (14 to 28
hours at 2 requests/s); through imports it costs about one call per thousand. The steps:

1. the email index (connector.state.email_index) reads what Resend holds now;
2. each row whose email Resend does not hold is planned as its identify event would be (the same
   names, properties, managed-audiences record and segments), defining what is missing first;
   rows naming contacts that already exist go through the events topic instead (the event path
   reads what such a contact holds and never records a membership it did not add as managed),
   from ``<file>.existing.jsonl``;
3. one import per distinct segment set (``on_conflict: upsert``), cut under the 50 MB limit; a file
   carrying default topics (``destination.topics``, for new contacts only) is imported with
   ``on_conflict: skip``, and only when Resend skipped some of its contacts (they exist after all)
   imported again with ``upsert`` and without them;
4. each import's status is polled until ``completed`` or ``failed`` (the progress bar follows it);
5. rows an import did not load (found by reading the index again; the API only counts them) are
   written to ``<file>.failed.jsonl``, which ``backfill`` loads again once fixed;
6. Redis learns every loaded contact as if it had been identified (exists, managed segments,
   userId mappings, field fingerprints, the email index), so later events send only what changed.

Resuming: the emails a run planned as new are kept per file (``backfill-import:<file hash>``); a
rerun imports them again unless Redis holds them already, so an interrupted backfill neither sends
its contacts through the events path nor loads a finished one twice.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

import redis
from tqdm import tqdm

from connector.errors import ResendError
from connector.ops.backfill import identify_file
from connector.ops.backfill_plan import ContactPlanner
from connector.ops.backfill_report import Tally, write_rows
from connector.ops.import_files import MAX_IMPORT_BYTES, ImportFile, import_files
from connector.ops.rows import BadRow, ContactRow, check_file, file_format, read_rows
from connector.redisio import translated
from connector.resend import ContactImport, ResendClient
from connector.settings import Settings
from connector.state import EmailIndex, StateStore
from connector.state.imported import known_contacts, remember_imported
from connector.sync import EventSync
from connector.sync.fingerprints import written
from connector.wiring import Wiring, state_store

__all__ = ["run_import_backfill"]

_POLL_FIRST_S, _POLL_MAX_S = 1.0, 15.0  # status polls back off: a long import costs a few calls
_PLANNED_TTL_S = 30 * 86_400  # how long a rerun of the same file remembers what it imported


def run_import_backfill(
    settings: Settings,
    path: Path,
    *,
    fmt: str | None,
    progress: bool,
    out: TextIO,
    resend: ResendClient | None = None,
    redis_client: redis.Redis | None = None,
    events_path: Callable[[Path], int] | None = None,
    max_bytes: int = MAX_IMPORT_BYTES,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """0 when every row was loaded (or handed to the events path), 1 when some failed."""
    kind = file_format(path, fmt)
    check_file(path, kind)
    with contextlib.ExitStack() as cleanup:
        parts = Wiring(settings, cleanup)
        store = state_store(settings, redis_client) if redis_client is not None else parts.store
        job = _Backfill(settings, store, resend or parts.resend, out, sleep)
        code = job.run(path, kind, progress=progress, events_path=events_path, max_bytes=max_bytes)
    return code


_KEY_PROBLEMS = {"missing_api_key", "invalid_api_key", "restricted_api_key", "suspended_api_key"}


def _imports_unavailable(exc: ResendError) -> bool:
    """Contact imports are a beta not every team has (resend-api.md, Contact imports): such a team is
    answered a 4xx whose exact form no source gives. The emulator answers 403 ``invalid_permission``.
    Read as "not available": a 403 that is no key problem (the same key has just listed contacts and
    defined properties), a 404 that is not about a segment or topic the import names, or a 405."""
    text = str(exc).lower()
    if exc.route != "POST /contacts/imports" or exc.name in _KEY_PROBLEMS or "api key" in text:
        return False
    if exc.status == 404:
        return "segment" not in text and "topic" not in text
    return exc.status in (403, 405)


class _Backfill:
    def __init__(
        self, settings: Settings, store: StateStore, resend: ResendClient, out: TextIO, sleep: Callable[[float], None]
    ) -> None:
        self._settings = settings
        self._resend = resend
        self._out = out
        self._sleep = sleep
        destination = settings.destination
        self._store = store
        # The event path's sync: its interpreter defines what the rows need (connector.sync.interpreter).
        sync = EventSync(settings, resend, store)
        self._definitions = sync.definitions
        self._index = EmailIndex(self._store, max_age_seconds=destination.email_index_max_age_seconds)
        self._planner = ContactPlanner(destination, sync, resend)
        self.tally = Tally()

    def run(
        self, path: Path, kind: Any, *, progress: bool, events_path: Callable[[Path], int] | None, max_bytes: int
    ) -> int:
        self._index.catch_up(self._resend)
        rows = [row for row in read_rows(path, kind) if not self._bad(row)]
        contact_rows = [row for row in rows if isinstance(row, ContactRow)]
        self.tally.rows = len(contact_rows)
        new, existing = self._sort(contact_rows, self._store.key("backfill-import", identify_file(path).digest))
        failures, existing = self._import(new, existing, progress=progress, max_bytes=max_bytes)
        code = 0
        if failures:
            failed_path = path.with_name(f"{path.stem}.failed.jsonl")
            write_rows(failed_path, [row for row, _ in failures])
            for row, reason in failures[:20]:
                print(f"line {row.line}: failed: {reason}", file=self._out)
            print(f"{len(failures)} rows not loaded: fix them in {failed_path} and backfill it again", file=self._out)
            code = 1
        self.tally.existing = len(existing)
        print(self.tally.summary(path.name), file=self._out)
        if existing:
            existing_path = path.with_name(f"{path.stem}.existing.jsonl")
            write_rows(existing_path, existing)
            print(f"{len(existing)} rows sent as identify events from {existing_path}", file=self._out)
            code = max(code, events_path(existing_path) if events_path is not None else 0)
        return code

    def _import(
        self, new: list[ContactRow], existing: list[ContactRow], *, progress: bool, max_bytes: int
    ) -> tuple[list[tuple[ContactRow, str]], list[ContactRow]]:
        """The rows that failed, and the rows for the events path: the existing contacts', or every
        row when the team has no contact imports (a beta)."""
        planned, failures = self._planner.plan(new)
        files = list(import_files(planned, self._definitions.property_types(), max_bytes=max_bytes))
        try:
            failures.extend(self._load(files, progress=progress))
        except ResendError as exc:
            if not _imports_unavailable(exc):
                raise
            print(f"contact imports are not available to this team (a beta; POST /contacts/imports answered "
                  f"{exc.status} {exc.name}): the {len(new)} rows of new contacts go through the events topic "
                  f"too, one contact at a time (1 to 3 calls each)", file=self._out)  # fmt: skip
            return [], sorted([*new, *existing], key=lambda row: row.line)
        return failures, existing

    def _sort(self, rows: list[ContactRow], planned_key: str) -> tuple[list[ContactRow], list[ContactRow]]:
        """New contacts (to import) and existing ones (to the events path); rows an earlier run of
        this file imported and Redis already holds are done. An interrupted run resumes: what it
        planned as new is imported again (the same data, ``upsert``) unless Redis holds it already,
        rather than read back contact by contact through the events path."""
        emails = [row.email for row in rows]
        in_index = self._index.present(emails)
        known = known_contacts(self._store, emails)
        with translated():
            before = set(emails) & {str(e) for e in self._store.client.smembers(planned_key)}
        new = [r for r in rows if r.email not in known and (r.email in before or r.email not in in_index)]
        existing = [r for r in rows if r.email not in before and (r.email in known or r.email in in_index)]
        self.tally.already_done = len(rows) - len(new) - len(existing)
        if new:
            with translated():
                pipe = self._store.client.pipeline(transaction=False)
                for start in range(0, len(new), 10_000):
                    pipe.sadd(planned_key, *(r.email for r in new[start : start + 10_000]))
                pipe.expire(planned_key, _PLANNED_TTL_S)
                pipe.execute()
        return new, existing

    def _bad(self, row: ContactRow | BadRow) -> bool:
        if isinstance(row, BadRow):
            self.tally.bad += 1
            print(f"line {row.line}: skipped: {row.reason}", file=self._out)
            return True
        return False

    # -- importing, following Resend's status --------------------------------------------------------

    def _load(self, files: list[ImportFile], *, progress: bool) -> list[tuple[ContactRow, str]]:
        total = sum(len(f.rows) for f in files)
        bar = tqdm(total=total, unit="contact", disable=None if progress else True, leave=False)
        failures: list[tuple[ContactRow, str]] = []
        try:
            ids = [self._submit(number, file) for number, file in enumerate(files, start=1)]
            for number, (file, import_id) in enumerate(zip(files, ids, strict=True), start=1):
                label = f"import {number}/{len(files)}"
                result = self._follow(import_id, bar, label)
                if file.creation_topics and result.skipped:
                    result = self._update_existing(number, file, result, bar, label)
                self.tally.add(result)
                bar.update(len(file.rows))
                print(f"{label} ({len(file.rows)} rows, segments {list(file.segment_ids)}): "
                      f"{result.status}, {result.created} created, {result.updated} updated, {result.skipped} "
                      f"skipped, {result.failed} failed", file=self._out)  # fmt: skip
                failures.extend(self._settle(file, result))
        finally:
            bar.close()
        return failures

    def _submit(self, number: int, file: ImportFile, *, existing: bool = False) -> str:
        """A file with default topics is imported with ``on_conflict: skip``: Resend itself decides, row
        by row, that the contact is new before it subscribes it (semantics.md, topics). ``existing``:
        the upsert of the same rows without them, for the contacts that import skipped."""
        self.tally.imports += 1
        creates_only = bool(file.creation_topics) and not existing
        return self._resend.create_contact_import(
            file.content,
            column_map=file.column_map,
            segment_ids=file.segment_ids,
            topics=file.topics if creates_only else file.own_topics,
            on_conflict="skip" if creates_only else "upsert",
            file_name=f"backfill-{number}{'-existing' if existing else ''}.csv",
        )

    def _update_existing(
        self, number: int, file: ImportFile, first: ContactImport, bar: Any, label: str
    ) -> ContactImport:
        """The contacts the creating import skipped exist (a rerun, or created elsewhere meanwhile): the
        same rows again with ``upsert`` and only the rows' own topics. Which rows were skipped the API
        does not say, so all of them: a contact the first import created is written the same again."""
        print(f"{label}: {first.skipped} contacts exist already: imported again without the default topics",
              file=self._out)  # fmt: skip
        again = self._follow(self._submit(number, file, existing=True), bar, label)
        # The second import's counts cover every row; the first one's creations are its updates too.
        return dataclasses.replace(again, created=first.created + again.created,
                                   updated=max(0, again.updated - first.created))  # fmt: skip

    def _follow(self, import_id: str, bar: Any, label: str) -> ContactImport:
        delay = _POLL_FIRST_S
        while True:
            result = self._resend.get_contact_import(import_id)
            bar.set_postfix_str(f"{label}: {result.status}")
            if result.finished:
                return result
            self._sleep(delay)
            delay = min(_POLL_MAX_S, delay * 1.5)

    def _settle(self, file: ImportFile, result: ContactImport) -> list[tuple[ContactRow, str]]:
        """Redis learns the contacts that were loaded; the rows of the others are failures."""
        loaded = list(file.rows)
        failures: list[tuple[ContactRow, str]] = []
        clean = result.status == "completed" and result.failed == 0 and result.created + result.updated >= len(loaded)
        if not clean:  # the API only counts: read which emails Resend holds now
            self._index.catch_up(self._resend)
            present = self._index.present([p.create.email for p in loaded])
            failures = [(row, f"import {result.id} {result.status}: row not loaded") for p in loaded
                        if p.create.email not in present for row in p.rows]  # fmt: skip
            loaded = [p for p in loaded if p.create.email in present]
        now = time.time()
        remember_imported(
            self._store,
            [(p.create.email, frozenset(p.create.segment_ids), [(u, p.create.email) for u in p.user_ids],
              written(p.create, now)) for p in loaded]
        )  # fmt: skip
        self._index.add(p.create.email for p in loaded)
        return failures
