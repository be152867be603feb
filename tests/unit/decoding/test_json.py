"""JSON records: what is accepted, and a precise DecodeError for each way a record can be wrong."""

from __future__ import annotations

import pytest

from connector.decoding import Decoder
from connector.errors import DecodeError


@pytest.mark.parametrize("fmt", ["json", "auto"])
@pytest.mark.parametrize(
    "value",
    [b'{"type": "track"}', b'\xef\xbb\xbf{"type": "track"}', b' \r\n\t{"type": "track"}', b'{"type":"track"}\n'],
)
def test_json_objects_decode(fmt: str, value: bytes) -> None:
    assert Decoder(fmt).decode(value) == {"type": "track"}  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (b"", "empty record value"),
        (b'{"type": "id\xffentify"}', "invalid UTF-8 at byte 12"),
        (b'\xef\xbb\xbf{"t": "\xc3"}', "invalid UTF-8 at byte 10"),
        (b'{"type": ', "not JSON: Expecting value at line 1 column 10"),
        (b'{"type": "track"} trailing', "not JSON: Extra data"),
        (b'{"total": NaN}', "not JSON: NaN is not a JSON value"),
        (b'{"a": ' * 100_000, "nested too deeply|not JSON"),
        (b"[1, 2]", "top-level JSON must be an object, not list"),
        (b'"track"', "top-level JSON must be an object, not str"),
        (b"null", "top-level JSON must be an object, not NoneType"),
    ],
)
def test_bad_json_is_a_precise_decode_error(value: bytes, message: str) -> None:
    with pytest.raises(DecodeError, match=message) as caught:
        Decoder("json").decode(value)
    assert caught.value.stage == "decode"


def test_auto_mode_without_a_bare_schema_names_what_it_expected() -> None:
    with pytest.raises(DecodeError, match="neither JSON nor Confluent Avro, and no bare Avro schema"):
        Decoder("auto").decode(b"type=track")


def test_auto_mode_sends_json_looking_records_to_json_errors() -> None:
    with pytest.raises(DecodeError, match="invalid UTF-8 at byte 3"):
        Decoder("auto").decode(b"  {\xff}")


def test_json_mode_never_tries_avro() -> None:
    with pytest.raises(DecodeError, match="not JSON"):
        Decoder("json").decode(b"\x00\x00\x00\x00\x07\x10identify")
