"""broadcast create/send/list/show against httpx.MockTransport: the real request-building code,
Resend's answers played by a small stateful handler."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from connector.ops import broadcast as ops
from connector.resend import ResendClient


class FakeBroadcasts:
    def __init__(self) -> None:
        self.requests: list[tuple[str, str, Any]] = []
        self.broadcasts: dict[str, dict[str, Any]] = {}
        self.refuse_key = False

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        self.requests.append((request.method, request.url.path, body))
        if self.refuse_key:
            return httpx.Response(401, json={"statusCode": 401, "name": "restricted_api_key", "message": "no"})
        path = request.url.path
        if path == "/segments":
            return httpx.Response(200, json={"object": "list", "has_more": False,
                                             "data": [{"id": "seg-1", "name": "Newsletter"}]})  # fmt: skip
        if path == "/broadcasts" and request.method == "POST":
            broadcast_id = f"b-{len(self.broadcasts) + 1}"
            self.broadcasts[broadcast_id] = {"id": broadcast_id, "status": "queued" if body.get("send") else "draft",
                                             **body}  # fmt: skip
            return httpx.Response(201, json={"id": broadcast_id, "object": "broadcast"})
        if path == "/broadcasts":
            return httpx.Response(
                200, json={"object": "list", "has_more": False, "data": list(self.broadcasts.values())}
            )
        if path.endswith("/send"):
            self.broadcasts[path.split("/")[2]]["status"] = "sent"
            return httpx.Response(200, json={"id": path.split("/")[2]})
        if path.endswith("/recipients"):
            kind = request.url.params["type"]
            data = [{"id": "r1", "email": "ada@example.com"}] if kind in {"sent", "delivered"} else []
            return httpx.Response(200, json={"object": "list", "has_more": False, "data": data})
        broadcast = self.broadcasts.get(path.split("/")[-1])
        if broadcast is None:
            return httpx.Response(404, json={"statusCode": 404, "name": "not_found", "message": "Broadcast not found"})
        return httpx.Response(200, json=broadcast)


@pytest.fixture
def fake() -> FakeBroadcasts:
    return FakeBroadcasts()


@pytest.fixture
def client(fake: FakeBroadcasts) -> ResendClient:
    return ResendClient(httpx.MockTransport(fake), base_url="http://resend.test", headers={"User-Agent": "t"},
                        max_attempts=1)  # fmt: skip


def run(action: str, client: ResendClient, **args: Any) -> tuple[int, str]:
    out = io.StringIO()
    code = ops._ACTIONS[action](client, argparse.Namespace(**args), out)
    return code, out.getvalue()


def test_create_a_draft_for_a_segment_by_name_then_send_and_show(
    client: ResendClient, fake: FakeBroadcasts, tmp_path: Path
) -> None:
    html = tmp_path / "mail.html"
    html.write_text("<p>Hello</p>", encoding="utf-8")
    code, text = run("create", client, segment="Newsletter", sender="Acme <news@acme.com>", subject="News",
                     html=html, name="November", topic=None, send=False)  # fmt: skip
    assert (code, text) == (0, "b-1 draft\n")
    assert fake.requests[-1] == ("POST", "/broadcasts", {"segment_id": "seg-1", "from": "Acme <news@acme.com>",
                                 "subject": "News", "html": "<p>Hello</p>", "name": "November"})  # fmt: skip
    assert run("send", client, id="b-1", scheduled_at=None) == (0, "b-1 sending\n")
    code, text = run("show", client, id="b-1")
    assert "status:        sent" in text
    assert "sent:          1" in text
    assert "bounced:       0" in text
    code, text = run("list", client)
    assert text.startswith("b-1  sent  November")


def test_an_unknown_segment_is_named_and_nothing_is_created(
    client: ResendClient, fake: FakeBroadcasts, tmp_path: Path
) -> None:
    html = tmp_path / "m.html"
    html.write_text("x", encoding="utf-8")
    code, text = run("create", client, segment="Nope", sender="a@b.c", subject="s", html=html, name=None,
                     topic=None, send=True)  # fmt: skip
    assert (code, text) == (1, "broadcast: no segment named 'Nope'\n")
    assert [m for m, p, _ in fake.requests if p == "/broadcasts"] == []


def test_a_sending_only_key_is_named(client: ResendClient, fake: FakeBroadcasts) -> None:
    fake.refuse_key = True
    out = io.StringIO()
    code = ops.run_broadcast(_settings(), argparse.Namespace(action="list"), out, resend=client)
    assert (code, out.getvalue()) == (
        1,
        "broadcast: the API key is a sending-only key; broadcasts need a full-access key\n",
    )


def _settings() -> Any:
    from connector.settings import load_settings

    return load_settings(resend={"base_url": "http://resend.test"})
