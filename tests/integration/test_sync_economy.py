"""Zero wasted Resend calls (issue #14) against the emulator over HTTP and real Redis (and, for a
contact created while the connector runs, the real connector process and Kafka)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from connector.events import Event
from connector.sync import EventSync
from resend_emulator import EmulatorInspector, EmulatorServer
from tests.conftest import wait_for
from tests.harness import ConnectorProcess, Deployment, wait_drained
from tests.integration.conftest import API_KEY


def ev(**fields: Any) -> Event:
    return Event.from_dict(fields)


def calls_since(inspector: EmulatorInspector, before: int) -> list[str]:
    return [f"{c['method']} {c['route']} {c['status']}" for c in inspector.calls()[before:]]


def test_repeated_identifies_and_tracks_cost_only_what_changed(
    sync_for: Callable[..., EventSync], inspector: EmulatorInspector
) -> None:
    sync = sync_for()
    identify = {"type": "identify", "userId": "u1", "traits": {"email": "ada@example.com", "plan": "pro", "seats": 3}}
    sync.handle(ev(**identify))
    before = len(inspector.calls())
    for _ in range(9):
        assert sync.handle(ev(**identify)).calls == 0
    track = {"type": "track", "event": "Seen", "userId": "u1", "traits": {"plan": "pro"}}
    assert sync.handle(ev(**track)).calls == 0
    assert calls_since(inspector, before) == []
    assert sync.handle(ev(**{**track, "traits": {"plan": "team"}})).calls == 1
    assert calls_since(inspector, before) == ["PATCH /contacts/{id} 200"]
    assert inspector.contacts()["ada@example.com"]["properties"]["plan"] == "team"


def test_a_new_email_costs_one_post(sync_for: Callable[..., EventSync], inspector: EmulatorInspector) -> None:
    sync = sync_for()
    sync.handle(ev(type="identify", traits={"email": "first@example.com"}))  # reads the (empty) index once
    before = len(inspector.calls())
    for i in range(5):
        sync.handle(ev(type="identify", traits={"email": f"new{i}@example.com"}))
    assert calls_since(inspector, before) == ["POST /contacts 201"] * 5


def test_a_property_deleted_in_resend_is_defined_again_and_the_event_applied(
    sync_for: Callable[..., EventSync], inspector: EmulatorInspector
) -> None:
    sync = sync_for()
    sync.handle(ev(type="identify", traits={"email": "ada@example.com", "plan": "pro"}))
    prop = next(p for p in inspector.state()["properties"] if p["key"] == "plan")
    inspector.seed(("DELETE", f"/contact-properties/{prop['id']}", None))  # the dashboard's delete
    outcome = sync.handle(ev(type="identify", traits={"email": "ada@example.com", "plan": "team"}))
    assert outcome.status == "applied"
    assert inspector.contacts()["ada@example.com"]["properties"]["plan"] == "team"
    # The same value on a contact whose memory predates the deletion is sent again.
    sync.handle(ev(type="identify", traits={"email": "ada@example.com", "plan": "team"}))
    assert inspector.contacts()["ada@example.com"]["properties"]["plan"] == "team"


@pytest.fixture
def deployment(
    kafka_bootstrap: str, redis_url: str, emulator: EmulatorServer, unique: Callable[[str], str]
) -> Deployment:
    d = Deployment(kafka_bootstrap, redis_url, emulator.url, API_KEY, topic=unique("events"), group=unique("group"),
                   key_prefix=unique("economy") + ":")  # fmt: skip
    d.create_topics()
    return d


@pytest.mark.parametrize("max_age", [0.0, 1.0])
def test_a_contact_created_in_resend_while_the_connector_runs_gets_the_events_writes(
    deployment: Deployment, inspector: EmulatorInspector, tmp_path: Path, max_age: float
) -> None:
    deployment.extra_env["RESEND_CONNECTOR_DESTINATION__EMAIL_INDEX_MAX_AGE_SECONDS"] = str(max_age)
    process = ConnectorProcess(deployment, tmp_path / "connector.log")
    try:
        # The connector runs and has read the email index (its first new contact).
        deployment.produce_events([{"type": "identify", "traits": {"email": "first@example.com"}}])
        wait_for(lambda: "first@example.com" in inspector.contacts(), what="the first contact")
        wait_drained(deployment, process)
        inspector.seed(("POST", "/contacts", {"email": "grace@example.com", "first_name": "Grace"}))
        created = time.monotonic()
        # The guarantee: a contact created more than max_age before its first event is found.
        wait_for(lambda: time.monotonic() - created > max_age, what="max_age to pass")
        deployment.produce_events(
            [{"type": "identify", "traits": {"email": "grace@example.com", "plan": "pro", "lastName": "Hopper"}}]
        )
        wait_for(
            lambda: inspector.contacts()["grace@example.com"]["properties"].get("plan") == "pro",
            what="the event's writes on the contact created elsewhere",
        )
        wait_drained(deployment, process)
    finally:
        assert process.stop() == 0
    grace = inspector.contacts()["grace@example.com"]
    assert (grace["first_name"], grace["last_name"]) == ("Grace", "Hopper")
    assert deployment.dead_letters() == []
