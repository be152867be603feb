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


@pytest.mark.parametrize(("ceiling", "shown"), [(None, "cap unset"), (3.0, "cap 3.0/s")])
def test_the_connection_page_shows_the_cap_the_share_and_the_quota_in_force(ceiling: float | None, shown: str) -> None:
    from connector.ops.check import CheckResult

    quota = {"announced_per_second": 5.0, "share": 0.8, "cap_per_second": ceiling, "other_per_second": 0.0,
             "requests_per_second": 4.0}  # fmt: skip
    page = _templates.get_template("connection.html").render(
        key=CheckResult("resend", True, "ok"), domains=[], domains_problem="", rate_limit=quota, ceiling=ceiling,
        share=0.8, last_delivery=None, settings_json="{}", operator=None, csrf="", path="/",
    )  # fmt: skip
    assert f"{shown} (resend.max_requests_per_second), share 0.8" in page
    assert "requests_per_second=4.0" in page


def test_a_failed_action_logs_its_path_without_the_contacts_email(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The access log is off because URLs name contacts; console.request_failed logged the path whole.
    from structlog.testing import capture_logs

    from connector.console import contacts
    from connector.errors import ConnectorError

    def down(*_: Any) -> str:
        raise ConnectorError("Kafka did not answer")

    monkeypatch.setattr(contacts, "_sync_again", down)
    client.cookies[COOKIE] = signed_in(client)
    auth = client._transport.app.state.auth  # type: ignore[attr-defined]
    csrf = auth.csrf_token(auth.operator(_cookie_request(client.cookies[COOKIE])))
    with capture_logs() as lines:
        answer = client.post("/contacts/jane.doe@example.com/sync-again", data={"csrf": csrf})
    assert answer.status_code == 502
    failed = [line for line in lines if line["event"] == "console.request_failed"]
    assert failed
    assert "jane.doe@example.com" not in repr(failed)


def _cookie_request(cookie: str) -> Any:
    from starlette.requests import Request

    scope = {"type": "http", "method": "GET", "path": "/", "query_string": b"",
             "headers": [(b"cookie", f"{COOKIE}={cookie}".encode())]}  # fmt: skip
    return Request(scope)


def test_an_email_with_a_slash_opens_its_page_and_syncs_again(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    # RFC 5322 allows "/" in the local part; a link that kept it split the path (404 before {email:path}).
    from connector.console import contacts
    from connector.console.web import pathpart
    from connector.state.store import SyncRecord

    seen: list[str] = []
    record = SyncRecord("sales/ann@example.com", True, None, "synced", None, frozenset(), frozenset())

    def contact(_: Any, email: str) -> dict[str, Any]:
        seen.append(email)
        return {"record": record, "status": "synced", "history": [], "segments": [],
                "consent": {"unsubscribed": None, "at": None, "source": "", "topics": {}}}  # fmt: skip

    monkeypatch.setattr(contacts, "_contact", contact)
    monkeypatch.setattr(contacts, "_sync_again", lambda _, email: seen.append(email) or "queued")
    client.cookies[COOKIE] = signed_in(client)
    link = pathpart("sales/ann@example.com")
    assert link == "sales%2Fann@example.com"
    page = client.get(f"/contacts/{link}")
    assert page.status_code == 200
    assert f'action="/contacts/{link}/sync-again"' in page.text  # the form posts where it came from
    auth = client._transport.app.state.auth  # type: ignore[attr-defined]
    csrf = auth.csrf_token(auth.operator(_cookie_request(client.cookies[COOKIE])))
    answer = client.post(f"/contacts/{link}/sync-again", data={"csrf": csrf})
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/contacts/{link}?note=queued"
    assert seen == ["sales/ann@example.com", "sales/ann@example.com"]
    rendered = _templates.get_template("contacts.html").render(failed=[], recent=["sales/ann@example.com"], path="/",
                                                               operator=None, csrf="", settings=None)  # fmt: skip
    assert f'href="/contacts/{link}"' in rendered


def _app(**console: Any) -> Iterator[Client]:
    settings = load_settings(
        redis={"url": "redis://127.0.0.1:9/0"},
        resend={"base_url": "http://127.0.0.1:9", "api_key": "re_unit_key_0123"},
        console={"access_token": TOKEN, **console},
    )
    with ExitStack() as stack:
        yield Client(build_app(Backend(settings, stack), Authenticator(settings.console)))


def test_signing_out_revokes_the_session_so_a_copied_cookie_stops_working(client: Client) -> None:
    cookie = signed_in(client)
    client.cookies[COOKIE] = cookie
    assert client.get("/connection/nothing-here").status_code == 404  # signed in: routed, not refused
    auth = client._transport.app.state.auth  # type: ignore[attr-defined]
    csrf = auth.csrf_token(auth.operator(_cookie_request(cookie)))
    assert client.post("/logout", data={"csrf": csrf}).status_code == 303
    copy = Client(client._transport.app)  # type: ignore[attr-defined]
    copy.cookies[COOKIE] = cookie  # what someone who copied the cookie still holds
    assert copy.get("/contacts").status_code == 401
    assert copy.get("/contacts", headers={"accept": "text/html"}).headers["location"] == "/login"
    client.cookies[COOKIE] = signed_in(client)  # a new sign-in works again
    assert client.get("/connection/nothing-here").status_code == 404


def test_signing_out_without_the_csrf_token_is_refused_and_keeps_the_session(client: Client) -> None:
    # Another site's form could otherwise sign the operator out (a cross-site POST carries no token).
    cookie = signed_in(client)
    client.cookies[COOKIE] = cookie
    assert client.post("/logout").status_code == 403
    assert client.post("/logout", data={"csrf": "0" * 40}).status_code == 403
    assert client.get("/connection/nothing-here").status_code == 404  # still signed in
    page = client.get("/contacts", headers={"accept": "text/html"})
    auth = client._transport.app.state.auth  # type: ignore[attr-defined]
    csrf = auth.csrf_token(auth.operator(_cookie_request(cookie)))
    assert f'name="csrf" value="{csrf}"' in page.text.split('action="/logout"', 1)[1].split("</form>", 1)[0]


def test_wrong_tokens_are_throttled_per_client_address() -> None:
    client = next(_app(login_failures_per_minute=3))
    for _ in range(3):
        assert client.post("/login", data={"name": "m", "token": "guess-guess-guess"}).status_code == 401
    throttled = client.post("/login", data={"name": "m", "token": TOKEN})  # even the right one, this minute
    assert throttled.status_code == 429
    assert 0 < int(throttled.headers["retry-after"]) <= 61
    assert COOKIE not in throttled.cookies
    bearer = client.get("/contacts", headers={"authorization": f"Bearer {TOKEN}"})
    assert bearer.status_code == 429
    other = Client(client._transport.app)  # type: ignore[attr-defined]
    other._transport = httpx.ASGITransport(app=client._transport.app, client=("10.0.0.9", 4000))  # type: ignore[attr-defined]
    assert other.post("/login", data={"name": "n", "token": TOKEN}).status_code == 303  # another address


def test_wrong_bearer_tokens_count_as_failed_sign_ins() -> None:
    client = next(_app(login_failures_per_minute=2))
    for _ in range(2):
        assert client.get("/contacts", headers={"authorization": "Bearer wrong-token-0000"}).status_code == 401
    assert client.get("/contacts", headers={"authorization": f"Bearer {TOKEN}"}).status_code == 429


@pytest.mark.parametrize(
    ("console", "secure"),
    [({}, False), ({"host": "0.0.0.0"}, True), ({"host": "10.1.2.3", "secure_cookie": False}, False),
     ({"secure_cookie": True}, True)],
)  # fmt: skip
def test_the_cookie_is_secure_unless_bound_to_loopback_or_told_otherwise(console: dict[str, Any], secure: bool) -> None:
    client = next(_app(**console))
    answer = client.post("/login", data={"name": "n", "token": TOKEN})  # over http, as behind a TLS proxy
    assert ("secure" in answer.headers["set-cookie"].lower()) is secure


@pytest.mark.parametrize(("remote", "images"), [(False, "img-src data:;"), (True, "img-src https: data:;")])
def test_the_preview_loads_remote_images_only_when_configured(
    remote: bool, images: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = next(_app(preview_remote_images=remote))
    backend = client._transport.app.state.backend  # type: ignore[attr-defined]
    monkeypatch.setattr(backend.resend, "get_broadcast", lambda _: {"html": '<img src="https://t.example/p.gif">'})
    client.cookies[COOKIE] = signed_in(client)
    policy = client.get("/broadcasts/b1/preview").headers["content-security-policy"]
    assert images in policy
    assert "sandbox" in policy


def test_the_create_forms_html_is_previewed_before_any_draft_without_resend(client: Client) -> None:
    client.cookies[COOKIE] = signed_in(client)
    auth = client._transport.app.state.auth  # type: ignore[attr-defined]
    csrf = auth.csrf_token(auth.operator(_cookie_request(client.cookies[COOKIE])))
    files = {"html": ("news.html", b"<h1>News</h1><script>alert(1)</script>", "text/html")}
    assert client.post("/broadcasts/new/preview", files=files).status_code == 403  # no CSRF token
    answer = client.post("/broadcasts/new/preview", data={"csrf": csrf}, files=files)  # Resend is unreachable here
    assert answer.status_code == 200
    assert answer.text.startswith("<h1>News</h1>")
    policy = answer.headers["content-security-policy"]
    assert "sandbox" in policy
    assert "script-src" not in policy  # default-src 'none': the file's script never runs
    assert "img-src data:;" in policy
    form = _templates.get_template("broadcasts.html").render(
        broadcasts=[], segments=[], count_calls=0, path="/broadcasts", operator=None, csrf="x",
        settings=load_settings(console={"access_token": TOKEN}),
    )  # fmt: skip
    assert 'formaction="/broadcasts/new/preview" formtarget="draft-preview"' in form
    assert '<iframe class="preview" name="draft-preview" sandbox' in form
