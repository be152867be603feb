"""Merging what waits (issue #25) against its oracle: one-at-a-time processing.

A seeded random backlog of a few people's events (identify, track, group, alias, delete, consent,
audience changes, one record that does not decode) is drained by the real connector process on
the real broker and Redis, each time against an emulator of its own with a team limit (so the events
queue up behind the quota and merge): once with ``kafka.merge_waiting`` and ``kafka.express`` off, the
oracle (each event once, in order: the state docs/semantics.md asks for); then with the defaults, both
on, through injected Resend failures (a share of calls answered 5xx) and a crash (SIGKILL) and
restart part-way; and with the express path on, one at a time, with and without the faults and crash.
All must end in the same Resend state, with the same record dead-lettered: the express path only
carries out an opt-out or an erasure early and holds back the events older than it, which one at a
time would have undone or erased anyway, and what the crash makes the main path read again is judged
against the register at the same places as before.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from resend_emulator import EmulatorInspector
from tests.harness import ConnectorProcess, Deployment, comparable_state, start_emulator, wait_drained

API_KEY = "re_merge_oracle_" + uuid.uuid4().hex[:8]
PEOPLE = 10
EVENTS = 160
LIMIT = 20  # the team's requests a second: the backlog waits behind it
AUDIENCES = ["Trial", "Paid", "Newsletter"]
DELETE = "Contact Deleted"


def backlog(seed: int) -> list[dict[str, Any]]:
    """A seeded random backlog; each event's ``_key`` names its person (the record's Kafka key)."""
    rng = random.Random(seed)
    ids = {p: f"u{p}" for p in range(PEOPLE)}  # each person's current userId (an alias changes it)
    made: list[dict[str, Any]] = []
    for n in range(EVENTS):
        p = n if n < PEOPLE else rng.randrange(PEOPLE)
        user, email = ids[p], f"p{p}@oracle.example"
        kind = "identify" if n < PEOPLE else rng.choices(
            ["identify", "track", "consent", "group", "alias", "delete"], weights=[8, 8, 3, 2, 1, 1]
        )[0]  # fmt: skip
        base = {"messageId": f"m{n}", "userId": user}
        if kind == "identify":
            traits: dict[str, Any] = {"email": email, "plan": rng.choice(["free", "pro", "team", None])}
            if rng.random() < 0.6:
                traits["resendAudiences"] = ",".join(rng.sample(AUDIENCES, rng.randrange(len(AUDIENCES) + 1)))
            if rng.random() < 0.3:
                traits["name"] = rng.choice(["Ada Lovelace", "Grace Hopper", "Alan Turing"])
            if rng.random() < 0.2:
                traits["unsubscribed"] = rng.random() < 0.5
            made.append({**base, "type": "identify", "traits": traits})
        elif kind == "track":
            made.append({**base, "type": "track", "event": "Changed", "traits": {"score": str(rng.randrange(100))}})
        elif kind == "consent":
            made.append({**base, "type": "identify", "traits": {"email": email, "unsubscribed": rng.random() < 0.5}})
        elif kind == "group":
            made.append({**base, "type": "group", "groupId": rng.choice(["g1", "g2"]), "traits": {"size": "5"}})
        elif kind == "alias":
            ids[p] = f"u{p}-{n}"
            made.append({"messageId": f"m{n}", "type": "alias", "previousId": user, "userId": ids[p]})
        else:
            made.append({**base, "type": "track", "event": DELETE, "properties": {}})
        made[-1]["_key"] = f"p{p}"
        if n == EVENTS // 2:  # does not validate: dead-lettered
            made.append({"messageId": "poison", "userId": "u0", "type": 7, "_key": "p0"})
    return made


def _drain(
    bootstrap: str,
    redis_url: str,
    logs: Path,
    stream: list[dict[str, Any]],
    *,
    merge: bool,
    crash: bool | None = None,
    express: bool = False,
) -> Any:
    emulator, url, inspector = start_emulator(API_KEY, LIMIT)
    name = f"merge-oracle-{uuid.uuid4().hex[:6]}"
    d = Deployment(bootstrap, redis_url, url, API_KEY, topic=name, group=name, key_prefix=f"{name}:", partitions=2)
    d.extra_env.update({
        "RESEND_CONNECTOR_RESEND__MAX_REQUESTS_PER_SECOND": str(LIMIT),
        "RESEND_CONNECTOR_DESTINATION__DELETE_EVENT_NAMES": f'["{DELETE}"]',
        "RESEND_CONNECTOR_KAFKA__MERGE_WAITING": "true" if merge else "false",
        # Off unless asked: the oracle runs without it (plain one-at-a-time processing).
        "RESEND_CONNECTOR_KAFKA__EXPRESS": "true" if express else "false",
    })  # fmt: skip
    try:
        d.create_topics()
        # Keyed by person: one person's events stay in one partition, in order, whatever their ids.
        keyed = ((e["_key"].encode(), json.dumps({k: v for k, v in e.items() if k != "_key"}).encode()) for e in stream)
        assert d.produce(keyed) == len(stream)
        if merge if crash is None else crash:
            _crash_through_faults(d, inspector, logs)
        process = ConnectorProcess(d, logs / f"{name}.log")
        try:
            wait_drained(d, process, timeout=120)
        finally:
            assert process.stop() == 0, process.output()[-3000:]
        letters = sorted({record.value for record in d.dead_letters()})  # a crash may write one twice
        calls = sum(1 for call in inspector.calls() if call["status"] < 500 and call["status"] != 429)
        return comparable_state(inspector), letters, calls
    finally:
        inspector.close()
        emulator.terminate()
        emulator.wait(timeout=10)


def _crash_through_faults(d: Deployment, inspector: EmulatorInspector, logs: Path) -> None:
    """Part of the backlog worked while a share of Resend's answers are 5xx, then a crash."""
    inspector.set_faults(error_rate=0.15, seed=7)
    process = ConnectorProcess(d, logs / "crashed.log")
    deadline = time.monotonic() + 60
    while len(inspector.calls()) < 25 and time.monotonic() < deadline:
        assert process.proc.poll() is None, process.output()[-3000:]
        time.sleep(0.1)
    process.kill()
    assert d.lag() > 0, "the crash should hit the run, not follow it"
    inspector.set_faults(error_rate=0.0)


