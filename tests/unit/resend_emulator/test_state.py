"""The emulator's rules, without HTTP."""

from __future__ import annotations

import pytest

from resend_emulator.api import Router, Routes
from resend_emulator.state import ApiError, Resend, route_template


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
    assert error(r, "POST", "/contact-properties", {"key": "", "type": "string"})[0] == 422
    for reserved in ("email", "First_Name", "LAST_NAME", "Unsubscribe_Url"):  # Resend's own fields, any case
        assert error(r, "POST", "/contact-properties", {"key": reserved, "type": "string"}) == (422, "validation_error")
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
    assert [s["id"] for s in call(r, "GET", "/contacts/a@x.io/segments")["data"]] == [ids[1], ids[0]]
    call(r, "DELETE", f"/contacts/a@x.io/segments/{ids[0]}")
    assert error(r, "DELETE", f"/contacts/a@x.io/segments/{ids[0]}")[0] == 404
    page = call(r, "GET", "/segments", limit="2")
    assert page["has_more"] is True
    assert len(page["data"]) == 2
    rest = call(r, "GET", "/segments", limit="100", after=page["data"][-1]["id"])
    assert [s["id"] for s in page["data"] + rest["data"]] == ids[::-1]  # newest first, as recorded
    assert rest["has_more"] is False


def test_routes_never_carry_emails() -> None:
    assert route_template("/contacts/a%40x.io/segments/s1") == "/contacts/{id}/segments/{segment_id}"
    assert route_template("/events/send") == "/events/send"


def test_lists_come_newest_first_and_contacts_filter_by_segment() -> None:
    r = Resend()
    segment = call(r, "POST", "/segments", {"name": "S"})["id"]
    ids = [call(r, "POST", "/contacts", {"email": f"c{i}@x.io"})["id"] for i in range(3)]
    call(r, "POST", f"/contacts/{ids[0]}/segments/{segment}")
    call(r, "POST", f"/contacts/{ids[2]}/segments/{segment}")
    assert [c["id"] for c in call(r, "GET", "/contacts")["data"]] == ids[::-1]
    assert [c["id"] for c in call(r, "GET", "/contacts", segment_id=segment)["data"]] == [ids[2], ids[0]]
    assert [c["id"] for c in call(r, "GET", f"/segments/{segment}/contacts")["data"]] == [ids[2], ids[0]]
    assert "object" not in call(r, "GET", "/contacts")["data"][0]  # list items carry no marker (recorded)
    with pytest.raises(ApiError):
        r.call("GET", "/contacts", {"segment_id": "nope"}, None)


def test_deleting_unknown_contacts_and_segments_answers_deleted_as_recorded() -> None:
    r = Resend()
    assert call(r, "DELETE", "/segments/0000") == {"object": "segment", "id": "0000", "deleted": True}
    assert call(r, "DELETE", "/contacts/no@x.io") == {"object": "contact", "contact": "no@x.io", "deleted": True}
    contact = call(r, "POST", "/contacts", {"email": "a@x.io"})["id"]
    assert call(r, "DELETE", "/contacts/A@x.io")["contact"] == contact  # the id, even when given the email
    call(r, "POST", "/contacts", {"email": "a@x.io"})
    assert call(r, "DELETE", "/audiences/any/contacts/A@x.io")["contact"] == "A@x.io"  # legacy: as given
    assert error(r, "GET", "/contacts/a@x.io") == (404, "not_found")


def test_membership_and_event_answers_as_described() -> None:
    r = Resend()
    segment = call(r, "POST", "/segments", {"name": "S"})["id"]
    contact = call(r, "POST", "/contacts", {"email": "a@x.io"})["id"]
    status, added, _ = r.call("POST", f"/contacts/a@x.io/segments/{segment}", {}, None)
    assert (status, added) == (200, {"object": "contact_segment", "contact_id": contact, "segment_id": segment})
    removed = call(r, "DELETE", f"/contacts/a@x.io/segments/{segment}")
    assert removed == {**added, "deleted": True}
    status, sent, _ = r.call("POST", "/events/send", {}, {"event": "signed_up", "email": "a@x.io"})
    assert (status, sent) == (202, {"object": "event", "event": "signed_up"})
    both = {"event": "e", "email": "a@x.io", "contact_id": contact}
    assert error(r, "POST", "/events/send", both) == (422, "validation_error")


def test_legacy_audience_paths_act_on_segments_and_global_contacts() -> None:
    r = Resend()
    created = call(r, "POST", "/audiences", {"name": "Old"})
    assert created["object"] == "audience"
    audience = created["id"]
    assert call(r, "GET", f"/segments/{audience}")["name"] == "Old"  # one id space
    contact = call(r, "POST", f"/audiences/{audience}/contacts", {"email": "a@x.io"})["id"]
    assert [s["id"] for s in call(r, "GET", "/contacts/a@x.io/segments")["data"]] == [audience]
    call(r, "PATCH", f"/audiences/{audience}/contacts/{contact}", {"first_name": "Ada"})
    assert call(r, "GET", f"/audiences/{audience}/contacts/a@x.io")["first_name"] == "Ada"
    assert [c["id"] for c in call(r, "GET", f"/audiences/{audience}/contacts")["data"]] == [contact]
    assert call(r, "GET", "/audiences")["data"][0]["id"] == audience
    assert call(r, "DELETE", f"/audiences/{audience}")["object"] == "audience"
    assert call(r, "DELETE", f"/audiences/{audience}/contacts/a@x.io")["deleted"] is True
    assert error(r, "GET", "/contacts/a@x.io") == (404, "not_found")
    assert error(r, "POST", f"/audiences/{audience}/contacts", {"email": "b@x.io"}) == (404, "not_found")


def test_a_literal_path_segment_beats_a_parameter() -> None:
    routes = Routes()
    routes.add("GET", "/things/{id}")(lambda world, thing, **_: (200, {"by": "id", "thing": thing}))
    routes.add("GET", "/things/special")(lambda world, **_: (200, {"by": "literal"}))
    router = Router([routes])
    for path, by in (["things", "special"], "literal"), (["things", "other"], "id"):
        template, route = router.match("GET", path)
        assert route is not None
        assert route.template == template
        assert route.handler(None, *([] if by == "literal" else ["other"]))[1]["by"] == by
    assert router.match("DELETE", ["things", "x"]) == ("/things/{id}", None)  # answered 405
    assert route_template("/audiences/a1/contacts/a%40x.io") == "/audiences/{id}/contacts/{contact_id}"
    assert route_template("/nothing/a%40x.io") == "/nothing/{id}"  # unknown routes are masked too
