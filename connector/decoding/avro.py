"""Avro through fastavro: the event envelope schema, JSON values in and out, Confluent's wire format.

Avro has no "any JSON" type, so traits, context and properties are maps of a recursive ``JsonValue``
record (schemas/event.avsc); :func:`to_avro` wraps plain values into it and :func:`from_avro`
unwraps them, so nested objects and arrays survive a round trip.
"""

from __future__ import annotations

import io
import json
import struct
from collections.abc import Mapping
from importlib.resources import files
from typing import Any

import fastavro

__all__ = ["EVENT_SCHEMA", "MAGIC", "encode", "encode_confluent", "from_avro", "parse", "to_avro"]

MAGIC = 0
_JSON_FIELDS = ("traits", "context", "properties")


def parse(schema: Mapping[str, Any] | str) -> Any:
    return fastavro.parse_schema(json.loads(schema) if isinstance(schema, str) else dict(schema))


EVENT_SCHEMA = parse(files("connector.decoding").joinpath("event.avsc").read_text())


def _wrap(value: Any) -> dict[str, Any]:
    if isinstance(value, Mapping):
        return {"value": {str(k): _wrap(v) for k, v in value.items()}}
    if isinstance(value, list | tuple):
        return {"value": [_wrap(v) for v in value]}
    return {"value": value}


def _unwrap(value: Any) -> Any:
    inner = value["value"] if isinstance(value, dict) and set(value) == {"value"} else value
    if isinstance(inner, dict):
        return {k: _unwrap(v) for k, v in inner.items()}
    if isinstance(inner, list):
        return [_unwrap(v) for v in inner]
    return inner


def to_avro(event: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON-shaped event as the envelope record (ids as strings, JSON fields wrapped)."""
    record: dict[str, Any] = {}
    for key, value in event.items():
        if key in _JSON_FIELDS:
            record[key] = None if value is None else {str(k): _wrap(v) for k, v in value.items()}
        elif value is not None:
            record[key] = str(value) if not isinstance(value, str) else value
    return record


def from_avro(record: Mapping[str, Any]) -> dict[str, Any]:
    event: dict[str, Any] = {}
    for key, value in record.items():
        if value is None:
            continue
        event[key] = {k: _unwrap(v) for k, v in value.items()} if key in _JSON_FIELDS else value
    return event


def encode(event: Mapping[str, Any], schema: Any = EVENT_SCHEMA) -> bytes:
    """Bare Avro (no header): what a producer with a configured schema writes."""
    out = io.BytesIO()
    fastavro.schemaless_writer(out, schema, to_avro(event) if schema is EVENT_SCHEMA else dict(event))
    return out.getvalue()


def encode_confluent(schema_id: int, event: Mapping[str, Any], schema: Any = EVENT_SCHEMA) -> bytes:
    """Confluent's wire format: magic byte 0, the schema id (4 bytes, big-endian), then the Avro body."""
    return struct.pack(">bI", MAGIC, schema_id) + encode(event, schema)
