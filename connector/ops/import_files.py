"""The files a bulk backfill sends to ``POST /contacts/imports``: pure, no I/O (issue #14, point 3).

Each new contact is planned exactly as an identify event would be (connector.mapping), so its
``CreateContact`` holds the names, properties, managed-audiences record and segment ids the event
path would POST. Contacts are grouped by that segment set (an import adds every row to the same
segments), and each group is cut into CSV files under the size limit, each with its ``column_map``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from connector.mapping import CreateContact
from connector.mapping.values import as_text
from connector.ops.rows import ContactRow

__all__ = ["MAX_IMPORT_BYTES", "ImportFile", "PlannedRow", "group_by_segments", "import_files"]

# Resend refuses files over 50 MB (resend-openapi.yaml, CreateContactImportOptions): stay well under,
# the multipart framing and a few long rows included.
MAX_IMPORT_BYTES = 45 * 1024 * 1024

_FIELDS = ("email", "first_name", "last_name", "unsubscribed")


@dataclass(frozen=True, slots=True)
class PlannedRow:
    row: ContactRow
    create: CreateContact
    user_id: str | None = None


@dataclass(frozen=True, slots=True)
class ImportFile:
    content: bytes
    column_map: Mapping[str, Any]
    segment_ids: tuple[str, ...]
    rows: tuple[PlannedRow, ...]


def group_by_segments(rows: Iterable[PlannedRow]) -> dict[tuple[str, ...], list[PlannedRow]]:
    """One group per distinct segment set (sorted ids), in the order the sets first appear."""
    groups: dict[tuple[str, ...], list[PlannedRow]] = {}
    for planned in rows:
        groups.setdefault(tuple(sorted(planned.create.segment_ids)), []).append(planned)
    return groups


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else as_text(value)


def _record(create: CreateContact, keys: list[str]) -> list[str]:
    properties = dict(create.properties)
    # Only an opt-out is written: an empty cell sets nothing, and these contacts are all new.
    unsubscribed = "true" if create.unsubscribed is True else ""
    fields = [create.email, _cell(create.first_name), _cell(create.last_name), unsubscribed]
    return fields + [_cell(properties.get(key)) for key in keys]


def _column_map(keys: list[str], types: Mapping[str, str]) -> dict[str, Any]:
    return {
        **{name: name for name in _FIELDS},
        "properties": {key: {"column": key, "type": "number" if types.get(key) == "number" else "string"}
                       for key in keys},
    }  # fmt: skip


def _line(cells: list[str]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(cells)
    return buffer.getvalue().encode()


def import_files(
    segment_ids: tuple[str, ...],
    rows: list[PlannedRow],
    property_types: Mapping[str, str],
    *,
    max_bytes: int = MAX_IMPORT_BYTES,
) -> Iterator[ImportFile]:
    """The group's rows as CSV files of at most ``max_bytes`` each (a row longer than that alone)."""
    keys = sorted({key for planned in rows for key, _ in planned.create.properties})
    header = _line([*_FIELDS, *keys])
    column_map = _column_map(keys, property_types)
    chunk: list[bytes] = [header]
    size = len(header)
    members: list[PlannedRow] = []
    for planned in rows:
        line = _line(_record(planned.create, keys))
        if members and size + len(line) > max_bytes:
            yield ImportFile(b"".join(chunk), column_map, segment_ids, tuple(members))
            chunk, size, members = [header], len(header), []
        chunk.append(line)
        size += len(line)
        members.append(planned)
    if members:
        yield ImportFile(b"".join(chunk), column_map, segment_ids, tuple(members))
