"""What a bulk backfill reports: its counts, and rows written back as a file ``backfill`` reads."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from connector.ops.rows import ContactRow
from connector.resend import ContactImport

__all__ = ["Tally", "write_rows"]


@dataclasses.dataclass(slots=True)
class Tally:
    rows: int = 0
    bad: int = 0
    already_done: int = 0
    existing: int = 0
    imports: int = 0
    created: int = 0
    updated: int = 0
    skipped: int = 0
    failed: int = 0

    def add(self, result: ContactImport) -> None:
        self.created += result.created
        self.updated += result.updated
        self.skipped += result.skipped
        self.failed += result.failed

    def summary(self, name: str) -> str:
        t = self
        counts = f"{t.created} created, {t.updated} updated, {t.skipped} skipped, {t.failed} failed"
        return (f"backfill {name}: {t.rows} rows, {t.bad} bad, {t.already_done} already loaded, {t.imports} imports: "
                f"{counts}; {t.existing} existing")  # fmt: skip


def write_rows(path: Path, rows: list[ContactRow]) -> None:
    """Rows as JSON Lines that ``backfill`` reads back into the same rows."""
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            record: dict[str, Any] = dict(row.traits)
            if row.user_id is not None:
                record["userId"] = row.user_id
            handle.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
