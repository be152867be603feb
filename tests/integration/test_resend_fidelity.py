"""Resend's official Python SDK against the emulator sees the outcomes our client sees."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import resend

from connector.emulator import EmulatorInspector, EmulatorServer
from connector.errors import ResendNotFound
from connector.resend import ResendClient
from connector.settings import ResendSettings
from tests.integration.conftest import API_KEY


@pytest.fixture
def sdk(emulator: EmulatorServer) -> Iterator[None]:
    old = (resend.api_key, resend.api_url)
    resend.api_key, resend.api_url = API_KEY, emulator.url
    yield
    resend.api_key, resend.api_url = old


def normalised(state: dict[str, Any]) -> dict[str, Any]:
    return {
        "contacts": sorted(
            (c["email"], c["first_name"], c["last_name"], c["unsubscribed"], sorted(c["properties"].items()),
             sorted(c["segments"])) for c in state["contacts"]
        ),
        "segments": sorted(s["name"] for s in state["segments"]),
        "properties": sorted((p["key"], p["type"]) for p in state["properties"]),
        "events": sorted((e["event"], e["email"]) for e in state["events"]),
    }  # fmt: skip


def with_sdk() -> dict[str, Any]:
    seen: dict[str, Any] = {}
    resend.ContactProperties.create({"key": "plan", "type": "string"})
    seen["properties"] = sorted(p["key"] for p in resend.ContactProperties.list()["data"])
    vip = resend.Segments.create({"name": "VIP"})
    resend.Segments.create({"name": "Old"})
    old = next(s for s in resend.Segments.list()["data"] if s["name"] == "Old")
    resend.Segments.remove(old["id"])
    seen["segments"] = [s["name"] for s in resend.Segments.list()["data"]]
    first = resend.Contacts.create({"email": "ada@example.com", "first_name": "Ada", "properties": {"plan": "pro"}})
    again = resend.Contacts.create({"email": "ada@example.com", "first_name": "Other"})
    seen["same_id"] = first["id"] == again["id"]
    resend.Contacts.update({"email": "ada@example.com", "last_name": "Lovelace", "properties": {"plan": "team"}})
    got = resend.Contacts.get(email="ada@example.com")
    seen["contact"] = (got["first_name"], got["last_name"])
    resend.Contacts.Segments.add({"email": "ada@example.com", "segment_id": vip["id"]})
    seen["memberships"] = [s["name"] for s in resend.Contacts.Segments.list({"email": "ada@example.com"})["data"]]
    resend.Contacts.create({"email": "gone@example.com"})
    resend.Contacts.remove(email="gone@example.com")
    resend.Events.send({"event": "signed_up", "email": "ada@example.com", "payload": {"plan": "team"}})
    try:
        resend.Contacts.get(email="gone@example.com")
        seen["missing"] = "found"
    except resend.exceptions.ResendError as exc:
        seen["missing"] = str(exc.code)
    return seen


def with_client(c: ResendClient) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    c.create_contact_property("plan")
    seen["properties"] = sorted(p.key for p in c.list_contact_properties())
    vip = c.create_segment("VIP")
    c.delete_segment(c.create_segment("Old").id)
    seen["segments"] = [s.name for s in c.list_segments()]
    first = c.create_contact("ada@example.com", first_name="Ada", properties={"plan": "pro"})
    seen["same_id"] = first == c.create_contact("ada@example.com", first_name="Other")
    c.update_contact("ada@example.com", fields={"last_name": "Lovelace"}, properties={"plan": "team"})
    got = c.get_contact("ada@example.com")
    seen["contact"] = (got.first_name, got.last_name)
    c.add_contact_to_segment("ada@example.com", vip.id)
    seen["memberships"] = [s.name for s in c.list_contact_segments("ada@example.com")]
    c.create_contact("gone@example.com")
    c.delete_contact("gone@example.com")
    c.send_event("signed_up", email="ada@example.com", payload={"plan": "team"})
    try:
        c.get_contact("gone@example.com")
        seen["missing"] = "found"
    except ResendNotFound as exc:
        seen["missing"] = str(exc.status)
    return seen


def test_sdk_and_client_see_the_same_outcomes(
    sdk: None, emulator: EmulatorServer, inspector: EmulatorInspector
) -> None:
    by_sdk = with_sdk()
    state_by_sdk = normalised(inspector.state())
    inspector.reset()
    settings = ResendSettings(api_key=API_KEY, base_url=emulator.url)  # type: ignore[arg-type]
    c = ResendClient.from_settings(settings, None)
    by_client = with_client(c)
    c.close()
    assert by_sdk == by_client
    assert by_sdk["same_id"] is True
    assert by_sdk["contact"] == ("Ada", "Lovelace")
    assert by_sdk["missing"] == "404"
    assert normalised(inspector.state()) == state_by_sdk
