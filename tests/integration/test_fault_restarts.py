"""The broker restarted mid-run, and Redis restarted mid-run (every cache, lock and the rate-limit
state lost): each run ends in the modelled state with nothing dead-lettered.

Each test starts its own broker or Redis (connector.local) so restarting it disturbs no other test.
"""

from __future__ import annotations

import random
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from connector.local import LocalKafka, LocalRedis
from resend_emulator import EmulatorInspector, EmulatorServer
from tests.harness import ConnectorProcess, Deployment, met_redis_gone, wait_drained
from tests.integration.conftest import API_KEY
from tests.integration.test_pipeline_e2e import assert_matches

USERS = 200
EVENTS = 2_500
AUDIENCES = ["R1", "R2", "R3"]


def events(seed: int) -> list[dict[str, Any]]:
    """Every event names its email, so the final state does not depend on the userId cache that a
    Redis restart loses (an event that needs that cache is skipped when it is gone: documented)."""
    rng = random.Random(seed)
    made: list[dict[str, Any]] = []
    for n in range(EVENTS):
        u = n if n < USERS else rng.randrange(USERS)
        traits: dict[str, Any] = {"email": f"r{u}@example.com"}
        if n < USERS or rng.random() < 0.4:
            traits.update(plan=rng.choice(["free", "pro"]), score=n, resendAudiences=rng.sample(AUDIENCES, 2))
            made.append({"type": "identify", "userId": f"r{u}", "traits": traits})
        else:
            made.append({"type": "track", "userId": f"r{u}", "event": "Viewed", "traits": {**traits, "last": f"e{n}"}})
    return made


def model(stream: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    contacts: dict[str, dict[str, Any]] = {}
    for event in stream:
        traits = dict(event["traits"])
        email = traits.pop("email")
        contact = contacts.setdefault(email, {"properties": {}, "segments": set()})
        if "resendAudiences" in traits:
            contact["segments"] = set(traits.pop("resendAudiences"))
        contact["properties"].update({k: str(v) for k, v in traits.items()})
    return contacts


def run_through(
    deployment: Deployment, logs: Path, fault: Callable[[ConnectorProcess], None], *, seed: int
) -> tuple[list[dict[str, Any]], str]:
    """Produce, start the connector, apply the fault once a fifth is done, drain; the events, the log."""
    stream = events(seed)
    deployment.produce_events(stream)
    process = ConnectorProcess(deployment, logs / "connector.log")
    try:
        deadline = time.monotonic() + 120
        while deployment.lag() > EVENTS * 0.8 and time.monotonic() < deadline:
            assert process.proc.poll() is None, process.output()[-3000:]
            time.sleep(0.2)
        assert deployment.lag() > 0, "the fault should hit the run, not follow it"
        fault(process)
        wait_drained(deployment, process, timeout=300)
    finally:
        code = process.stop()
    assert code == 0, process.output()[-3000:]
    return stream, process.output()


@pytest.fixture
def own_kafka() -> Iterator[LocalKafka]:
    if shutil.which("java") is None:
        pytest.skip("restarting a broker needs the local one (Java)")
    with LocalKafka(partitions=4) as broker:
        yield broker


@pytest.fixture
def own_redis() -> Iterator[LocalRedis]:
    with LocalRedis() as server:
        yield server


def deployment_on(bootstrap: str, redis_url: str, emulator: EmulatorServer, unique: Callable[[str], str]) -> Deployment:
    made = Deployment(bootstrap, redis_url, emulator.url, API_KEY, topic=unique("restart"), group=unique("restart"),
                      key_prefix=unique("restart") + ":")  # fmt: skip
    # Slow enough that the fault lands mid-run: Resend's own limits are far lower still. At 250/s,
    # merging what waits (#25) had every record done before a Redis restart, only the commit after.
    made.extra_env["RESEND_CONNECTOR_RESEND__MAX_REQUESTS_PER_SECOND"] = "50"
    made.create_topics()
    return made


@pytest.mark.timeout(500)
def test_broker_restarted_mid_run(
    own_kafka: LocalKafka,
    redis_url: str,
    emulator: EmulatorServer,
    inspector: EmulatorInspector,
    unique: Callable[[str], str],
    tmp_path: Path,
) -> None:
    deployment = deployment_on(own_kafka.bootstrap_servers, redis_url, emulator, unique)

    def restart(_: ConnectorProcess) -> None:
        own_kafka.stop(keep_files=True)  # the same broker comes back, with its log and the group's offsets
        time.sleep(2)  # down for a while: polls, commits and heartbeats fail meanwhile
        own_kafka.start()

    stream, _ = run_through(deployment, tmp_path, restart, seed=21)
    assert_matches(inspector, model(stream))
    assert deployment.dead_letters() == []


@pytest.mark.timeout(500)
def test_redis_restarted_mid_run(
    kafka_bootstrap: str,
    own_redis: LocalRedis,
    emulator: EmulatorServer,
    inspector: EmulatorInspector,
    unique: Callable[[str], str],
    tmp_path: Path,
) -> None:
    deployment = deployment_on(kafka_bootstrap, own_redis.url, emulator, unique)

    def restart(process: ConnectorProcess) -> None:
        before = len(process.output())
        own_redis.stop()  # it keeps nothing: caches, locks, the rate limit's state are gone
        # Down until the connector has met the outage (observed, not timed: a short outage can be
        # hidden by redis-py's own reconnects), then back.
        deadline = time.monotonic() + 60
        while not met_redis_gone(process.output()[before:]) and time.monotonic() < deadline:
            assert process.proc.poll() is None, process.output()[-3000:]
            time.sleep(0.2)
        own_redis.start()

    stream, output = run_through(deployment, tmp_path, restart, seed=22)
    assert met_redis_gone(output)  # the connector met the outage, and retried
    assert_matches(inspector, model(stream))
    assert deployment.dead_letters() == []