@pytest.mark.timeout(240)
def test_merging_ends_where_one_at_a_time_ends(kafka_bootstrap: str, redis_url: str, tmp_path: Path) -> None:
    stream = backlog(seed=25)
    single_state, single_letters, single_calls = _drain(kafka_bootstrap, redis_url, tmp_path, stream, merge=False)
    merged_state, merged_letters, merged_calls = _drain(
        kafka_bootstrap, redis_url, tmp_path, stream, merge=True, express=True
    )  # fmt: skip
    assert len(single_state) >= PEOPLE - 2  # most people exist at the end (a few may be erased)
    assert merged_state == single_state
    assert merged_letters == single_letters
    assert len(single_letters) == 1
    # It merged: fewer calls, the crash's redone work, the failed calls' retries and the express path's
    # own calls (each opt-out and erasure it carries out ahead, once more) included.
    assert merged_calls < 0.8 * single_calls, (merged_calls, single_calls)


@pytest.mark.timeout(300)
def test_the_express_path_ends_where_one_at_a_time_ends(kafka_bootstrap: str, redis_url: str, tmp_path: Path) -> None:
    """With ``kafka.express`` on, one at a time, with and without the faults and the crash: the state of
    processing each event once, in order, without the express path (docs/semantics.md: it holds back
    only events older than an opt-out or an erasure, which one at a time would undo or erase anyway).
    Seed 25: erasures read ahead by a userId only an alias names (u1-28, u5-66), whose email the
    express path cannot know yet; the alias, held back, must keep its mapping so that the erasure
    deletes the contact, the fields its old id wrote (a group's) with it."""
    stream = backlog(seed=25)
    reference, reference_letters, _ = _drain(kafka_bootstrap, redis_url, tmp_path, stream, merge=False, crash=False)
    assert {"p1@oracle.example", "p5@oracle.example"} <= set(reference)  # erased, then signed up again
    assert "group_size" not in reference["p1@oracle.example"]["properties"]
    for crash in (False, True):
        state, letters, _ = _drain(
            kafka_bootstrap, redis_url, tmp_path, stream, merge=False, crash=crash, express=True
        )  # fmt: skip
        assert state == reference, f"crash={crash}"
        assert letters == reference_letters
