"""Consent and topics over real HTTP (the emulator) and real Redis: the calls Resend sees."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from connector.events import Event
from connector.sync import EventSync
from resend_emulator import EmulatorInspector

pytestmark = pytest.mark.integration


def identify(email: str, **traits: Any) -> Event:
    return Event.from_dict({"type": "identify", "traits": {"email": email, **traits}})


def calls_since(inspector: EmulatorInspector, start: int) -> list[str]:
    return [f"{c['method']} {c['route']} {c['status']}" for c in inspector.calls()[start:]]


def test_topics_resolved_created_and_written(sync_for: Callable[..., EventSync], inspector: EmulatorInspector) -> None:
    sync = sync_for(topics=["Newsletter"])
    sync.handle(identify("ada@example.com", resendTopics="Product News, Offers:opt_out"))
    state = inspector.state()
    assert sorted((t["name"], t["default_subscription"]) for t in state["topics"]) == [
        ("Newsletter", "opt_out"), ("Offers", "opt_out"), ("Product News", "opt_out"),
    ]  # fmt: skip
    assert inspector.contacts()["ada@example.com"]["topics"] == {
        "Newsletter": "opt_in", "Product News": "opt_in", "Offers": "opt_out",
    }  # fmt: skip
    before = len(inspector.calls())
    other = sync_for(topics=["Newsletter"])  # another replica: topic ids from Redis
    other.handle(identify("ada@example.com", resendTopics={"Offers": "opt_in"}))
    assert [c for c in calls_since(inspector, before) if "topic" in c] == ["PATCH /contacts/{id}/topics 200"]
    assert inspector.contacts()["ada@example.com"]["topics"]["Offers"] == "opt_in"


def test_an_unsubscribe_read_from_resend_is_never_overridden(
    sync_for: Callable[..., EventSync], inspector: EmulatorInspector
) -> None:
    inspector.seed(("POST", "/contacts", {"email": "bo@example.com", "unsubscribed": True}))
    sync = sync_for()
    assert sync.handle(identify("bo@example.com", unsubscribed=False, plan="pro")).status == "applied"
    contact = inspector.contacts()["bo@example.com"]
    assert (contact["unsubscribed"], contact["properties"]["plan"]) == (True, "pro")


def test_app_scoped_unsubscribe_as_the_apps_topic(
    sync_for: Callable[..., EventSync], inspector: EmulatorInspector
) -> None:
    sync = sync_for(namespace="tinykit", app_scoped_unsubscribe="topic")
    sync.handle(identify("cy@example.com", plan="pro"))
    sync.handle(identify("cy@example.com", unsubscribed=True))
    contact = inspector.contacts()["cy@example.com"]
    assert contact["unsubscribed"] is False
    assert contact["topics"] == {"tinykit": "opt_out"}
    assert [(t["name"], t["default_subscription"]) for t in inspector.state()["topics"]] == [("tinykit", "opt_in")]
