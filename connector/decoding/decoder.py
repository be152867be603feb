"""Kafka record values -> event dicts: JSON (UTF-8) or Avro (Confluent wire format, or bare).

Every failure of the record itself is a DecodeError with a precise reason (dead-lettered); a schema
registry that cannot be reached is a RetryableError (the record is fine, the registry is not).
"""

from __future__ import annotations

import io
import json
import struct
import threading
from pathlib import Path
from typing import Any

import fastavro
import httpx

from connector.decoding.avro import EVENT_SCHEMA, MAGIC, from_avro, parse
from connector.errors import ConfigurationError, DecodeError, RetryableError
from connector.settings import KafkaSettings

__all__ = ["Decoder", "SchemaSource"]

_BOM = b"\xef\xbb\xbf"


class SchemaSource:
    """Writer schemas by Confluent id: from a directory (``<id>.avsc``) or a Schema Registry."""

    def __init__(self, *, directory: Path | None = None, registry_url: str | None = None) -> None:
        self._directory = directory
        self._http = httpx.Client(base_url=registry_url, timeout=10.0) if registry_url else None
        self._cache: dict[int, Any] = {}
        self._lock = threading.Lock()

    def get(self, schema_id: int) -> Any:
        with self._lock:
            if schema_id in self._cache:
                return self._cache[schema_id]
        schema = self._load(schema_id)
        with self._lock:
            self._cache[schema_id] = schema
        return schema

    def _load(self, schema_id: int) -> Any:
        if self._directory is not None:
            path = self._directory / f"{schema_id}.avsc"
            if path.is_file():
                return self._parse(path.read_text(), schema_id)
        if self._http is not None:
            try:
                response = self._http.get(f"/schemas/ids/{schema_id}")
            except httpx.HTTPError as exc:
                raise RetryableError(f"schema registry unreachable: {type(exc).__name__}") from exc
            if response.status_code == 404:
                raise DecodeError(f"unknown Avro schema id {schema_id}")
            if response.status_code >= 500:
                raise RetryableError(f"schema registry answered {response.status_code}")
            if not response.is_success:
                raise DecodeError(f"schema registry refused schema id {schema_id}: {response.status_code}")
            return self._parse(response.json()["schema"], schema_id)
        raise DecodeError(f"unknown Avro schema id {schema_id}")

    @staticmethod
    def _parse(text: str, schema_id: int) -> Any:
        try:
            return parse(text)
        except (ValueError, fastavro.schema.SchemaParseException) as exc:
            raise DecodeError(f"Avro schema id {schema_id} is not a valid schema: {exc}") from exc

    def close(self) -> None:
        if self._http is not None:
            self._http.close()


class Decoder:
    def __init__(self, fmt: str = "auto", *, bare_schema: Any = None, schemas: SchemaSource | None = None) -> None:
        self._format = fmt
        self._bare_schema = bare_schema
        self._schemas = schemas or SchemaSource()

    @classmethod
    def from_settings(cls, settings: KafkaSettings) -> Decoder:
        bare = None
        if settings.avro_schema_file is not None:
            try:
                bare = parse(settings.avro_schema_file.read_text())
            except (OSError, ValueError, fastavro.schema.SchemaParseException) as exc:
                problem = f"kafka.avro_schema_file: cannot use {settings.avro_schema_file}: {exc}"
                raise ConfigurationError(problem, (problem,)) from None
        elif settings.input_format == "avro" and not (settings.schema_dir or settings.schema_registry_url):
            bare = EVENT_SCHEMA  # bare Avro in the project's own envelope schema
        schemas = SchemaSource(directory=settings.schema_dir, registry_url=settings.schema_registry_url)
        return cls(settings.input_format, bare_schema=bare, schemas=schemas)

    def decode(self, value: bytes) -> dict[str, Any]:
        if not value:
            raise DecodeError("empty record value")
        if self._format == "json":
            return self._json(value)
        if value[0] == MAGIC:
            return self._confluent(value)
        if self._format == "auto" and value.lstrip(_BOM + b" \t\r\n")[:1] == b"{":
            return self._json(value)
        if self._bare_schema is not None:
            return self._avro(value, self._bare_schema, "bare Avro")
        raise DecodeError("neither JSON nor Confluent Avro, and no bare Avro schema is configured")

    @staticmethod
    def _json(value: bytes) -> dict[str, Any]:
        try:
            text = value.removeprefix(_BOM).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DecodeError(f"invalid UTF-8 at byte {exc.start}") from None
        try:
            event = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DecodeError(f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
        if not isinstance(event, dict):
            raise DecodeError(f"top-level JSON must be an object, not {type(event).__name__}")
        return event

    def _confluent(self, value: bytes) -> dict[str, Any]:
        if len(value) < 5:
            raise DecodeError("Confluent Avro record shorter than its 5-byte header")
        schema_id = struct.unpack(">I", value[1:5])[0]
        return self._avro(value[5:], self._schemas.get(schema_id), f"schema id {schema_id}")

    @staticmethod
    def _avro(body: bytes, schema: Any, what: str) -> dict[str, Any]:
        stream = io.BytesIO(body)
        try:
            record = fastavro.schemaless_reader(stream, schema, None)
        except Exception as exc:  # noqa: BLE001 - fastavro raises many types for corrupt data
            raise DecodeError(f"Avro payload does not match {what}: {type(exc).__name__}: {exc}") from None
        if stream.tell() != len(body):
            raise DecodeError(f"Avro payload does not match {what}: {len(body) - stream.tell()} trailing bytes")
        if not isinstance(record, dict):
            raise DecodeError(f"Avro record must be a record, not {type(record).__name__}")
        return from_avro(record)

    def close(self) -> None:
        self._schemas.close()
