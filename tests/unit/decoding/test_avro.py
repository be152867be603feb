"""Avro records, bare and in Confluent's wire format: nested JSON values survive a round trip."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.decoding import EVENT_SCHEMA, Decoder, SchemaSource, encode_avro, encode_confluent
from connector.decoding.avro import parse
from connector.errors import ConfigurationError, DecodeError
from connector.settings import KafkaSettings

ROOT = Path(__file__).resolve().parents[3]
SCHEMA_FILE = ROOT / "schemas" / "event.avsc"

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=25,
)
json_objects = st.dictionaries(st.text(max_size=10), json_values, max_size=5)


@pytest.fixture
def schema_dir(tmp_path: Path) -> Path:
    shutil.copy(SCHEMA_FILE, tmp_path / "7.avsc")
    return tmp_path


@settings(max_examples=120, deadline=None)
@given(traits=json_objects, properties=json_objects, context=json_objects)
def test_arbitrary_nested_values_survive_bare_and_confluent_round_trips(
    traits: dict[str, Any], properties: dict[str, Any], context: dict[str, Any]
) -> None:
    event = {"type": "identify", "userId": "u1", "traits": traits, "properties": properties, "context": context}
    assert Decoder("avro", bare_schema=EVENT_SCHEMA).decode(encode_avro(event)) == event
    decoded = Decoder("auto", schemas=_Fixed(EVENT_SCHEMA)).decode(encode_confluent(3, event))
    assert decoded == event
    # Equal is not enough for JSON: 1 == 1.0 == True in Python, but not in a Resend property.
    assert json.dumps(decoded, sort_keys=True) == json.dumps(event, sort_keys=True)


class _Fixed(SchemaSource):
    def __init__(self, schema: Any) -> None:
        super().__init__()
        self._schema = schema

    def get(self, schema_id: int) -> Any:
        return self._schema


def test_an_object_whose_only_key_is_value_stays_an_object() -> None:
    event = {"type": "track", "properties": {"value": {"value": [{"value": None}]}}}
    assert Decoder("avro", bare_schema=EVENT_SCHEMA).decode(encode_avro(event)) == event


def test_envelope_strings_numeric_ids_and_absent_fields() -> None:
    event = {"type": "track", "userId": 42, "event": "Viewed", "anonymousId": None, "sentAt": "2026-01-01"}
    assert Decoder("avro", bare_schema=EVENT_SCHEMA).decode(encode_avro(event)) == {
        "type": "track",
        "userId": "42",
        "event": "Viewed",
    }


def test_confluent_records_resolve_their_schema_from_a_directory(schema_dir: Path) -> None:
    decoder = Decoder("auto", schemas=SchemaSource(directory=schema_dir))
    event = {"type": "track", "event": "Viewed", "properties": {"items": [1, {"a": None}]}}
    assert decoder.decode(encode_confluent(7, event)) == event


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (encode_confluent(8, {"type": "track"}), "unknown Avro schema id 8"),
        (encode_confluent(7, {"type": "track", "event": "Viewed"})[:-3], "Avro payload does not match schema id 7"),
        (encode_confluent(7, {"type": "track"}) + b"\x00\x00", "does not match schema id 7: 2 trailing bytes"),
        (b"\x00\x00\x01", "3 bytes is shorter than its 5-byte header"),
    ],
)
def test_bad_confluent_records_are_precise_decode_errors(schema_dir: Path, value: bytes, message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        Decoder("avro", schemas=SchemaSource(directory=schema_dir)).decode(value)


def test_an_invalid_schema_file_is_a_decode_error_for_its_records(schema_dir: Path) -> None:
    (schema_dir / "9.avsc").write_text('{"type": "record", "name": "X", "fields": [{"name": "a", "type": "nope"}]}')
    with pytest.raises(DecodeError, match="Avro schema id 9 is not a valid schema"):
        Decoder("auto", schemas=SchemaSource(directory=schema_dir)).decode(b"\x00\x00\x00\x00\x09\x02")


def test_bare_avro_that_does_not_match_the_schema() -> None:
    with pytest.raises(DecodeError, match="Avro payload does not match the bare Avro schema"):
        Decoder("avro", bare_schema=EVENT_SCHEMA).decode(b"\x7f")


def test_records_of_a_producers_own_schema_are_taken_as_they_are() -> None:
    schema = parse(
        {
            "type": "record",
            "name": "Identify",
            "fields": [
                {"name": "type", "type": "string"},
                {"name": "traits", "type": {"type": "map", "values": "string"}},
            ],
        }
    )
    event = {"type": "identify", "traits": {"plan": "pro"}}
    assert Decoder("avro", bare_schema=schema).decode(encode_avro(event, schema)) == event


def test_auto_mode_tells_json_confluent_and_bare_avro_apart(schema_dir: Path) -> None:
    decoder = Decoder("auto", bare_schema=EVENT_SCHEMA, schemas=SchemaSource(directory=schema_dir))
    event = {"type": "page", "name": "Pricing"}
    assert decoder.decode(json.dumps(event).encode()) == event
    assert decoder.decode(encode_confluent(7, event)) == event
    assert decoder.decode(encode_avro(event)) == event


def test_from_settings_bare_avro_defaults_to_the_envelope_schema() -> None:
    decoder = Decoder.from_settings(KafkaSettings(input_format="avro"))
    assert decoder.decode(encode_avro({"type": "track", "event": "A"})) == {"type": "track", "event": "A"}


def test_from_settings_reads_the_bare_schema_file_and_the_schema_dir(schema_dir: Path) -> None:
    settings = KafkaSettings(input_format="auto", avro_schema_file=SCHEMA_FILE, schema_dir=schema_dir)
    decoder = Decoder.from_settings(settings)
    assert decoder.decode(encode_avro({"type": "alias", "previousId": "a"})) == {"type": "alias", "previousId": "a"}
    assert decoder.decode(encode_confluent(7, {"type": "group", "groupId": "g"})) == {"type": "group", "groupId": "g"}


def test_from_settings_an_unusable_schema_file_is_a_configuration_error(tmp_path: Path) -> None:
    (tmp_path / "bad.avsc").write_text("{not json")
    for path in (tmp_path / "bad.avsc", tmp_path / "missing.avsc"):
        with pytest.raises(ConfigurationError) as caught:
            Decoder.from_settings(KafkaSettings(avro_schema_file=path))
        assert caught.value.problems[0].startswith("kafka.avro_schema_file: cannot use")


def test_the_packaged_schema_is_the_published_one() -> None:
    packaged = ROOT / "connector" / "decoding" / "event.avsc"
    assert json.loads(packaged.read_text()) == json.loads(SCHEMA_FILE.read_text())
