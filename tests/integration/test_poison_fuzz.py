"""10,000 random and mutated records through the real connector, then a good identify that must land.

Seeded, so a failure reproduces: valid events of every type are mutated byte-wise (flips, inserts,
deletions, truncations, spliced spans) or field-wise (a field replaced by a value of a random
type), mixed with random bytes, random keys and odd headers. Whatever each becomes, the connector
keeps running, commits everything, and dead-letters nothing as a bug of its own.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaProducer

from resend_emulator import EmulatorInspector, EmulatorServer
from tests.harness import ConnectorProcess, Deployment, wait_drained
from tests.integration.conftest import API_KEY
from tests.integration.poison_corpus import NULL, RawKey, null_header_values

RECORDS = 10_000
FIELDS = ["type", "userId", "anonymousId", "messageId", "traits", "context", "properties", "event", "name",
          "groupId", "previousId", "timestamp"]  # fmt: skip


def seeds(rng: random.Random) -> list[dict[str, Any]]:
    n = rng.randrange(1000)
    email = f"fz{n}@example.com"
    return [
        {"type": "identify", "userId": f"f{n}", "traits": {"email": email, "plan": "pro", "firstName": "A",
                                                          "resendAudiences": ["Fuzz"], "unsubscribed": False}},
        {"type": "track", "userId": f"f{n}", "event": "Viewed", "traits": {"email": email, "last": n}},
        {"type": "page", "userId": f"f{n}", "name": "Home", "context": {"traits": {"email": email}}},
        {"type": "group", "userId": f"f{n}", "groupId": "g1", "traits": {"name": "Acme"}},
        {"type": "alias", "userId": f"f{n}", "previousId": f"f{n + 1}"},
    ]  # fmt: skip


def random_value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(9 if depth < 3 else 6)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice([True, False])
    if kind == 2:
        return rng.choice([0, -1, 2**63, 1.5, 1e308])
    if kind == 3:
        return "".join(rng.choice("ab @.\x00\n,é") for _ in range(rng.randrange(12)))
    if kind == 4:
        return rng.choice(["", "x@y.io", "A@B.CO ", "no-at", "a@b"])
    if kind == 5:
        return "x" * rng.randrange(1, 5000)
    if kind == 6:
        return [random_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {rng.choice([*FIELDS, "email", "x"]): random_value(rng, depth + 1) for _ in range(rng.randrange(4))}


def mutate_bytes(rng: random.Random, data: bytes) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randrange(1, 6)):
        op = rng.randrange(5)
        at = rng.randrange(len(buf) + 1)
        if op == 0 and buf:
            buf[min(at, len(buf) - 1)] ^= 1 << rng.randrange(8)
        elif op == 1:
            buf[at:at] = bytes([rng.randrange(256)])
        elif op == 2:
            del buf[at : at + rng.randrange(1, 8)]
        elif op == 3:
            del buf[at:]
        else:
            start = rng.randrange(len(buf) + 1)
            buf[at:at] = buf[start : start + rng.randrange(1, 16)]
    return bytes(buf)


def mutate_fields(rng: random.Random, event: dict[str, Any]) -> bytes:
    for _ in range(rng.randrange(1, 4)):
        target = event
        if rng.random() < 0.5 and isinstance(event.get("traits"), dict):
            target = event["traits"]
        target[rng.choice([*FIELDS, "email", "resendAudiences", "firstName"])] = random_value(rng)
    return json.dumps(event).encode()


def records(seed: int) -> Iterator[dict[str, Any]]:
    rng = random.Random(seed)
    for n in range(RECORDS):
        base = rng.choice(seeds(rng))
        roll = rng.random()
        if roll < 0.4:
            value: bytes | None = mutate_bytes(rng, json.dumps(base).encode())
        elif roll < 0.8:
            value = mutate_fields(rng, base)
        elif roll < 0.95:
            value = bytes(rng.randrange(256) for _ in range(rng.randrange(64)))
        else:
            value = rng.choice([None, b"", b"{}", b"\x00\x00\x00\x00\x01\x02"])
        headers: list[tuple[str, bytes]] = []
        if rng.random() < 0.05:
            headers = [rng.choice([("h", NULL), (RawKey(b"\xff"), b"v"), ("bin", b"\x00\xff"), ("", b"")])]
        # Odd keys too, but mostly many: one key (or none) is one lane, run in order, one at a time.
        key = rng.choices([None, b"", f"k{n % 197}".encode(), bytes([rng.randrange(256)])], [1, 1, 14, 4])[0]
        if key is None and value is None:
            key = b"tombstone"  # kafka-python's producer cannot write a record with neither
        yield {"key": key, "value": value, "headers": headers}


@pytest.fixture
def deployment(
    kafka_bootstrap: str, redis_url: str, emulator: EmulatorServer, unique: Callable[[str], str]
) -> Deployment:
    made = Deployment(kafka_bootstrap, redis_url, emulator.url, API_KEY, topic=unique("fuzz"), group=unique("fuzz"),
                      key_prefix=unique("fuzz") + ":")  # fmt: skip
    made.create_topics()
    return made


@pytest.mark.timeout(400)
def test_ten_thousand_random_records_then_a_good_identify_lands(
    deployment: Deployment, inspector: EmulatorInspector, tmp_path: Path
) -> None:
    producer = KafkaProducer(bootstrap_servers=deployment.bootstrap, acks="all", linger_ms=20)
    with null_header_values():
        for record in records(seed=12):
            producer.send(deployment.topic, **record)
        final = {"type": "identify", "userId": "after-fuzz", "traits": {"email": "after-fuzz@example.com"}}
        producer.send(deployment.topic, key=b"after-fuzz", value=json.dumps(final).encode())
        producer.flush()
    producer.close()
    process = ConnectorProcess(deployment, tmp_path / "connector.log")
    try:
        wait_drained(deployment, process, timeout=300)
    finally:
        assert process.stop() == 0
    assert "after-fuzz@example.com" in inspector.contacts()
    letters = deployment.dead_letters()
    assert 1_000 < len(letters) < RECORDS  # most are broken; some still make valid events
    stages = {dict(r.headers)["__connect.errors.stage"] for r in letters}
    assert stages <= {b"decode", b"plan", b"apply"}
    internal = [dict(r.headers)["__connect.errors.exception.message"] for r in letters
                if dict(r.headers)["__connect.errors.stage"] == b"internal"]  # fmt: skip
    assert internal == []  # bugs of the connector's own
