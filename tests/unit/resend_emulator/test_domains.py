"""The team's sending domains without HTTP (and the server's seed): list, create, verify, delete."""

from __future__ import annotations

import httpx
import pytest

from resend_emulator import EmulatorServer
from resend_emulator.state import ApiError, Resend


@pytest.fixture
def team() -> Resend:
    r = Resend()
    yield r
    r.close()


def test_a_created_domain_is_listed_then_verified_and_deleted(team: Resend) -> None:
    status, created, _ = team.call("POST", "/domains", {}, {"name": "Mail.Acme.test", "region": "eu-west-1"})
    assert status == 201
    assert (created["name"], created["status"], created["region"]) == ("mail.acme.test", "not_started", "eu-west-1")
    assert {r["record"] for r in created["records"]} == {"SPF", "DKIM"}
    listed = team.call("GET", "/domains", {}, None)[1]
    assert listed["object"] == "list"
    assert listed["has_more"] is False
    assert [d["name"] for d in listed["data"]] == ["mail.acme.test"]
    assert "records" not in listed["data"][0]  # list items carry no DNS records (ListDomainsItem)
    assert team.call("POST", f"/domains/{created['id']}/verify", {}, None)[1] == {
        "object": "domain",
        "id": created["id"],
    }
    got = team.call("GET", f"/domains/{created['id']}", {}, None)[1]
    assert (got["object"], got["status"]) == ("domain", "verified")
    assert team.call("DELETE", f"/domains/{created['id']}", {}, None)[1]["deleted"] is True
    assert team.call("GET", "/domains", {}, None)[1]["data"] == []


def test_bad_names_and_duplicates_are_refused(team: Resend) -> None:
    team.call("POST", "/domains", {}, {"name": "acme.test"})
    for body in ({"name": "not a domain"}, {}, {"name": "acme.test"}, {"name": "b.test", "region": "mars-1"}):
        with pytest.raises(ApiError) as caught:
            team.call("POST", "/domains", {}, body)
        assert caught.value.status == 422
    with pytest.raises(ApiError) as missing:
        team.call("GET", "/domains/nope", {}, None)
    assert missing.value.status == 404


def test_the_server_seeds_its_verified_domains_again_after_a_reset() -> None:
    server = EmulatorServer(api_keys=("re_k",), domains=("acme.test",)).start()
    try:
        for _ in range(2):
            answer = httpx.get(server.url + "/domains", headers={"authorization": "Bearer re_k"}).json()
            assert [(d["name"], d["status"]) for d in answer["data"]] == [("acme.test", "verified")]
            httpx.post(server.url + "/_emulator/reset")
        added = httpx.post(server.url + "/_emulator/domains", json={"name": "news.acme.test", "status": "pending"})
        assert added.status_code == 201
        assert httpx.post(server.url + "/_emulator/domains", json={"name": "news.acme.test"}).status_code == 400
    finally:
        server.stop()
