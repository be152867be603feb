"""Broadcasts without HTTP: drafts, sending to a segment, who receives it, what can change when."""

from __future__ import annotations

import pytest

from resend_emulator.state import ApiError, Resend


def call(r: Resend, method: str, path: str, body: dict | None = None, **query: str) -> dict:
    status, answer, _ = r.call(method, path, dict(query), body)
    assert status in (200, 201)
    return answer


def refused(r: Resend, method: str, path: str, body: dict | None = None, **query: str) -> int:
    with pytest.raises(ApiError) as caught:
        r.call(method, path, dict(query), body)
    return caught.value.status


@pytest.fixture
def team() -> Resend:
    r = Resend()
    r.inspect("POST", "imports", {"paused": True})  # background jobs run when the test says
    yield r
    r.close()


def draft(r: Resend, segment: str, **fields: object) -> str:
    body = {"segment_id": segment, "from": "Acme <news@acme.io>", "subject": "Hi", "html": "<p>Hi</p>", **fields}
    return call(r, "POST", "/broadcasts", body)["id"]


def test_create_rules_and_draft_lifecycle(team: Resend) -> None:
    segment = call(team, "POST", "/segments", {"name": "all"})["id"]
    assert refused(team, "POST", "/broadcasts", {"from": "a@x.io", "subject": "s"}) == 422
    assert refused(team, "POST", "/broadcasts", {"segment_id": segment, "subject": "s"}) == 422
    assert refused(team, "POST", "/broadcasts", {"segment_id": "nope", "from": "a@x.io", "subject": "s"}) == 404
    body = {"segment_id": segment, "from": "a@x.io", "subject": "s", "scheduled_at": "in 1 hour"}
    assert refused(team, "POST", "/broadcasts", body) == 422  # scheduled_at only with send
    broadcast = draft(team, segment, name="November")
    got = call(team, "GET", f"/broadcasts/{broadcast}")
    assert (got["status"], got["from"], got["name"], got["segment_id"]) == (
        "draft",
        "Acme <news@acme.io>",
        "November",
        segment,
    )
    call(team, "PATCH", f"/broadcasts/{broadcast}", {"subject": "Hello"})
    assert call(team, "GET", f"/broadcasts/{broadcast}")["subject"] == "Hello"
    listed = call(team, "GET", "/broadcasts")["data"]
    assert [b["id"] for b in listed] == [broadcast]
    assert call(team, "DELETE", f"/broadcasts/{broadcast}") == {"id": broadcast, "object": "broadcast", "deleted": True}
    assert refused(team, "GET", f"/broadcasts/{broadcast}") == 404


def test_send_reaches_subscribed_members_and_skips_suppressed(team: Resend) -> None:
    segment = call(team, "POST", "/segments", {"name": "all"})["id"]
    news = call(team, "POST", "/topics", {"name": "News", "default_subscription": "opt_in"})["id"]
    for email in ("a@x.io", "b@x.io", "c@x.io", "d@x.io"):
        call(team, "POST", "/contacts", {"email": email, "segments": [{"id": segment}]})
    call(team, "POST", "/contacts", {"email": "outside@x.io"})
    call(team, "PATCH", "/contacts/b@x.io", {"unsubscribed": True})
    call(team, "PATCH", "/contacts/c@x.io/topics", {"topics": [{"id": news, "subscription": "opt_out"}]})
    call(team, "POST", "/suppressions", {"email": "d@x.io"})
    broadcast = draft(team, segment, topic_id=news)
    assert call(team, "POST", f"/broadcasts/{broadcast}/send") == {"id": broadcast}
    assert call(team, "GET", f"/broadcasts/{broadcast}")["status"] == "queued"
    assert refused(team, "POST", f"/broadcasts/{broadcast}/send") == 422
    assert refused(team, "PATCH", f"/broadcasts/{broadcast}", {"subject": "x"}) == 422
    team.world.runtime.jobs.run_pending()
    sent = call(team, "GET", f"/broadcasts/{broadcast}")
    assert sent["status"] == "sent"
    assert sent["sent_at"] is not None
    assert [r["email"] for r in call(team, "GET", f"/broadcasts/{broadcast}/recipients", type="sent")["data"]] == [
        "a@x.io"
    ]
    suppressed = call(team, "GET", f"/broadcasts/{broadcast}/recipients", type="suppressed")["data"]
    assert [r["email"] for r in suppressed] == ["d@x.io"]
    assert call(team, "GET", f"/broadcasts/{broadcast}/recipients", type="opened")["data"] == []
    assert refused(team, "GET", f"/broadcasts/{broadcast}/recipients") == 422
    assert refused(team, "DELETE", f"/broadcasts/{broadcast}") == 422  # sent: no longer deletable


def test_send_true_at_creation_and_scheduled(team: Resend) -> None:
    segment = call(team, "POST", "/segments", {"name": "all"})["id"]
    now = draft(team, segment, send=True)
    later = draft(team, segment, send=True, scheduled_at="2030-01-01T00:00:00Z")
    assert call(team, "GET", f"/broadcasts/{now}")["status"] == "queued"
    scheduled = call(team, "GET", f"/broadcasts/{later}")
    assert (scheduled["status"], scheduled["scheduled_at"]) == ("scheduled", "2030-01-01T00:00:00Z")
    team.world.runtime.jobs.run_pending()
    assert call(team, "GET", f"/broadcasts/{now}")["status"] == "sent"
    assert call(team, "DELETE", f"/broadcasts/{later}")["deleted"] is True  # deleting cancels the schedule
