"""Records kafka-python cannot read as they are: a real record batch, built and unpacked by kafka-python."""

from collections.abc import Iterator

import pytest
from kafka.errors import CorruptRecordError
from kafka.record.default_records import DefaultRecordBatch, DefaultRecordBatchBuilder

from connector.errors import DecodeError
from connector.kafka.workarounds import (
    UnreadableRecordError,
    header_fault,
    install_lenient_header_keys,
    uninstall_lenient_header_keys,
)


class RawKey(str):
    """A header key whose bytes are not UTF-8 (kafka-python's producer only writes str keys)."""

    raw: bytes

    def __new__(cls, raw: bytes) -> "RawKey":
        made = super().__new__(cls, raw.decode("latin-1"))
        made.raw = raw
        return made

    def encode(self, encoding: str = "utf-8", errors: str = "strict") -> bytes:
        return self.raw


def batch(*headers: list[tuple[str, bytes | None]]) -> DefaultRecordBatch:
    builder = DefaultRecordBatchBuilder(
        magic=2,
        compression_type=0,
        is_transactional=False,
        producer_id=-1,
        producer_epoch=-1,
        base_sequence=-1,
        batch_size=1 << 20,
    )
    for offset, record_headers in enumerate(headers):
        builder.append(offset, timestamp=1_700_000_000_000, key=b"k%d" % offset, value=b"v%d" % offset,
                       headers=record_headers)  # fmt: skip
    return DefaultRecordBatch(bytes(builder.build()))


@pytest.fixture
def lenient() -> Iterator[None]:
    install_lenient_header_keys()
    yield
    uninstall_lenient_header_keys()


def test_strict_kafka_python_fails_the_whole_batch_on_one_bad_key() -> None:
    uninstall_lenient_header_keys()
    records = iter(batch([("ok", b"1")], [(RawKey(b"bad\xff"), b"2")], [("ok", b"3")]))
    assert next(records).offset == 0
    with pytest.raises(CorruptRecordError):
        next(records)


@pytest.mark.usefixtures("lenient")
def test_lenient_keys_keep_their_bytes_and_the_rest_of_the_batch_reads() -> None:
    records = list(batch([("ok", b"1")], [(RawKey(b"bad\xff"), None), ("after", b"x")], [("ok", b"3")]))
    assert [r.offset for r in records] == [0, 1, 2]
    key, value = records[1].headers[0]
    assert key.encode() == b"bad\xff"  # kafka-python sizes records by encoding keys again
    assert str.encode(key, "utf-8", "surrogateescape") == b"bad\xff"
    assert value is None
    assert records[1].headers[1] == ("after", b"x")
    assert records[2].headers == [("ok", b"3")]
    fault = header_fault(records[1].headers)
    assert isinstance(fault, DecodeError)
    assert fault.stage == "decode"
    assert "header 0" in str(fault)
    assert "b'bad\\xff'" in str(fault)


def test_installing_is_idempotent_and_reversible() -> None:
    assert install_lenient_header_keys()
    wrapped = DefaultRecordBatch._read_msg
    assert install_lenient_header_keys()
    assert DefaultRecordBatch._read_msg is wrapped
    uninstall_lenient_header_keys()
    assert not hasattr(DefaultRecordBatch._read_msg, "strict")


def test_valid_keys_have_no_fault() -> None:
    assert header_fault(None) is None
    assert header_fault([("trace", b"1"), ("ключ", None), ("", b"")]) is None


def test_an_unreadable_record_error_names_the_clients_error() -> None:
    try:
        raise CorruptRecordError("Record for partition t-0 at offset 5 failed crc check")
    except CorruptRecordError as exc:
        error = UnreadableRecordError(exc)
    assert error.stage == "decode"
    assert "CorruptRecordError" in str(error)
    assert "failed crc check" in str(error)
    assert "Traceback" in error.traceback_text


def test_no_auto_creation_reaches_the_metadata_requests_kafka_python_builds() -> None:
    """The field the workaround writes is the one kafka-python 3.0 builds its metadata requests from."""
    from types import SimpleNamespace

    from kafka.cluster import ClusterMetadata

    from connector.kafka.workarounds import no_auto_creation

    metadata = ClusterMetadata()
    metadata.set_topics(["dlq"])
    assert metadata.metadata_request().allow_auto_topic_creation is True  # kafka-python's default
    no_auto_creation(SimpleNamespace(_metadata=metadata))
    assert metadata.metadata_request().allow_auto_topic_creation is False
