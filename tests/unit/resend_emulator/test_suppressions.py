"""The suppression list without HTTP: one entry per address, batches, origins from bounces and complaints."""

from __future__ import annotations

import pytest

from resend_emulator.state import ApiError, Resend


def call(r: Resend, method: str, path: str, body: dict | None = None, **query: str) -> dict:
    status, answer, _ = r.call(method, path, dict(query), body)
    assert status in (200, 201)
    return answer


def refused(r: Resend, method: str, path: str, body: dict | None = None) -> int:
    with pytest.raises(ApiError) as caught:
        r.call(method, path, {}, body)
    return caught.value.status


@pytest.fixture
def team() -> Resend:
    r = Resend()
    yield r
    r.close()


def test_add_get_and_delete_by_id_or_email(team: Resend) -> None:
    added = call(team, "POST", "/suppressions", {"email": "A@x.io"})
    assert added["object"] == "suppression"
    assert call(team, "POST", "/suppressions", {"email": "a@x.io"})["id"] == added["id"]  # one per address
    got = call(team, "GET", "/suppressions/a%40x.io")
    assert (got["id"], got["origin"], got.get("source_id")) == (added["id"], "manual", None)
    assert call(team, "GET", f"/suppressions/{added['id']}")["email"] == "A@x.io"
    assert call(team, "DELETE", "/suppressions/a@x.io") == {"object": "suppression", "id": added["id"], "deleted": True}
    assert refused(team, "GET", "/suppressions/a@x.io") == 404
    assert refused(team, "DELETE", "/suppressions/a@x.io") == 404
    assert refused(team, "POST", "/suppressions", {}) == 422
    assert refused(team, "POST", "/suppressions", {"email": "not-an-email"}) == 422


def test_batches_are_bounded_and_all_or_nothing(team: Resend) -> None:
    assert refused(team, "POST", "/suppressions/batch/add", {"emails": []}) == 422
    assert refused(team, "POST", "/suppressions/batch/add", {"emails": [f"u{i}@x.io" for i in range(101)]}) == 422
    assert refused(team, "POST", "/suppressions/batch/add", {"emails": ["a@x.io", "bad"]}) == 422
    assert team.snapshot()["suppressions"] == []
    added = call(team, "POST", "/suppressions/batch/add", {"emails": [f"u{i}@x.io" for i in range(100)]})["data"]
    assert len(added) == 100
    assert refused(team, "POST", "/suppressions/batch/remove", {"emails": ["u1@x.io"], "ids": [added[0]["id"]]}) == 422
    removed = call(team, "POST", "/suppressions/batch/remove", {"ids": [added[0]["id"], "unknown"]})["data"]
    assert removed == [{"object": "suppression", "id": added[0]["id"], "deleted": True}]
    call(team, "POST", "/suppressions/batch/remove", {"emails": ["u1@x.io", "U2@x.io"]})
    listed = call(team, "GET", "/suppressions", limit="100")
    assert len(listed["data"]) == 97
    assert listed["data"][0]["email"] == "u99@x.io"  # newest first


def test_bounces_and_complaints_suppress_with_their_origin(team: Resend) -> None:
    act = team.inspect
    assert (
        act("POST", "contact-event", {"email": "soft@x.io", "action": "bounce", "bounce_type": "Transient"})[0] == 200
    )
    assert act("POST", "contact-event", {"email": "hard@x.io", "action": "bounce"})[0] == 200
    assert act("POST", "contact-event", {"email": "angry@x.io", "action": "complaint"})[0] == 200
    entries = {s["email"]: s for s in team.snapshot()["suppressions"]}
    assert set(entries) == {"hard@x.io", "angry@x.io"}  # a transient bounce does not suppress
    assert entries["hard@x.io"]["origin"] == "bounce"
    assert entries["hard@x.io"]["source_id"]
    assert [s["email"] for s in call(team, "GET", "/suppressions", origin="complaint")["data"]] == ["angry@x.io"]
    with pytest.raises(ApiError):
        team.call("GET", "/suppressions", {"origin": "spam"}, None)
