"""Every kind of bad record, each between two good identifies, through the real connector process.

The corpus (poison_corpus.py) is produced once, to one partition, on the real broker; the connector
runs over it once. Each kind is then its own test: its documented outcome, read from the
dead-letter topic (stage and reason) or from the emulator (the contact exists), while the good
records around every one of them land and the connector never exits.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaProducer

from resend_emulator import EmulatorInspector, EmulatorServer
from tests.harness import ConnectorProcess, Deployment, wait_drained
from tests.integration.conftest import API_KEY
from tests.integration.poison_corpus import Bad, corpus, null_header_values

CORPUS = corpus()
LIMIT = 8 * 1024 * 1024  # the events topic takes records larger than the dead-letter topic does


@dataclass
class Run:
    deployment: Deployment
    bad_at: dict[int, Bad]  # offset -> the bad record there
    good: dict[int, str]  # offset -> the email of the good identify there
    letters: dict[int, Any]  # source offset -> its dead letter
    contacts: dict[str, Any]
    output: str
    exit_code: int


def good(n: int) -> tuple[bytes, bytes]:
    body = {"type": "identify", "userId": f"good-{n}", "traits": {"email": f"good-{n}@example.com", "n": n}}
    return f"good-{n}".encode(), json.dumps(body).encode()


def produce(deployment: Deployment) -> tuple[dict[int, Bad], dict[int, str]]:
    bad_at: dict[int, Bad] = {}
    good_at: dict[int, str] = {}
    producers: dict[str | None, KafkaProducer] = {}

    def producer(codec: str | None) -> KafkaProducer:
        if codec not in producers:
            producers[codec] = KafkaProducer(bootstrap_servers=deployment.bootstrap, acks="all", linger_ms=0,
                                             compression_type=codec, max_request_size=LIMIT)  # fmt: skip
        return producers[codec]

    def send(codec: str | None, **record: Any) -> int:
        sent = producer(codec).send(deployment.topic, partition=0, **record)
        return int(sent.get(timeout=60).offset)  # one by one: offsets in corpus order

    with null_header_values():
        for n, case in enumerate(CORPUS):
            key, value = good(n)
            good_at[send(None, key=key, value=value)] = f"good-{n}@example.com"
            offset = send(case.compression, key=case.key, value=case.value, headers=list(case.headers),
                          timestamp_ms=case.timestamp_ms)  # fmt: skip
            bad_at[offset] = case
        key, value = good(len(CORPUS))
        good_at[send(None, key=key, value=value)] = f"good-{len(CORPUS)}@example.com"
    for made in producers.values():
        made.close()
    return bad_at, good_at


@pytest.fixture(scope="module")
def run(kafka_bootstrap: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    emulator = EmulatorServer(api_keys=(API_KEY,)).start()
    tag = uuid.uuid4().hex[:10]
    deployment = Deployment(kafka_bootstrap, redis_url, emulator.url, API_KEY, topic=f"corpus-{tag}",
                            group=f"corpus-{tag}", key_prefix=f"corpus-{tag}:", partitions=1,
                            topic_configs={"max.message.bytes": str(LIMIT)})  # fmt: skip
    try:
        deployment.create_topics()
        bad_at, good_at = produce(deployment)
        process = ConnectorProcess(deployment, tmp_path_factory.mktemp("corpus") / "connector.log")
        try:
            wait_drained(deployment, process, timeout=300)
        finally:
            code = process.stop()
        letters = {int(dict(r.headers)["__connect.errors.offset"]): r for r in deployment.dead_letters()}
        inspector = EmulatorInspector(emulator.url)
        contacts = inspector.contacts()
        inspector.close()
        yield Run(deployment, bad_at, good_at, letters, contacts, process.output(), code)
    finally:
        emulator.stop()


def test_the_connector_never_exits_and_every_good_record_lands(run: Run) -> None:
    assert run.exit_code == 0
    assert len(CORPUS) >= 100
    assert len({case.name for case in CORPUS}) == len(CORPUS)
    missing = [email for email in run.good.values() if email not in run.contacts]
    assert missing == []
    assert [o for o in run.good if o in run.letters] == []
    assert set(run.letters) <= set(run.bad_at)
    internal = [dict(r.headers)["__connect.errors.exception.message"] for r in run.letters.values()
                if dict(r.headers)["__connect.errors.stage"] == b"internal"]  # fmt: skip
    assert internal == []  # no bug of the connector's own met on the way


@pytest.mark.parametrize("case", CORPUS, ids=[case.name for case in CORPUS])
def test_each_kind_ends_as_documented(run: Run, case: Bad) -> None:
    offset = next(o for o, c in run.bad_at.items() if c is case)
    letter = run.letters.get(offset)
    if case.expect in ("skip", "applied"):
        detail = letter and dict(letter.headers)["__connect.errors.exception.message"]
        assert letter is None, f"dead-lettered: {detail!r}"
        if case.expect == "applied":
            assert case.email in run.contacts
        return
    assert letter is not None, "not dead-lettered"
    headers = dict(letter.headers)
    assert headers["__connect.errors.stage"].decode() in case.expect.split("|")
    assert case.reason.encode() in headers["__connect.errors.exception.message"]
    assert headers["__connect.errors.topic"] == run.deployment.topic.encode()
    if len(case.value or b"") + len(case.key or b"") + sum(len(v or b"") for _, v in case.headers) < 1024 * 1024:
        assert (letter.key, letter.value) == (case.key, case.value)  # byte for byte
        assert letter.timestamp == case.timestamp_ms or case.timestamp_ms is None
    else:
        sizes = json.loads(headers["__resend_connector.truncated"])
        assert max(sizes.values()) >= 2 * 1024 * 1024
        assert letter.value == (case.value or b"")[: 64 * 1024]


def test_headers_survive_the_dead_letter_copy(run: Run) -> None:
    def letter_of(name: str) -> Any:
        return run.letters[next(o for o, c in run.bad_at.items() if c.name == name)]

    nulls = letter_of("null header value, bad JSON")
    assert nulls.headers[:2] == [("trace", b""), ("x", b"1")]
    assert dict(nulls.headers)["__resend_connector.null_header_values"] == b"0"
    binary = letter_of("header value not UTF-8, bad JSON")
    assert binary.headers[0] == ("bin", b"\xff\x00\xfe")
    bad_key = letter_of("header key not UTF-8, bad JSON")
    assert bad_key.headers[:2] == [("ok", b"1"), ("\\xc3(", b"v")]
    assert dict(bad_key.headers)["__resend_connector.header_key_bytes.1"] == b"\xc3\x28"
    many = letter_of("100 headers, bad JSON")
    assert many.headers[:100] == [(f"h{i}", b"%d" % i) for i in range(100)]
    assert letter_of("empty header key, bad JSON").headers[0] == ("", b"v")
    big = letter_of("2 MB header value, bad JSON")
    assert big.headers[0] == ("big", b"h" * 1024)
    assert json.loads(dict(big.headers)["__resend_connector.truncated"]) == {"header.0": 2 * 1024 * 1024}


def test_logs_name_each_dead_letter(run: Run, tmp_path: Path) -> None:
    lines = [json.loads(line) for line in run.output.splitlines() if line.startswith("{")]
    dead = [line for line in lines if line.get("event") == "record.dead_lettered"]
    # Offsets, not counts: a dead-letter write retried after a lost ack logs (and writes) twice.
    assert {line["offset"] for line in dead} == set(run.letters)
    assert any(line.get("shortened") for line in dead)
