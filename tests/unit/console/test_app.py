"""The console's HTTP surface without servers: sign-in, refusals, CSRF, headers, escaping.

Redis and Resend are never reached here: the routes under test refuse before they would be."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import anyio
import httpx
import pytest

from connector.console import Authenticator, Backend, build_app
from connector.console.auth import COOKIE
from connector.console.web import _templates
from connector.pipeline.history import HistoryEntry
from connector.settings import load_settings

TOKEN = "unit-console-token-123"
XSS = "<img src=x onerror=alert(1)>"


class Client:
    """Requests to the ASGI app in-process (httpx's ASGI transport), keeping the session cookie."""

    def __init__(self, app: Any) -> None:
        self._transport = httpx.ASGITransport(app=app)
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        async def go() -> httpx.Response:
            async with httpx.AsyncClient(transport=self._transport, base_url="http://console",
                                         cookies=self.cookies) as client:  # fmt: skip
                return await client.request(method, path, **kwargs)

        return anyio.run(go)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)


@pytest.fixture
def client() -> Iterator[Client]:
    settings = load_settings(
        redis={"url": "redis://127.0.0.1:9/0"},
        resend={"base_url": "http://127.0.0.1:9", "api_key": "re_unit_key_0123"},
        console={"access_token": TOKEN},
    )
    with ExitStack() as stack:
        app = build_app(Backend(settings, stack), Authenticator(settings.console))
        yield Client(app)


def signed_in(client: Client) -> str:
    answer = client.post("/login", data={"name": "Jane Ops", "token": TOKEN})
    assert answer.status_code == 303
    cookie = answer.headers["set-cookie"]
    assert "httponly" in cookie.lower()
    assert "samesite=strict" in cookie.lower()
    return answer.cookies[COOKIE]


def test_pages_send_a_browser_to_the_login_form_and_anything_else_away(client: Client) -> None:
    assert client.get("/contacts", headers={"accept": "text/html"}).headers["location"] == "/login"
    assert client.get("/contacts").status_code == 401
    assert client.post("/resume", data={"csrf": "x"}).status_code == 401
    assert client.get("/dead-letters", headers={"authorization": "Bearer " + TOKEN[:-1]}).status_code == 401


def test_a_wrong_token_is_refused_and_never_echoed(client: Client) -> None:
    answer = client.post("/login", data={"name": "x", "token": "guess-guess-guess"})
    assert answer.status_code == 401
    assert "guess-guess-guess" not in answer.text
    assert COOKIE not in answer.cookies


def test_a_post_without_the_sessions_csrf_token_is_refused(client: Client) -> None:
    client.cookies[COOKIE] = signed_in(client)
    assert client.post("/resume").status_code == 403
    assert client.post("/resume", data={"csrf": "0" * 40}).status_code == 403
    assert client.post("/contacts/a@example.com/sync-again", data={}).status_code == 403
    assert client.post("/dead-letters/replay", data={"mode": "real"}).status_code == 403


@pytest.mark.parametrize("path", ["/login", "/static/console.css", "/contacts"])
def test_every_answer_carries_the_security_headers(client: Client, path: str) -> None:
    headers = client.get(path).headers
    policy = headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["cache-control"] == "no-store"


def test_values_from_events_are_text_in_the_page() -> None:
    entry = HistoryEntry(0.0, "identify", "applied", "", XSS, "events", 0, 1, 1, ("CreateContact",),
                         {"first_name": XSS})  # fmt: skip
    page = _templates.get_template("contact.html").render(
        email=XSS, status="synced", history=[entry], segments=[XSS], operator=None, csrf="", path="/",
        record=type("R", (), {"last_error": XSS, "last_sync": None, "last_outcome": None, "known": True,
                              "user_ids": [XSS]})(),
        consent={"unsubscribed": None, "at": None, "source": "", "topics": {XSS: ("opt_in", 0.0, XSS)}},
    )  # fmt: skip
    assert "<img" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page


def test_a_url_setting_with_a_password_shows_without_it() -> None:
    from connector.console.connection import _no_userinfo

    shown = _no_userinfo({"kafka": {"schema_registry_url": "https://reg:s3cret@registry.example:8081/x", "n": [1]}})
    assert shown == {"kafka": {"schema_registry_url": "https://reg:**********@registry.example:8081/x", "n": [1]}}
