"""Record values to event dicts: JSON, Confluent-framed Avro, bare Avro."""

from connector.decoding.avro import EVENT_SCHEMA, encode, encode_confluent, from_avro, to_avro
from connector.decoding.decoder import Decoder, SchemaSource

__all__ = ["EVENT_SCHEMA", "Decoder", "SchemaSource", "encode", "encode_confluent", "from_avro", "to_avro"]
