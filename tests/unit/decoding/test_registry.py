"""Schema Registry lookups (httpx.MockTransport): cached per id; unknown ids dead-letter, outages wait."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from connector.decoding import Decoder, SchemaRegistryUnavailable, SchemaSource, encode_confluent
from connector.errors import DecodeError, RetryableError

ROOT = Path(__file__).resolve().parents[3]
SCHEMA_TEXT = (ROOT / "schemas" / "event.avsc").read_text()
EVENT = {"type": "identify", "userId": "u1", "traits": {"email": "a@x.io", "tags": ["a", {"b": 1}]}}


class Registry:
    """A tiny stateful fake of GET /schemas/ids/{id}: ``answers`` by id, and every path it was asked."""

    def __init__(self, answers: dict[int, Any]) -> None:
        self.answers = answers
        self.seen: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request.url.path)
        answer = self.answers.get(int(request.url.path.rsplit("/", 1)[1]))
        if answer is None:
            return httpx.Response(404, json={"error_code": 40403, "message": "Schema not found"})
        if isinstance(answer, Exception):
            raise answer
        if isinstance(answer, httpx.Response):
            return answer
        return httpx.Response(200, json=answer)

    def decoder(self, **kwargs: Any) -> Decoder:
        source = SchemaSource(registry_url="http://registry.test/", transport=httpx.MockTransport(self), **kwargs)
        return Decoder("auto", schemas=source)


def test_schemas_are_fetched_once_per_id() -> None:
    registry = Registry({1: {"schema": SCHEMA_TEXT}, 2: {"schema": SCHEMA_TEXT, "schemaType": "AVRO"}})
    decoder = registry.decoder()
    for _ in range(3):
        assert decoder.decode(encode_confluent(1, EVENT)) == EVENT
        assert decoder.decode(encode_confluent(2, EVENT)) == EVENT
    assert registry.seen == ["/schemas/ids/1", "/schemas/ids/2"]


def test_an_unknown_id_is_a_decode_error_and_is_not_asked_again_at_once() -> None:
    registry = Registry({})
    decoder = registry.decoder()
    for _ in range(3):
        with pytest.raises(DecodeError, match="unknown Avro schema id 42"):
            decoder.decode(encode_confluent(42, EVENT))
    assert registry.seen == ["/schemas/ids/42"]


@pytest.mark.parametrize(
    "answer",
    [
        httpx.ConnectError("refused"),
        httpx.ReadTimeout("slow"),
        httpx.Response(503),
        httpx.Response(429),
        httpx.Response(401, json={"error_code": 40101}),
    ],
)
def test_a_registry_that_cannot_answer_is_retryable_not_a_decode_error(answer: Any) -> None:
    registry = Registry({5: answer})
    decoder = registry.decoder()
    with pytest.raises(SchemaRegistryUnavailable) as caught:
        decoder.decode(encode_confluent(5, EVENT))
    assert isinstance(caught.value, RetryableError)
    assert not isinstance(caught.value, DecodeError)
    assert "registry.test" not in str(caught.value)
    # Not cached as unknown: once the registry answers, the same record decodes.
    registry.answers[5] = {"schema": SCHEMA_TEXT}
    assert decoder.decode(encode_confluent(5, EVENT)) == EVENT


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ({"schema": '{"type": "record", "name": "X", "fields": [{"name": "a", "type": "nope"}]}'}, "not a valid"),
        ({"schema": "syntax = 'proto3';", "schemaType": "PROTOBUF"}, "is a PROTOBUF schema, not Avro"),
        ({"no": "schema"}, "without a schema"),
        (httpx.Response(200, text="<html>"), "without a schema"),
    ],
)
def test_a_schema_the_decoder_cannot_use_is_a_decode_error(answer: Any, message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        Registry({6: answer}).decoder().decode(encode_confluent(6, EVENT))


def test_the_schema_directory_is_asked_before_the_registry(tmp_path: Path) -> None:
    (tmp_path / "1.avsc").write_text(SCHEMA_TEXT)
    registry = Registry({2: {"schema": SCHEMA_TEXT}})
    decoder = registry.decoder(directory=tmp_path)
    assert decoder.decode(encode_confluent(1, EVENT)) == EVENT
    assert decoder.decode(encode_confluent(2, EVENT)) == EVENT
    assert registry.seen == ["/schemas/ids/2"]


def test_a_registry_below_a_path_keeps_its_path() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, json={"schema": SCHEMA_TEXT})

    source = SchemaSource(registry_url="http://registry.test/sr/", transport=httpx.MockTransport(handler))
    Decoder("auto", schemas=source).decode(encode_confluent(3, EVENT))
    assert seen == ["http://registry.test/sr/schemas/ids/3"]
