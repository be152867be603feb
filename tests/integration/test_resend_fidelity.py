"""Resend's official Python SDK and our client, against the emulator, reach what real Resend did.

The expected outcomes come from the recordings of real traffic (tests/fixtures/resend-recordings),
read at test time, never from the emulator: each scenario names the recorded exchange that shows
what api.resend.com answered, and both the SDK and our client must reach that outcome. Where no
recording covers a behaviour (property validation, memberships, paging by our client), the last
tests hold the SDK and the client to the same outcomes and to the contract's stated answers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import resend

from connector.errors import ResendError
from connector.resend import ResendClient
from connector.settings import ResendSettings
from resend_emulator import EmulatorInspector, EmulatorServer
from tests.integration.conftest import API_KEY
from tests.recordings import Exchange, exchanges


@pytest.fixture
def sdk(emulator: EmulatorServer) -> Iterator[None]:
    old = (resend.api_key, resend.api_url)
    resend.api_key, resend.api_url = API_KEY, emulator.url
    yield
    resend.api_key, resend.api_url = old


@pytest.fixture
def client(emulator: EmulatorServer) -> Iterator[ResendClient]:
    settings = ResendSettings(api_key=API_KEY, base_url=emulator.url)  # type: ignore[arg-type]
    c = ResendClient.from_settings(settings, None)
    yield c
    c.close()


def recorded(recording: str, index: int) -> Exchange:
    found = list(exchanges(recording))[index]
    assert found.index == index
    return found


def recorded_outcome(recording: str, index: int) -> tuple[int, str]:
    """(status, error name) as real Resend answered; the name is "" for a success."""
    exchange = recorded(recording, index)
    name = exchange.answer.get("name", "") if exchange.status >= 400 else ""
    return exchange.status, str(name)


def answer(sdk_result: Any) -> dict[str, Any]:
    """What Resend answered, without the SDK's own addition (``http_headers``)."""
    return {k: v for k, v in dict(sdk_result).items() if k != "http_headers"}


def sdk_outcome(call: Callable[[], object], success: int) -> tuple[int, str]:
    try:
        call()
    except resend.exceptions.ResendError as exc:
        return int(exc.code), str(exc.error_type)
    return success, ""


def client_outcome(call: Callable[[], object], success: int) -> tuple[int, str]:
    try:
        call()
    except ResendError as exc:
        return exc.status, exc.name
    return success, ""


CONTACTS = "contacts/Contacts-Integration-Tests-contacts-API-endpoint-"
LEGACY = "contacts/Contacts-Integration-Tests-legacy-contacts-API-endpoint-"
SEGMENTS = "segments/Segments-Integration-Tests-"


def test_errors_are_the_recorded_ones(sdk: None, client: ResendClient) -> None:
    unknown = "00000000-0000-0000-0000-000000000000"
    cases = [
        (CONTACTS + "create-handles-validation-errors.har", 0,
         lambda: resend.Contacts.create({}), lambda: client.create_contact("")),  # type: ignore[typeddict-item]
        (CONTACTS + "get-returns-error-for-non-existent-conta.har", 0,
         lambda: resend.Contacts.get(id=unknown), lambda: client.get_contact(unknown)),
        (SEGMENTS + "create-handles-validation-errors.har", 0,
         lambda: resend.Segments.create({}), lambda: client.create_segment("")),  # type: ignore[typeddict-item]
        (SEGMENTS + "get-returns-error-for-non-existent-segment.har", 0,
         lambda: resend.Segments.get(unknown), None),
        (SEGMENTS + "remove-appears-to-remove-a-segment-that-never-existed.har", 0,
         lambda: resend.Segments.remove(unknown), lambda: client.delete_segment(unknown)),
        (LEGACY + "get-returns-error-for-non-existen.har", 1,
         lambda: resend.Contacts.get(audience_id=resend.Segments.create({"name": "A"})["id"], id=unknown), None),
    ]  # fmt: skip
    for recording, index, by_sdk, by_client in cases:
        expected = recorded_outcome(recording, index)
        success = recorded(recording, index).status
        assert sdk_outcome(by_sdk, success) == expected, recording
        if by_client is not None:
            assert client_outcome(by_client, success) == expected, recording


