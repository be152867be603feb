"""Topics and contact topic subscriptions without HTTP."""

from __future__ import annotations

import json

import pytest

from resend_emulator.state import ApiError, Resend


def call(r: Resend, method: str, path: str, body: dict | None = None) -> dict:
    status, answer, _ = r.call(method, path, {}, body)
    assert status in (200, 201)
    return answer


def refused(r: Resend, method: str, path: str, body: dict | None = None) -> tuple[int, str]:
    with pytest.raises(ApiError) as caught:
        r.call(method, path, {}, body)
    return caught.value.status, caught.value.name


@pytest.fixture
def team() -> Resend:
    r = Resend()
    yield r
    r.close()


def test_create_rules_and_default_subscription_fixed_at_creation(team: Resend) -> None:
    assert refused(team, "POST", "/topics", {"default_subscription": "opt_in"}) == (422, "missing_required_field")
    assert refused(team, "POST", "/topics", {"name": "News"}) == (422, "missing_required_field")
    assert refused(team, "POST", "/topics", {"name": "n" * 51, "default_subscription": "opt_in"})[0] == 422
    assert refused(team, "POST", "/topics", {"name": "News", "default_subscription": "maybe"})[0] == 422
    assert (
        refused(team, "POST", "/topics", {"name": "News", "default_subscription": "opt_in", "visibility": "x"})[0]
        == 422
    )
    created = call(team, "POST", "/topics", {"name": "n" * 50, "default_subscription": "opt_out"})
    assert set(created) == {"object", "id"}
    topic = created["id"]
    assert refused(team, "PATCH", f"/topics/{topic}", {"default_subscription": "opt_in"})[0] == 422
    call(team, "PATCH", f"/topics/{topic}", {"name": "Product news", "description": "Monthly", "visibility": "public"})
    got = call(team, "GET", f"/topics/{topic}")
    assert (got["object"], got["name"], got["default_subscription"]) == ("topic", "Product news", "opt_out")
    assert (got["description"], got["visibility"]) == ("Monthly", "public")
    assert call(team, "DELETE", f"/topics/{topic}") == {"object": "topic", "id": topic, "deleted": True}
    assert refused(team, "GET", f"/topics/{topic}") == (404, "not_found")


def test_contact_subscriptions_default_explicit_and_deleted_topics(team: Resend) -> None:
    news = call(team, "POST", "/topics", {"name": "News", "default_subscription": "opt_in"})["id"]
    promos = call(team, "POST", "/topics", {"name": "Promos", "default_subscription": "opt_out"})["id"]
    call(team, "POST", "/contacts", {"email": "a@x.io", "topics": [{"id": promos, "subscription": "opt_in"}]})
    listed = {t["name"]: t["subscription"] for t in call(team, "GET", "/contacts/a@x.io/topics")["data"]}
    assert listed == {"News": "opt_in", "Promos": "opt_in"}
    answer = call(team, "PATCH", "/contacts/a@x.io/topics", {"topics": [{"id": news, "subscription": "opt_out"}]})
    assert answer["object"] == "contact_topics"
    assert answer["topics"] == [{"id": news, "subscription": "opt_out"}]
    call(team, "PATCH", "/contacts/a@x.io", {"topics": [{"id": promos, "subscription": "opt_out"}]})
    assert team.snapshot()["contacts"][0]["topics"] == {"News": "opt_out", "Promos": "opt_out"}
    call(team, "DELETE", f"/topics/{news}")
    assert [t["name"] for t in call(team, "GET", "/contacts/a@x.io/topics")["data"]] == ["Promos"]
    assert team.snapshot()["contacts"][0]["topics"] == {"Promos": "opt_out"}


def test_bad_topic_fields_refuse_the_whole_write(team: Resend) -> None:
    news = call(team, "POST", "/topics", {"name": "News", "default_subscription": "opt_in"})["id"]
    assert refused(
        team, "POST", "/contacts", {"email": "a@x.io", "topics": [{"id": "nope", "subscription": "opt_in"}]}
    ) == (
        404,
        "not_found",
    )
    assert team.snapshot()["contacts"] == []  # nothing half-created
    assert (
        refused(team, "POST", "/contacts", {"email": "a@x.io", "topics": [{"id": news, "subscription": "yes"}]})[0]
        == 422
    )
    call(team, "POST", "/contacts", {"email": "a@x.io"})
    assert refused(team, "PATCH", "/contacts/a@x.io/topics", {})[1] == "missing_required_field"
    assert refused(team, "PATCH", "/contacts/a@x.io/topics", {"topics": "News"})[0] == 422
    assert refused(team, "GET", "/contacts/b@x.io/topics") == (404, "not_found")


def test_imports_apply_topics(team: Resend) -> None:
    promos = call(team, "POST", "/topics", {"name": "Promos", "default_subscription": "opt_out"})["id"]
    team.inspect("POST", "imports", {"paused": True})
    topics = json.dumps([{"id": promos, "subscription": "opt_in"}])
    call(team, "POST", "/contacts/imports", {"file": b"email\na@x.io\n", "topics": topics})
    bad = json.dumps([{"id": "nope", "subscription": "opt_in"}])
    assert refused(team, "POST", "/contacts/imports", {"file": b"email\na@x.io\n", "topics": bad})[0] == 404
    team.world.runtime.jobs.run_pending()
    assert team.snapshot()["contacts"][0]["topics"] == {"Promos": "opt_in"}
