"""Decoding record values: every failure is a precise DecodeError; nested JSON survives Avro."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.decoding import EVENT_SCHEMA, Decoder, SchemaSource, encode, encode_confluent
from connector.errors import DecodeError, RetryableError

ROOT = Path(__file__).resolve().parents[3]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)  # fmt: skip
objects = st.dictionaries(st.text(max_size=10), json_values, max_size=5)


@settings(max_examples=150, deadline=None)
@given(traits=objects, properties=objects, context=objects)
def test_nested_values_survive_an_avro_round_trip(traits: Any, properties: Any, context: Any) -> None:
    event = {"type": "identify", "userId": "u1", "traits": traits, "properties": properties, "context": context}
    decoded = Decoder("avro", bare_schema=EVENT_SCHEMA).decode(encode(event))
    assert decoded == event


def test_json_errors_are_precise() -> None:
    decoder = Decoder("auto")
    with pytest.raises(DecodeError, match="invalid UTF-8 at byte 12"):
        decoder.decode(b'{"type": "id\xffentify"}')
    with pytest.raises(DecodeError, match="not JSON"):
        decoder.decode(b'{"type": ')
    with pytest.raises(DecodeError, match="must be an object"):
        Decoder("json").decode(b"[1, 2]")
    with pytest.raises(DecodeError, match="empty"):
        decoder.decode(b"")
    with pytest.raises(DecodeError, match="no bare Avro schema"):
        decoder.decode(b"\x02garbage")
    assert decoder.decode(b'\xef\xbb\xbf {"type": "track"}') == {"type": "track"}


def test_confluent_format_from_a_schema_directory(tmp_path: Path) -> None:
    shutil.copy(ROOT / "schemas" / "event.avsc", tmp_path / "7.avsc")
    decoder = Decoder("auto", schemas=SchemaSource(directory=tmp_path))
    event = {"type": "track", "event": "Viewed", "properties": {"items": [1, {"a": None}]}}
    assert decoder.decode(encode_confluent(7, event)) == event
    with pytest.raises(DecodeError, match="unknown Avro schema id 8"):
        decoder.decode(encode_confluent(8, event))
    with pytest.raises(DecodeError, match="does not match schema id 7"):
        decoder.decode(encode_confluent(7, event)[:-3])
    with pytest.raises(DecodeError, match="shorter than its 5-byte header"):
        decoder.decode(b"\x00\x00\x01")


def test_schema_registry_lookups_are_cached_and_outages_are_transient() -> None:
    seen: list[str] = []
    schema_text = (ROOT / "schemas" / "event.avsc").read_text()

    def registry(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        if request.url.path == "/schemas/ids/1":
            return httpx.Response(200, json={"schema": schema_text})
        if request.url.path == "/schemas/ids/3":
            return httpx.Response(503)
        return httpx.Response(404, json={"error_code": 40403})

    source = SchemaSource(registry_url="http://registry.test")
    source._http = httpx.Client(base_url="http://registry.test", transport=httpx.MockTransport(registry))
    decoder = Decoder("auto", schemas=source)
    event = {"type": "identify", "traits": {"email": "a@x.io"}}
    assert decoder.decode(encode_confluent(1, event)) == event
    assert decoder.decode(encode_confluent(1, event)) == event
    assert seen == ["/schemas/ids/1"]
    with pytest.raises(DecodeError, match="unknown Avro schema id 2"):
        decoder.decode(encode_confluent(2, event))
    with pytest.raises(RetryableError):
        decoder.decode(encode_confluent(3, event))


def test_json_schema_accepts_the_sample_events() -> None:
    schema = json.loads((ROOT / "schemas" / "event.schema.json").read_text())
    lines = (ROOT / "deploy" / "sample-events.jsonl").read_text().splitlines()
    good = [json.loads(line) for line in lines if line.startswith("{")]
    for event in good:
        jsonschema.validate(event, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"traits": {}}, schema)
