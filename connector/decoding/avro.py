"""Avro through fastavro: the event envelope schema, JSON values in and out, Confluent's wire format.

Avro has no "any JSON" type, so traits, context and properties are maps of a recursive ``JsonValue``
record (schemas/event.avsc, copied into this package as the default schema): :func:`to_avro` wraps
plain values into it and :func:`from_avro` unwraps them, so nested objects and arrays survive a round
trip. The envelope's other fields are strings; numeric ids (``userId: 42``) are written as ``"42"``.
Top-level keys outside the envelope (``sentAt``, ``integrations``, ...) are not part of the schema and
are not written.
"""

from __future__ import annotations

import io
import json
import struct
from collections.abc import Mapping
from importlib.resources import files
from typing import Any

import fastavro

__all__ = [
    "EVENT_SCHEMA",
    "MAGIC",
    "encode_avro",
    "encode_confluent",
    "from_avro",
    "is_envelope",
    "parse",
    "to_avro",
]

MAGIC = 0
_HEADER = struct.Struct(">bI")
_JSON_FIELDS = frozenset({"traits", "context", "properties"})
_ENVELOPE_NAME = "connector.events.Event"


def parse(schema: Mapping[str, Any] | str) -> Any:
    """A parsed (fastavro) schema from its JSON text or its dict form."""
    return fastavro.parse_schema(json.loads(schema) if isinstance(schema, str) else dict(schema))


EVENT_SCHEMA = parse(files("connector.decoding").joinpath("event.avsc").read_text(encoding="utf-8"))


def is_envelope(schema: Any) -> bool:
    """True for the envelope schema (or a version of it): its records need :func:`from_avro`.

    Records of any other schema are taken as they are, so a producer's own schema with plain fields
    (``traits`` as a map of strings, say) also works.
    """
    return isinstance(schema, dict) and schema.get("name") == _ENVELOPE_NAME


def _wrap(value: Any) -> dict[str, Any]:
    if isinstance(value, Mapping):
        return {"value": {str(k): _wrap(v) for k, v in value.items()}}
    if isinstance(value, list | tuple):
        return {"value": [_wrap(v) for v in value]}
    return {"value": value}


def _unwrap(record: dict[str, Any]) -> Any:
    # Only ever called on a JsonValue record, so its one field is unwrapped unconditionally: a JSON
    # object whose only key is "value" stays an object.
    inner = record["value"]
    if isinstance(inner, dict):
        return {k: _unwrap(v) for k, v in inner.items()}
    if isinstance(inner, list):
        return [_unwrap(v) for v in inner]
    return inner


def to_avro(event: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON-shaped event as the envelope record (ids as strings, JSON fields wrapped)."""
    record: dict[str, Any] = {}
    for key, value in event.items():
        if value is None:
            continue
        if key in _JSON_FIELDS:
            record[key] = {str(k): _wrap(v) for k, v in value.items()}
        else:
            record[key] = value if isinstance(value, str) else str(value)
    return record


def from_avro(record: Mapping[str, Any]) -> dict[str, Any]:
    """The envelope record as a JSON-shaped event; null fields are left out, as JSON producers do."""
    event: dict[str, Any] = {}
    for key, value in record.items():
        if value is None:
            continue
        event[key] = {k: _unwrap(v) for k, v in value.items()} if key in _JSON_FIELDS else value
    return event


def encode_avro(event: Mapping[str, Any], schema: Any = EVENT_SCHEMA) -> bytes:
    """Bare Avro (no header), what a producer with a configured schema writes.

    With the envelope schema the event is a JSON-shaped dict (wrapped by :func:`to_avro`); with any
    other schema it must already be a record of that schema.
    """
    out = io.BytesIO()
    fastavro.schemaless_writer(out, schema, to_avro(event) if schema is EVENT_SCHEMA else dict(event))
    return out.getvalue()


def encode_confluent(schema_id: int, event: Mapping[str, Any], schema: Any = EVENT_SCHEMA) -> bytes:
    """Confluent's wire format: magic byte 0, the schema id (4 bytes, big-endian), then the Avro body."""
    return _HEADER.pack(MAGIC, schema_id) + encode_avro(event, schema)
