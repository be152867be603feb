"""Writer schemas by Confluent schema id: a local directory (``<id>.avsc``) and/or a Schema Registry.

A record whose id no source knows is the record's fault (DecodeError, dead-lettered). A registry that
cannot be reached, or answers 5xx / 429 / an auth refusal, is not: that is
:class:`SchemaRegistryUnavailable`, a RetryableError, so the record waits instead of being lost.

Parsed schemas are cached for the life of the process (a Confluent id never changes meaning). Unknown
ids are remembered for a short while too, so a burst of poison records does not become a burst of
registry requests.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import fastavro
import httpx

from connector.decoding.avro import parse
from connector.errors import DecodeError, RetryableError
from connector.logs import get_logger

__all__ = ["SchemaRegistryUnavailable", "SchemaSource"]

log = get_logger(__name__)

# A registry lookup is on the path of one record; a slow registry should fail over to a retry quickly.
_REGISTRY_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
_UNKNOWN_ID_TTL_SECONDS = 60.0
_UNKNOWN_IDS_KEPT = 1024  # poison records may carry any of 2**32 ids: the memory stays bounded


class SchemaRegistryUnavailable(RetryableError):
    """The Schema Registry could not answer a lookup; the same record may decode later."""

    def __init__(self, message: str, *, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class SchemaSource:
    """Parsed writer schemas by id: the directory first, then the registry, each answer cached."""

    def __init__(
        self,
        *,
        directory: Path | None = None,
        registry_url: str | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._directory = directory
        self._http = (
            httpx.Client(base_url=registry_url, timeout=_REGISTRY_TIMEOUT, transport=transport)
            if registry_url
            else None
        )
        self._cache: dict[int, Any] = {}
        self._unknown: dict[int, float] = {}  # id -> monotonic time until which it stays unknown
        self._lock = threading.Lock()

    def get(self, schema_id: int) -> Any:
        """The parsed schema of ``schema_id``; DecodeError when unknown, SchemaRegistryUnavailable when unsure."""
        schema = self._cache.get(schema_id)  # a dict read is atomic; the lock guards the writes
        if schema is not None:
            return schema
        if self._unknown.get(schema_id, 0.0) > time.monotonic():
            raise DecodeError(f"unknown Avro schema id {schema_id}")
        try:
            schema = self._load(schema_id)
        except DecodeError:
            with self._lock:
                if len(self._unknown) >= _UNKNOWN_IDS_KEPT:
                    self._unknown.clear()
                self._unknown[schema_id] = time.monotonic() + _UNKNOWN_ID_TTL_SECONDS
            raise
        with self._lock:
            self._cache[schema_id] = schema
            self._unknown.pop(schema_id, None)
        return schema

    def _load(self, schema_id: int) -> Any:
        if self._directory is not None:
            path = self._directory / f"{schema_id}.avsc"
            if path.is_file():
                return _parse(path.read_text(encoding="utf-8"), schema_id)
        if self._http is not None:
            return _parse(self._fetch(schema_id), schema_id)
        raise DecodeError(f"unknown Avro schema id {schema_id}")

    def _fetch(self, schema_id: int) -> str:
        """The schema text from GET /schemas/ids/{id} (Confluent Schema Registry API)."""
        assert self._http is not None
        try:
            response = self._http.get(f"/schemas/ids/{schema_id}")
        except httpx.HTTPError as exc:
            # Never the URL: it may carry basic-auth credentials.
            raise SchemaRegistryUnavailable(f"schema registry unreachable: {type(exc).__name__}") from exc
        if response.status_code == 404:
            raise DecodeError(f"unknown Avro schema id {schema_id}")
        if not response.is_success:
            log.warning("schema_registry.refused", schema_id=schema_id, status=response.status_code)
            raise SchemaRegistryUnavailable(
                f"schema registry answered {response.status_code} for schema id {schema_id}",
                status=response.status_code,
            )
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("schema"), str):
            raise DecodeError(f"schema registry answered schema id {schema_id} without a schema")
        if body.get("schemaType", "AVRO") != "AVRO":
            raise DecodeError(f"schema id {schema_id} is a {body['schemaType']} schema, not Avro")
        log.info("schema_registry.fetched", schema_id=schema_id)
        return str(body["schema"])

    def close(self) -> None:
        if self._http is not None:
            self._http.close()


def _parse(text: str, schema_id: int) -> Any:
    try:
        return parse(text)
    except (ValueError, TypeError, KeyError, fastavro.schema.SchemaParseException) as exc:
        raise DecodeError(f"Avro schema id {schema_id} is not a valid schema: {exc}") from None
