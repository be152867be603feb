"""Resend's official Python SDK against the emulator sees the outcomes our client sees."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import resend

from connector.emulator import EmulatorInspector, EmulatorServer
from connector.errors import ResendError
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


def values(properties: dict[str, Any]) -> dict[str, Any]:
    """Property values whether wrapped as ``{type, value}`` or bare (the SDK hands back what it got)."""
    return {k: v["value"] if isinstance(v, dict) else v for k, v in properties.items()}


def sdk_code(call: Callable[[], object]) -> str:
    try:
        call()
    except resend.exceptions.ResendError as exc:
        return str(exc.code)
    return "ok"


def client_code(call: Callable[[], object]) -> str:
    try:
        call()
    except ResendError as exc:
        return str(exc.status)
    return "ok"


def with_sdk() -> dict[str, Any]:
    seen: dict[str, Any] = {}
    resend.ContactProperties.create({"key": "plan", "type": "string"})
    resend.ContactProperties.create({"key": "seats", "type": "number", "fallback_value": 1})
    seen["properties"] = sorted(p["key"] for p in resend.ContactProperties.list()["data"])
    seen["bad_key"] = sdk_code(lambda: resend.ContactProperties.create({"key": "bad-key", "type": "string"}))
    vip = resend.Segments.create({"name": "VIP"})
    tmp = resend.Segments.create({"name": "Tmp"})
    resend.Segments.create({"name": "Old"})
    old = next(s for s in resend.Segments.list()["data"] if s["name"] == "Old")
    resend.Segments.remove(old["id"])
    seen["segments"] = [s["name"] for s in resend.Segments.list()["data"]]
    first = resend.Contacts.create({"email": "ada@example.com", "first_name": "Ada", "properties": {"plan": "pro"}})
    again = resend.Contacts.create({"email": "ADA@example.com", "first_name": "Other"})
    seen["same_id"] = first["id"] == again["id"]
    resend.Contacts.update(
        {"email": "ada@example.com", "last_name": "Lovelace", "unsubscribed": True, "properties": {"plan": "team"}}
    )
    resend.Contacts.update({"email": "ada@example.com", "properties": {"seats": 3}})
    seen["not_a_number"] = sdk_code(
        lambda: resend.Contacts.update({"email": "ada@example.com", "properties": {"seats": "many"}})
    )
    seen["undefined_property"] = sdk_code(
        lambda: resend.Contacts.update({"email": "ada@example.com", "properties": {"nope": "x"}})
    )
    got = resend.Contacts.get(email="ada@example.com")
    seen["contact"] = (got["first_name"], got["last_name"], got["unsubscribed"], values(got["properties"]))
    seen["by_id"] = resend.Contacts.get(id=first["id"])["email"]
    resend.Contacts.Segments.add({"email": "ada@example.com", "segment_id": vip["id"]})
    resend.Contacts.Segments.add({"email": "ada@example.com", "segment_id": vip["id"]})  # already a member
    resend.Contacts.Segments.add({"contact_id": first["id"], "segment_id": tmp["id"]})
    resend.Contacts.Segments.remove({"email": "ada@example.com", "segment_id": tmp["id"]})
    seen["memberships"] = [s["name"] for s in resend.Contacts.Segments.list({"email": "ada@example.com"})["data"]]
    resend.Contacts.create({"email": "gone@example.com"})
    resend.Contacts.remove(email="gone@example.com")
    resend.Events.send({"event": "signed_up", "email": "ada@example.com", "payload": {"plan": "team"}})
    seen["missing"] = sdk_code(lambda: resend.Contacts.get(email="gone@example.com"))
    seen["update_missing"] = sdk_code(
        lambda: resend.Contacts.update({"email": "nobody@example.com", "first_name": "N"})
    )
    return seen


def with_client(c: ResendClient) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    c.create_contact_property("plan")
    c.create_contact_property("seats", "number", 1)
    seen["properties"] = sorted(p.key for p in c.list_contact_properties())
    seen["bad_key"] = client_code(lambda: c.create_contact_property("bad-key"))
    vip = c.create_segment("VIP")
    tmp = c.create_segment("Tmp")
    c.delete_segment(c.create_segment("Old").id)
    seen["segments"] = [s.name for s in c.list_segments()]
    first = c.create_contact("ada@example.com", first_name="Ada", properties={"plan": "pro"})
    seen["same_id"] = first == c.create_contact("ADA@example.com", first_name="Other")
    c.update_contact(
        "ada@example.com", fields={"last_name": "Lovelace", "unsubscribed": True}, properties={"plan": "team"}
    )
    c.update_contact("ada@example.com", fields={}, properties={"seats": 3})
    seen["not_a_number"] = client_code(
        lambda: c.update_contact("ada@example.com", fields={}, properties={"seats": "many"})
    )
    seen["undefined_property"] = client_code(
        lambda: c.update_contact("ada@example.com", fields={}, properties={"nope": "x"})
    )
    got = c.get_contact("ada@example.com")
    seen["contact"] = (got.first_name, got.last_name, got.unsubscribed, got.properties)
    seen["by_id"] = c.get_contact(first).email
    c.add_contact_to_segment("ada@example.com", vip.id)
    c.add_contact_to_segment("ada@example.com", vip.id)
    c.add_contact_to_segment(first, tmp.id)
    c.remove_contact_from_segment("ada@example.com", tmp.id)
    seen["memberships"] = [s.name for s in c.list_contact_segments("ada@example.com")]
    c.create_contact("gone@example.com")
    c.delete_contact("gone@example.com")
    c.send_event("signed_up", email="ada@example.com", payload={"plan": "team"})
    seen["missing"] = client_code(lambda: c.get_contact("gone@example.com"))
    seen["update_missing"] = client_code(lambda: c.update_contact("nobody@example.com", fields={"first_name": "N"}))
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
    assert by_sdk["contact"] == ("Ada", "Lovelace", True, {"plan": "team", "seats": 3})
    assert by_sdk["memberships"] == ["VIP"]
    assert (by_sdk["missing"], by_sdk["update_missing"]) == ("404", "404")
    assert by_sdk["bad_key"] == by_sdk["not_a_number"] == by_sdk["undefined_property"] == "422"
    assert normalised(inspector.state()) == state_by_sdk


def test_sdk_calls_the_connector_does_not_make(sdk: None, inspector: EmulatorInspector) -> None:
    """The rest of what the SDK offers for these resources answers as the contract says."""
    vip = resend.Segments.create({"name": "VIP"})
    assert resend.Segments.get(vip["id"])["name"] == "VIP"
    for i in range(25):
        resend.Contacts.create({"email": f"c{i}@example.com", "segments": [{"id": vip["id"]}] if i % 2 else []})
    everyone = resend.Contacts.list()
    assert len(everyone["data"]) == 25  # no limit: the whole list, as the SDK documents
    page = resend.Contacts.list(params={"limit": 10})
    rest = resend.Contacts.list(params={"limit": 100, "after": page["data"][-1]["id"]})
    assert (page["has_more"], rest["has_more"], len(rest["data"])) == (True, False, 15)
    members = resend.Contacts.list(segment_id=vip["id"], params={"limit": 100})
    assert sorted(c["email"] for c in members["data"]) == sorted(f"c{i}@example.com" for i in range(1, 25, 2))
    assert all("properties" not in c for c in members["data"])  # list items carry no properties
    prop = resend.ContactProperties.create({"key": "plan", "type": "string", "fallback_value": "free"})
    resend.ContactProperties.update({"id": prop["id"], "fallback_value": "trial"})
    assert resend.ContactProperties.get(prop["id"])["fallback_value"] == "trial"
    resend.Contacts.update({"email": "c1@example.com", "properties": {"plan": "pro"}})
    resend.ContactProperties.remove(prop["id"])  # removes the property from every contact too
    assert inspector.state()["properties"] == []
    assert resend.Contacts.get(email="c1@example.com")["properties"] == {}
    assert sdk_code(lambda: resend.ContactProperties.get(prop["id"])) == "404"
