"""Counting a segment's members for the console's segment picker: page by page through the emulator's
rules (no HTTP: a MockTransport hands each request to resend_emulator.state), bounded in calls."""

from __future__ import annotations

import json

import httpx

from connector.resend import ResendClient
from resend_emulator.state import ApiError, Resend


def client_over(team: Resend, calls: list[str]) -> ResendClient:
    def handle(request: httpx.Request) -> httpx.Response:
        calls.append(str(request.url.params))
        body = json.loads(request.content) if request.content else None
        try:
            status, answer, _ = team.call(request.method, request.url.path, dict(request.url.params), body)
        except ApiError as error:
            return httpx.Response(error.status, json=error.body())
        return httpx.Response(status, json=answer)

    return ResendClient(httpx.MockTransport(handle), base_url="https://api.resend.test",
                        headers={"Authorization": "Bearer re_k"}, sleep=lambda s: None)  # fmt: skip


def test_members_are_counted_past_the_first_page_within_the_pages_allowed() -> None:
    team = Resend()
    try:
        segment = team.call("POST", "/segments", {}, {"name": "Newsletter"})[1]["id"]
        for n in range(250):
            team.call("POST", "/contacts", {}, {"email": f"p{n}@example.com", "segments": [{"id": segment}]})
        calls: list[str] = []
        client = client_over(team, calls)
        assert client.count_segment_members(segment, max_pages=10) == (250, False, 3)
        assert calls[0] == "limit=100"
        assert calls[1].startswith("limit=100&after=")  # the cursor: the last id of the page before
        assert client.count_segment_members(segment, max_pages=2) == (200, True, 2)  # shown as "200+"
        assert client.count_segment_members(segment, max_pages=3) == (250, False, 3)
    finally:
        team.close()
