"""The files a bulk backfill sends to ``POST /contacts/imports``: pure, no I/O (issues #14, #24).

Each new contact is planned exactly as its identify events would be (connector.ops.backfill_plan),
so its ``CreateContact`` holds the names, properties, managed-audiences record and segment ids the
event path would leave in Resend. An import adds every row to the same segments and topics, so
contacts are grouped by those; and by the set of columns they carry: what an EMPTY cell does to an
existing contact (clear or keep) is documented nowhere (resend-api.md, Contact imports), so a file
never carries an empty cell for a field its row does not set (#24, point 2). Each group is cut into
CSV files under the size limit, each with its ``column_map``.

An import upserts, so whatever it carries reaches a contact that exists after all (a rerun importing
again what it planned, a contact created elsewhere after the email index was read). So a file carries
nothing only a creation may write: ``unsubscribed`` only as ``true``, and the default topics
(``destination.topics``) apart, in ``creation_topics``, for an import that skips existing contacts.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from connector.mapping import CreateContact
from connector.mapping.values import as_text
from connector.ops.backfill_plan import PlannedContact

__all__ = ["MAX_IMPORT_BYTES", "ImportFile", "import_files"]

# Resend refuses files over 50 MB (resend-openapi.yaml, CreateContactImportOptions): stay well under,
# the multipart framing and a few long rows included.
MAX_IMPORT_BYTES = 45 * 1024 * 1024

_FIELDS = ("first_name", "last_name", "unsubscribed")


@dataclass(frozen=True, slots=True)
class ImportFile:
    content: bytes
    column_map: Mapping[str, Any]
    segment_ids: tuple[str, ...]
    rows: tuple[PlannedContact, ...]
    topics: tuple[tuple[str, str], ...] = ()  # an import sets the same subscriptions on every row
    creation_topics: frozenset[str] = frozenset()  # ids among them for a new contact only (#26)

    @property
    def own_topics(self) -> tuple[tuple[str, str], ...]:
        """The subscriptions the rows' events would write to contacts that exist already."""
        return tuple((t, s) for t, s in self.topics if t not in self.creation_topics)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else as_text(value)


def _cells(create: CreateContact) -> dict[str, str]:
    """The contact's cells by column, the email first; a value that would be an empty cell is left
    out (backfill rows never set one: empty cells and nulls are dropped when the file is read).
    Only an opt-out is written: a new contact is opted in anyway, and an import upserts, so a
    ``false`` would re-subscribe a contact that exists after all (a rerun importing again what it
    planned, a contact created meanwhile) against the consent rule (docs/semantics.md)."""
    unsubscribed = True if create.unsubscribed is True else None
    named = {"first_name": create.first_name, "last_name": create.last_name, "unsubscribed": unsubscribed}
    cells = {"email": create.email, **{name: _cell(named[name]) for name in _FIELDS}}
    cells.update((key, _cell(value)) for key, value in sorted(create.properties))  # one order per column set
    return {column: cell for column, cell in cells.items() if cell != ""}


def _column_map(columns: tuple[str, ...], types: Mapping[str, str]) -> dict[str, Any]:
    keys = [c for c in columns if c != "email" and c not in _FIELDS]
    return {
        **{name: name for name in columns if name == "email" or name in _FIELDS},
        "properties": {key: {"column": key, "type": "number" if types.get(key) == "number" else "string"}
                       for key in keys},
    }  # fmt: skip


def _line(cells: Iterable[str]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(list(cells))
    return buffer.getvalue().encode()


def import_files(
    contacts: Iterable[PlannedContact], property_types: Mapping[str, str], *, max_bytes: int = MAX_IMPORT_BYTES
) -> Iterator[ImportFile]:
    """CSV files of at most ``max_bytes`` each (a row longer than that alone), one series per distinct
    segment set, topic subscriptions and set of columns carried, in the order each first appears."""
    groups: dict[tuple[Any, ...], list[PlannedContact]] = {}
    for planned in contacts:
        columns = tuple(_cells(planned.create))
        key = (tuple(sorted(planned.create.segment_ids)), planned.topics, planned.creation_topics, columns)
        groups.setdefault(key, []).append(planned)
    for (segment_ids, topics, creation_topics, columns), members in groups.items():
        for file in _files(segment_ids, topics, columns, members, property_types, max_bytes):
            yield dataclasses.replace(file, creation_topics=creation_topics)


def _files(
    segment_ids: tuple[str, ...],
    topics: tuple[tuple[str, str], ...],
    columns: tuple[str, ...],
    rows: list[PlannedContact],
    property_types: Mapping[str, str],
    max_bytes: int,
) -> Iterator[ImportFile]:
    header = _line(columns)
    column_map = _column_map(columns, property_types)
    chunk: list[bytes] = [header]
    size = len(header)
    members: list[PlannedContact] = []
    for planned in rows:
        line = _line(_cells(planned.create).values())
        if members and size + len(line) > max_bytes:
            yield ImportFile(b"".join(chunk), column_map, segment_ids, tuple(members), topics)
            chunk, size, members = [header], len(header), []
        chunk.append(line)
        size += len(line)
        members.append(planned)
    if members:
        yield ImportFile(b"".join(chunk), column_map, segment_ids, tuple(members), topics)
