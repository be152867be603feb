"""Record values to event dicts: JSON, Confluent-framed Avro, bare Avro; and the Avro encoders."""

from connector.decoding.avro import EVENT_SCHEMA, encode_avro, encode_confluent, from_avro, to_avro
from connector.decoding.decoder import Decoder, InputFormat
from connector.decoding.registry import SchemaRegistryUnavailable, SchemaSource

__all__ = [
    "EVENT_SCHEMA",
    "Decoder",
    "InputFormat",
    "SchemaRegistryUnavailable",
    "SchemaSource",
    "encode_avro",
    "encode_confluent",
    "from_avro",
    "to_avro",
]