def test_a_contact_reads_back_as_recorded(sdk: None, client: ResendClient) -> None:
    by_email = recorded(CONTACTS + "get-retrieves-a-contact-by-email.har", 1).answer
    made = resend.Contacts.create({"email": by_email["email"]})
    got = answer(resend.Contacts.get(email=by_email["email"]))
    assert set(got) == set(by_email)
    assert {k: got[k] for k in ("object", "email", "first_name", "last_name", "unsubscribed", "properties")} == {
        k: by_email[k] for k in ("object", "email", "first_name", "last_name", "unsubscribed", "properties")
    }
    assert got["id"] == made["id"]
    mine = client.get_contact(by_email["email"])
    assert (mine.id, mine.email, mine.first_name, mine.last_name, mine.unsubscribed, mine.properties) == (
        made["id"], by_email["email"], by_email["first_name"], by_email["last_name"], by_email["unsubscribed"], {}
    )  # fmt: skip


def test_an_update_reads_back_as_recorded(sdk: None, client: ResendClient) -> None:
    create, patch, read = (recorded(LEGACY + "update-updates-a-contact.har", i) for i in (1, 2, 3))
    audience = resend.Segments.create({"name": "Legacy"})["id"]
    made = resend.Contacts.create({"audience_id": audience, **create.body})
    updated = answer(resend.Contacts.update({"audience_id": audience, "id": made["id"], **patch.body}))
    assert set(updated) == set(patch.answer)
    got = resend.Contacts.get(audience_id=audience, id=made["id"])
    assert (got["first_name"], got["last_name"]) == (read.answer["first_name"], read.answer["last_name"])
    # Our client on the current paths reaches the same stored names.
    client.update_contact(made["id"], fields={"first_name": "Other", "last_name": None})
    client.update_contact(create.body["email"], fields=dict(patch.body))
    mine = client.get_contact(made["id"])
    assert (mine.first_name, mine.last_name) == (read.answer["first_name"], read.answer["last_name"])


def test_a_removed_contact_is_gone_as_recorded(sdk: None, client: ResendClient) -> None:
    for recording in (
        CONTACTS + "remove-removes-a-contact-by-email.har",
        CONTACTS + "remove-removes-a-contact-by-id.har",
    ):
        create, remove, read = (recorded(recording, i) for i in (1, 2, 3))
        made = resend.Contacts.create({"email": create.body["email"]})
        key = {"email": create.body["email"]} if "@" in remove.path else {"id": made["id"]}
        removed = resend.Contacts.remove(**key)
        assert removed["deleted"] is remove.answer["deleted"] is True
        gone = recorded_outcome(recording, 3)
        assert sdk_outcome(lambda key=key: resend.Contacts.get(**key), read.status) == gone  # type: ignore[misc]
        email = create.body["email"]
        client.create_contact(email)
        client.delete_contact(email)
        assert client_outcome(lambda email=email: client.get_contact(email), read.status) == gone  # type: ignore[misc]


def test_creating_an_existing_email_answers_its_id_as_recorded(sdk: None, client: ResendClient) -> None:
    # Across the recordings, every create of the same email answered the same id (the account kept
    # its contacts between tests): a create for an existing email is not an error.
    ids: dict[str, set[str]] = {}
    for recording in (
        CONTACTS + "list-lists-contacts-with-limit.har",
        CONTACTS + "list-lists-contacts-without-pagination.har",
    ):
        for ex in exchanges(recording):
            if ex.method == "POST" and ex.path == "/contacts":
                ids.setdefault(ex.body["email"], set()).add(ex.answer["id"])
    assert ids
    assert all(len(found) == 1 for found in ids.values())
    email = sorted(ids)[0]
    assert resend.Contacts.create({"email": email})["id"] == resend.Contacts.create({"email": email})["id"]
    assert client.create_contact(email) == client.create_contact(email)


def test_listing_pages_as_recorded(sdk: None) -> None:
    limited = recorded(CONTACTS + "list-lists-contacts-with-limit.har", 6)
    everything = recorded(CONTACTS + "list-lists-contacts-without-pagination.har", 6)
    for ex in exchanges(CONTACTS + "list-lists-contacts-with-limit.har"):
        if ex.method == "POST":
            resend.Contacts.create(ex.body)
    page = resend.Contacts.list(params={"limit": int(limited.path.rsplit("=", 1)[1])})
    assert (page["has_more"], len(page["data"])) == (limited.answer["has_more"], len(limited.answer["data"]))
    assert {tuple(sorted(item)) for item in page["data"]} == {tuple(sorted(i)) for i in limited.answer["data"]}
    every = resend.Contacts.list()
    assert (every["has_more"], len(every["data"])) == (everything.answer["has_more"], len(everything.answer["data"]))
    created = [item["created_at"] for item in every["data"]]
    assert created == sorted(created, reverse=True)  # newest first, as in every recorded list


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


def test_without_a_recording_sdk_and_client_see_the_same_outcomes(
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
    """The rest of what the SDK offers for these resources answers as the contract (resend-api.md) says."""
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
