"""The emulator's rules, without HTTP."""

from __future__ import annotations

import pytest

from connector.emulator.state import ApiError, Resend, route_template


def call(r: Resend, method: str, path: str, body: dict | None = None, **query: str) -> dict:
    status, answer, _ = r.call(method, path, dict(query), body)
    assert status in (200, 201, 202)
    return answer


def error(r: Resend, method: str, path: str, body: dict | None = None) -> tuple[int, str]:
    with pytest.raises(ApiError) as caught:
        r.call(method, path, {}, body)
    return caught.value.status, caught.value.name


def test_second_post_for_an_email_returns_the_same_id_and_changes_nothing() -> None:
    r = Resend()
    first = call(r, "POST", "/contacts", {"email": "Ada@Example.com", "first_name": "Ada"})["id"]
    again = call(r, "POST", "/contacts", {"email": "ada@example.COM", "first_name": "Changed"})["id"]
    assert again == first
    assert call(r, "GET", "/contacts/ada%40example.com")["first_name"] == "Ada"


def test_properties_must_be_defined_valid_and_typed() -> None:
    r = Resend()
    assert error(r, "POST", "/contacts", {"email": "a@x.io", "properties": {"plan": "pro"}}) == (
        422,
        "validation_error",
    )
    assert error(r, "POST", "/contact-properties", {"key": "bad-key", "type": "string"})[0] == 422
    assert error(r, "POST", "/contact-properties", {"key": "k" * 51, "type": "string"})[0] == 422
    assert error(r, "POST", "/contact-properties", {"type": "string"}) == (422, "missing_required_field")
    call(r, "POST", "/contact-properties", {"key": "seats", "type": "number"})
    assert error(r, "POST", "/contact-properties", {"key": "seats", "type": "number"})[0] == 409
    assert error(r, "POST", "/contacts", {"email": "a@x.io", "properties": {"seats": "many"}})[0] == 422
    call(r, "POST", "/contacts", {"email": "a@x.io", "properties": {"seats": 3}})


def test_patch_merges_and_null_removes() -> None:
    r = Resend()
    for key in ("a", "b"):
        call(r, "POST", "/contact-properties", {"key": key, "type": "string"})
    call(r, "POST", "/contacts", {"email": "a@x.io", "properties": {"a": "1", "b": "2"}})
    call(r, "PATCH", "/contacts/a@x.io", {"properties": {"a": None, "b": "3"}})
    assert call(r, "GET", "/contacts/a@x.io")["properties"] == {"b": {"type": "string", "value": "3"}}


def test_not_found_and_missing_fields() -> None:
    r = Resend()
    assert error(r, "GET", "/contacts/nobody@x.io") == (404, "not_found")
    assert error(r, "PATCH", "/contacts/nobody@x.io", {}) == (404, "not_found")
    assert error(r, "POST", "/contacts", {}) == (422, "missing_required_field")
    assert error(r, "PUT", "/contacts")[0] == 405


def test_membership_and_pagination() -> None:
    r = Resend()
    ids = [call(r, "POST", "/segments", {"name": f"S{i}"})["id"] for i in range(5)]
    call(r, "POST", "/contacts", {"email": "a@x.io", "segments": [{"id": ids[0]}]})
    call(r, "POST", f"/contacts/a@x.io/segments/{ids[1]}")
    call(r, "POST", f"/contacts/a@x.io/segments/{ids[1]}")  # already a member: success
    assert [s["id"] for s in call(r, "GET", "/contacts/a@x.io/segments")["data"]] == ids[:2]
    call(r, "DELETE", f"/contacts/a@x.io/segments/{ids[0]}")
    assert error(r, "DELETE", f"/contacts/a@x.io/segments/{ids[0]}")[0] == 404
    page = call(r, "GET", "/segments", limit="2")
    assert page["has_more"] is True
    assert len(page["data"]) == 2
    rest = call(r, "GET", "/segments", limit="100", after=page["data"][-1]["id"])
    assert [s["id"] for s in page["data"] + rest["data"]] == ids
    assert rest["has_more"] is False


def test_routes_never_carry_emails() -> None:
    assert route_template("/contacts/a%40x.io/segments/s1") == "/contacts/{id}/segments/{segment_id}"
    assert route_template("/events/send") == "/events/send"
