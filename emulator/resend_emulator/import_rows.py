"""Contact imports, the pure part: a CSV and its ``column_map`` become contact writes or failed rows.

Rules (OpenAPI ``CreateContactImportOptions``; where it is silent, the emulator's choice is noted):
- ``column_map`` is JSON text: ``email``, ``first_name``, ``last_name``, ``unsubscribed`` name CSV
  columns; ``properties`` maps a property key to ``{column, type}`` with type string (default), number
  or boolean. Without a ``column_map`` the columns named like the fields are used (emulator's choice).
- A mapped property must be a defined contact property whose type fits the mapped type (as
  ``POST /contacts`` refuses undefined keys); a boolean column writes "true"/"false" to a string
  property and 1/0 to a number property (emulator's choice: properties have no boolean type).
- Cells are text: ``unsubscribed`` and boolean columns read true/false, yes/no, 1/0 (any case); an
  empty cell sets nothing. A row whose email is missing, or whose number or boolean cell cannot be
  read, or whose contact write is refused (an invalid email: the rule of ``POST /contacts``), fails
  (counted in ``counts.failed``; the reason is kept for ``/_emulator/state``).
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, field
from typing import Any

from resend_emulator.api import ApiError

__all__ = ["BadRow", "ColumnMap", "Row", "empty_cells", "parse_column_map", "plan_row", "read_csv"]

_FIELDS = ("email", "first_name", "last_name", "unsubscribed")
_TYPES = ("string", "number", "boolean")
_TRUE, _FALSE = {"true", "yes", "1"}, {"false", "no", "0"}


def _invalid(message: str) -> ApiError:
    return ApiError(422, "validation_error", message)


@dataclass(frozen=True)
class ColumnMap:
    email: str
    first_name: str | None = None
    last_name: str | None = None
    unsubscribed: str | None = None
    properties: dict[str, tuple[str, str]] = field(default_factory=dict)  # key -> (column, type)


@dataclass(frozen=True)
class Row:
    number: int  # 1 = the first row after the header
    email: str
    fields: dict[str, Any]  # first_name, last_name, unsubscribed: only cells that were not empty
    properties: dict[str, str | int | float]


@dataclass(frozen=True)
class BadRow:
    number: int
    reason: str


def read_csv(data: bytes | str) -> tuple[list[str], list[list[str]]]:
    """The header and the non-blank rows; 422 for a file that is not UTF-8 text or has no header."""
    try:
        text = data.decode("utf-8-sig") if isinstance(data, bytes) else data
    except UnicodeDecodeError:
        raise _invalid("The file must be a UTF-8 encoded CSV file") from None
    try:
        records = [r for r in csv.reader(io.StringIO(text, newline="")) if any(cell.strip() for cell in r)]
    except csv.Error as exc:
        raise _invalid(f"The file is not a valid CSV file: {exc}") from None
    if not records:
        raise _invalid("The file has no header row")
    return [h.strip() for h in records[0]], records[1:]


def parse_column_map(text: str | None, header: list[str], property_types: dict[str, str | None]) -> ColumnMap:
    """Checks the map against the CSV header and the defined properties (``property_types``: key -> type)."""
    if text is None or not str(text).strip():
        by_name = {h.lower(): h for h in header}
        raw: dict[str, Any] = {name: by_name[name] for name in _FIELDS if name in by_name}
    else:
        try:
            raw = json.loads(text)
        except ValueError:
            raise _invalid("`column_map` must be a JSON object") from None
        if not isinstance(raw, dict):
            raise _invalid("`column_map` must be a JSON object")
    unknown = set(raw) - {*_FIELDS, "properties"}
    if unknown:
        raise _invalid(f"`column_map` has unknown fields: {', '.join(sorted(unknown))}")
    columns = set(header)
    for name in _FIELDS:
        column = raw.get(name)
        if column is not None and (not isinstance(column, str) or column not in columns):
            raise _invalid(f"`column_map.{name}` names no column of the file")
    if not raw.get("email"):
        raise _invalid("The file needs an email column (`column_map.email`)")
    properties: dict[str, tuple[str, str]] = {}
    for key, spec in (raw.get("properties") or {}).items():
        column, kind = (spec, "string") if isinstance(spec, str) else (spec.get("column"), spec.get("type", "string"))
        if not isinstance(column, str) or column not in columns:
            raise _invalid(f"`column_map.properties.{key}` names no column of the file")
        if kind not in _TYPES:
            raise _invalid(f"`column_map.properties.{key}.type` must be string, number or boolean")
        defined = property_types.get(key)
        if defined is None:
            raise _invalid(f"Contact property '{key}' does not exist")
        if kind not in ("boolean", defined):
            raise _invalid(f"Contact property '{key}' is a {defined}, mapped as a {kind}")
        properties[key] = (column, kind)
    return ColumnMap(
        email=raw["email"],
        first_name=raw.get("first_name"),
        last_name=raw.get("last_name"),
        unsubscribed=raw.get("unsubscribed"),
        properties=properties,
    )


def _boolean(cell: str) -> bool | None:
    lowered = cell.strip().lower()
    return True if lowered in _TRUE else False if lowered in _FALSE else None


def _number(cell: str) -> int | float | None:
    text = cell.strip()
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def empty_cells(cells: list[str], header: list[str], cmap: ColumnMap) -> list[str]:
    """The mapped columns whose cell in this row is empty (or missing): recorded for tests, since
    what Resend does with an empty cell for an existing contact (clear or keep) is not documented."""
    record = {name: (cells[i].strip() if i < len(cells) else "") for i, name in enumerate(header)}
    mapped = [cmap.email, cmap.first_name, cmap.last_name, cmap.unsubscribed]
    mapped += [column for column, _ in cmap.properties.values()]
    return [column for column in dict.fromkeys(mapped) if column is not None and not record.get(column)]


def plan_row(
    number: int, cells: list[str], header: list[str], cmap: ColumnMap, property_types: dict[str, str | None]
) -> Row | BadRow:
    record = {name: (cells[i].strip() if i < len(cells) else "") for i, name in enumerate(header)}
    email = record.get(cmap.email, "")
    if not email:
        return BadRow(number, "missing email")  # an invalid one fails in POST /contacts, with its reason
    fields: dict[str, Any] = {}
    for name in ("first_name", "last_name"):
        column = getattr(cmap, name)
        if column and record.get(column):
            fields[name] = record[column]
    if cmap.unsubscribed and record.get(cmap.unsubscribed):
        flag = _boolean(record[cmap.unsubscribed])
        if flag is None:
            return BadRow(number, f"unsubscribed: not a boolean: {record[cmap.unsubscribed][:40]!r}")
        fields["unsubscribed"] = flag
    properties: dict[str, str | int | float] = {}
    for key, (column, kind) in cmap.properties.items():
        cell = record.get(column, "")
        if not cell:
            continue
        if kind == "string":
            properties[key] = cell
            continue
        value: bool | int | float | None = _boolean(cell) if kind == "boolean" else _number(cell)
        if value is None:
            return BadRow(number, f"{key}: not a {kind}: {cell[:40]!r}")
        if isinstance(value, bool):
            properties[key] = int(value) if property_types.get(key) == "number" else str(value).lower()
        else:
            properties[key] = value
    return Row(number, email, fields, properties)
