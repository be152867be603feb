"""Redis loses its data mid-run: the segments the connector manages are still removed when they should be.

Issue #19 point 1: after Redis forgot a contact, an identify without a desired set read the contact
from Resend and left Redis believing "exists, manages nothing", so segments added before were never
removed. The specification: the managed set is read from the contact's record in Resend before it is
trusted as empty, and kept once read. Real Redis, the emulator over HTTP, the connector as a process.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis

from connector.events import Event
from connector.settings import Settings
from connector.sync import EventSync
from resend_emulator import EmulatorInspector, EmulatorServer
from tests.harness import ConnectorProcess, Deployment, wait_drained
from tests.integration.conftest import API_KEY

AUDIENCES = ["Alpha", "Beta", "Gamma"]


def empty_redis(client: redis.Redis, prefix: str) -> int:
    """Everything the connector keeps under ``prefix`` is gone, as after a restart of a Redis that
    keeps nothing (other tests' keys, under other prefixes, stay)."""
    keys = list(client.scan_iter(match=prefix + "*", count=1_000))
    if keys:
        client.delete(*keys)
    assert not any(True for _ in client.scan_iter(match=prefix + "*"))
    return len(keys)


def identify(email: str, **traits: Any) -> Event:
    return Event.from_dict({"type": "identify", "traits": {"email": email, **traits}})


def test_the_issue_reproduction_ends_in_no_segment(
    sync_for: Callable[..., EventSync],
    settings_for: Callable[..., Settings],
    redis_client: redis.Redis,
    inspector: EmulatorInspector,
) -> None:
    settings = settings_for()
    sync_for(settings).handle(identify("ada@example.com", resendAudiences="Alpha"))
    assert empty_redis(redis_client, settings.redis.key_prefix) > 0
    sync = sync_for(settings)  # a restarted process: nothing cached in memory either
    assert sync.handle(identify("ada@example.com", plan="pro")).status == "applied"
    assert sync.handle(identify("ada@example.com", resendAudiences="")).status == "applied"
    assert inspector.contacts()["ada@example.com"]["segments"] == []


def test_a_contact_the_reference_managed_leaves_its_segment(
    sync_for: Callable[..., EventSync], settings_for: Callable[..., Settings], inspector: EmulatorInspector
) -> None:
    seeded = inspector.seed(
        ("POST", "/segments", {"name": "Legacy"}),
        ("POST", "/segments", {"name": "Hand"}),
        ("POST", "/contact-properties", {"key": "cdp_managed_audiences", "type": "string"}),
    )
    legacy, hand = seeded[0]["body"]["id"], seeded[1]["body"]["id"]
    record = {"cdp_managed_audiences": f"[{legacy}]"}
    created = inspector.seed(("POST", "/contacts", {"email": "old@example.com", "properties": record}))
    contact_id = created[0]["body"]["id"]
    inspector.seed(("POST", f"/contacts/{contact_id}/segments/{legacy}", None),
                   ("POST", f"/contacts/{contact_id}/segments/{hand}", None))  # fmt: skip
    sync = sync_for(settings_for())
    sync.handle(identify("old@example.com", plan="pro"))
    sync.handle(identify("old@example.com", resendAudiences=""))
    assert inspector.contacts()["old@example.com"]["segments"] == ["Hand"]  # Hand was never the connector's


@pytest.fixture
def deployment(
    kafka_bootstrap: str, redis_url: str, emulator: EmulatorServer, unique: Callable[[str], str]
) -> Deployment:
    d = Deployment(kafka_bootstrap, redis_url, emulator.url, API_KEY, topic=unique("events"), group=unique("group"),
                   key_prefix=unique("loss") + ":")  # fmt: skip
    d.create_topics()
    return d


@pytest.mark.timeout(600)
def test_redis_emptied_mid_run_ends_in_the_specified_memberships(
    deployment: Deployment, inspector: EmulatorInspector, redis_client: redis.Redis, tmp_path: Path
) -> None:
    rng = random.Random(19)
    users = 200
    before = {u: rng.sample(AUDIENCES, rng.randint(1, 3)) for u in range(users)}
    after = {u: rng.sample(AUDIENCES, rng.randint(0, 2)) for u in range(users)}

    def event(u: int, n: int, **traits: Any) -> dict[str, Any]:
        return {"type": "identify", "messageId": f"m-{u}-{n}", "userId": f"user-{u}",
                "traits": {"email": f"user-{u}@example.com", **traits}}  # fmt: skip

    process = ConnectorProcess(deployment, tmp_path / "connector.log")
    try:
        deployment.produce_events(event(u, 0, resendAudiences=before[u]) for u in range(users))
        wait_drained(deployment, process)
        assert empty_redis(redis_client, deployment.key_prefix) > 0
        # Each contact's first event after the loss carries no desired set (an identify without the
        # trait, and no configured audiences); then one that does, in either of its two forms.
        second: list[dict[str, Any]] = []
        for u in range(users):
            second.append(event(u, 1, plan=rng.choice(["free", "pro"])))
            second.append({"type": "track", "userId": f"user-{u}", "event": "Viewed", "traits": {"seen": "yes"}})
            second.append(event(u, 2, resendAudiences=after[u] if u % 2 else ", ".join(after[u])))
        deployment.produce_events(second)
        wait_drained(deployment, process)
    finally:
        assert process.stop() == 0
    contacts = inspector.contacts()
    have = {u: sorted(contacts[f"user-{u}@example.com"]["segments"]) for u in range(users)}
    wrong = {u: (have[u], sorted(after[u])) for u in range(users) if have[u] != sorted(after[u])}
    assert wrong == {}, (
        f"{len(wrong)} of {users} contacts in the wrong segments (have, want): {list(wrong.items())[:3]}"
    )
    assert deployment.dead_letters() == []
