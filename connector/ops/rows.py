"""Reading a backfill file: each CSV or JSON Lines row becomes a contact, or the reason it was skipped.

Pure apart from reading the file: nothing here talks to Kafka or Redis. Column rules:

- ``email`` (any case) is required, trimmed and lower-cased; a row without a valid one is a
  :class:`BadRow`, never the end of the run;
- ``first_name``/``firstName``, ``last_name``/``lastName`` and ``name`` become the traits the
  planner reads names from;
- ``audiences`` becomes ``resendAudiences`` (a comma-separated string, or a list in JSON Lines);
- ``userId``/``user_id`` becomes the event's ``userId``, so the connector learns which userIds map to
  the contact (later track events that carry only a userId then find their contact);
- ``unsubscribed`` becomes a boolean: CSV cells are text, so ``true``/``false``, ``yes``/``no`` and
  ``1``/``0`` (any case, trimmed) are read as booleans (JSON booleans too); any other value makes
  the row a :class:`BadRow` naming the value, never a guess (a wrong guess would subscribe a person
  who had opted out);
- every other column is a trait. Empty cells and JSON nulls are left out: a first migration has
  nothing to clear.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast

from connector.errors import ConfigurationError, InvalidEventError
from connector.mapping.email import normalise_email

__all__ = [
    "BadRow",
    "ContactRow",
    "FileFormat",
    "check_file",
    "file_format",
    "identify_event",
    "parse_row",
    "read_boolean",
    "read_rows",
]

FileFormat = Literal["csv", "jsonl"]

_JSONL_SUFFIXES = {".jsonl", ".ndjson", ".json"}
_RENAMED = {
    "first_name": "firstName",
    "firstname": "firstName",
    "last_name": "lastName",
    "lastname": "lastName",
    "name": "name",
    "audiences": "resendAudiences",
    "resendaudiences": "resendAudiences",
}
_USER_ID = {"userid", "user_id"}
_BOOLEANS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}


def read_boolean(value: Any) -> bool | None:
    """A boolean from a CSV cell or JSON value, or None when it cannot be read as one."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        return _BOOLEANS.get(value.strip().lower())
    return None


@dataclass(frozen=True, slots=True)
class ContactRow:
    """One valid row. ``traits`` always holds the normalised ``email``."""

    line: int
    email: str
    user_id: str | None
    traits: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class BadRow:
    line: int
    reason: str


def file_format(path: Path, fmt: str | None) -> FileFormat:
    """The format asked for, else the one the extension names (``.jsonl``/``.ndjson``/``.json``, else CSV)."""
    if fmt is None:
        return "jsonl" if path.suffix.lower() in _JSONL_SUFFIXES else "csv"
    if fmt in {"csv", "jsonl"}:
        return cast(FileFormat, fmt)
    problem = f"backfill format must be csv or jsonl, not {fmt!r}"
    raise ConfigurationError(problem, (problem,))


def read_rows(path: Path, fmt: FileFormat) -> Iterator[ContactRow | BadRow]:
    """Every row of the file in order, with the line it ends on (1-based; stable across runs)."""
    # utf-8-sig: spreadsheet exports often start with a byte-order mark that would glue onto "email".
    with path.open(newline="", encoding="utf-8-sig") as handle:
        if fmt == "csv":
            yield from _csv_rows(handle)
        else:
            yield from _jsonl_rows(handle)


def check_file(path: Path, fmt: FileFormat) -> None:
    """Refuse a file that cannot work before anything is sent (a CSV without an email column)."""
    if not path.is_file():
        problem = f"backfill file not found: {path}"
        raise ConfigurationError(problem, (problem,))
    if fmt == "csv":
        with path.open(newline="", encoding="utf-8-sig") as handle:
            _email_column_present(csv.DictReader(handle))


def _email_column_present(reader: csv.DictReader[str]) -> None:
    if "email" not in [c.strip().lower() for c in reader.fieldnames or ()]:
        problem = "the CSV file has no email column"
        raise ConfigurationError(problem, (problem,))


def _csv_rows(handle: Any) -> Iterator[ContactRow | BadRow]:
    reader = csv.DictReader(handle)
    _email_column_present(reader)
    for raw in reader:
        # line_num is the physical line the record ends on, so a quoted multi-line cell keeps
        # every later row's number (and so its messageId) the same on a rerun.
        if None in raw:
            yield BadRow(reader.line_num, "more cells than columns")
            continue
        yield parse_row(reader.line_num, raw)


def _jsonl_rows(handle: Any) -> Iterator[ContactRow | BadRow]:
    for number, text in enumerate(handle, start=1):
        if not text.strip():
            continue
        try:
            raw = json.loads(text)
        except ValueError:
            yield BadRow(number, "not valid JSON")
            continue
        if not isinstance(raw, dict):
            yield BadRow(number, f"a row must be a JSON object, not {type(raw).__name__}")
            continue
        yield parse_row(number, raw)


def parse_row(line: int, raw: Mapping[str, Any]) -> ContactRow | BadRow:
    email: Any = None
    user_id: str | None = None
    traits: dict[str, Any] = {}
    for column, value in raw.items():
        key = str(column).strip()
        lowered = key.lower()
        if value is None or value == "" or not key:
            continue
        if lowered == "email":
            email = value
        elif lowered in _USER_ID:
            user_id = str(value).strip() or None
        elif lowered == "unsubscribed":
            flag = read_boolean(value)
            if flag is None:
                return BadRow(line, f"unsubscribed: cannot read {str(value)[:40]!r} as true/false, yes/no or 1/0")
            traits["unsubscribed"] = flag
        else:
            traits[_RENAMED.get(lowered, key)] = value
    if email is None:
        return BadRow(line, "no email")
    try:
        traits["email"] = normalise_email(email)
    except InvalidEventError as exc:
        return BadRow(line, str(exc))
    audiences = traits.get("resendAudiences")
    if audiences is not None and not _is_audiences(audiences):
        return BadRow(line, "audiences must be a comma-separated string or a list of strings")
    return ContactRow(line=line, email=traits["email"], user_id=user_id, traits=traits)


def _is_audiences(value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value))


def identify_event(row: ContactRow, message_id: str) -> dict[str, Any]:
    """The Segment-spec identify event a row becomes (the JSON the events topic carries)."""
    event: dict[str, Any] = {"type": "identify", "messageId": message_id, "traits": dict(row.traits)}
    if row.user_id is not None:
        event["userId"] = row.user_id
    return event
