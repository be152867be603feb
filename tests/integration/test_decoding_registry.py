"""Confluent Avro against a real HTTP Schema Registry on loopback (stdlib http.server)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from connector.decoding import Decoder, SchemaRegistryUnavailable, encode_confluent
from connector.errors import DecodeError
from connector.settings import KafkaSettings

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_TEXT = (ROOT / "schemas" / "event.avsc").read_text()


class _Registry(ThreadingHTTPServer):
    """Knows schema ids 1 and 2 (the envelope schema); records every path it was asked."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.schemas = {1: SCHEMA_TEXT, 2: SCHEMA_TEXT}
        self.seen: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: _Registry

    def do_GET(self) -> None:
        self.server.seen.append(self.path)
        prefix = "/schemas/ids/"
        schema = self.server.schemas.get(int(self.path.removeprefix(prefix))) if self.path.startswith(prefix) else None
        status, body = (200, {"schema": schema}) if schema else (404, {"error_code": 40403, "message": "not found"})
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/vnd.schemaregistry.v1+json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def registry() -> Iterator[_Registry]:
    server = _Registry()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


def test_records_decode_with_schemas_from_a_real_registry(registry: _Registry) -> None:
    decoder = Decoder.from_settings(KafkaSettings(input_format="auto", schema_registry_url=registry.url))
    identify = {"type": "identify", "userId": "u1", "traits": {"plan": "pro", "address": {"city": "Paris"}}}
    track = {"type": "track", "event": "Viewed", "properties": {"items": [{"sku": "a", "qty": 2}, None, 1.5]}}
    assert decoder.decode(encode_confluent(1, identify)) == identify
    assert decoder.decode(encode_confluent(1, track)) == track
    assert decoder.decode(encode_confluent(2, track)) == track
    assert decoder.decode(b'{"type": "page", "name": "Home"}') == {"type": "page", "name": "Home"}
    assert registry.seen == ["/schemas/ids/1", "/schemas/ids/2"]
    with pytest.raises(DecodeError, match="unknown Avro schema id 99"):
        decoder.decode(encode_confluent(99, track))
    decoder.close()


def test_a_registry_that_went_away_is_retryable(registry: _Registry) -> None:
    decoder = Decoder.from_settings(KafkaSettings(input_format="avro", schema_registry_url=registry.url))
    event = {"type": "track", "event": "Viewed"}
    assert decoder.decode(encode_confluent(1, event)) == event
    registry.shutdown()
    registry.server_close()
    assert decoder.decode(encode_confluent(1, event)) == event  # cached: no request needed
    with pytest.raises(SchemaRegistryUnavailable, match="schema registry unreachable: ConnectError"):
        decoder.decode(encode_confluent(2, event))
    decoder.close()
